"""Warm ``./sandbox up`` to its banner, against a bare uvicorn start of the FastAPI hello-world to
its first reply, in the same run.

    .venv/bin/python bench/startup.py [--quick] [--out FILE]

Runs ``./sandbox up`` on free loopback ports with a fresh data directory and times it from launch
to the ``vnsandbox ... is up`` line (every service healthy); then stops it (SIGTERM). The first
start of the run is a warm-up and not counted (left out with ``--quick``). The anchor is the time
from launching uvicorn with the hello-world to its first HTTP reply; mockpass's documented start
(~1 s) is in the note for comparison.

Row: ``startup.up`` (≤ 3 s to the banner).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _harness import FASTAPI_HELLO, ROOT, free_port, start_app, stop
from _table import Options, Row, Target, standalone

NAMES = ["startup.up"]
BANNER = " is up "
TIMEOUT_S = 120.0


def time_up() -> float:
    """Seconds from launching ``./sandbox up`` to its banner."""
    data = Path(tempfile.mkdtemp(prefix="startup-bench-"))
    ports = [
        f"--{name}-port={free_port()}" for name in ("gateway", "identity", "dossier", "payment", "console", "desk")
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(ROOT / "sandbox"), "up", *ports, f"--data-dir={data}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if BANNER in line:
                return time.perf_counter() - started
            if time.perf_counter() - started > TIMEOUT_S:
                break
        raise RuntimeError("./sandbox up did not print its banner")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data, ignore_errors=True)


def time_hello() -> float:
    """Seconds from launching uvicorn with the hello-world to its first reply."""
    port = free_port()
    started = time.perf_counter()
    proc = start_app(FASTAPI_HELLO, port)
    try:
        while time.perf_counter() - started < TIMEOUT_S:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=2):
                    return time.perf_counter() - started
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("the hello-world did not answer")
    finally:
        stop([proc])


def rows(opts: Options) -> list[Row]:
    if not opts.wants_any(NAMES):
        return []
    if not opts.quick:
        time_up()  # warm-up: bytecode compiled, uv environment checked
        time_hello()
    up = time_up()
    hello = time_hello()
    target = Target("<=", 3.0, on="figure", unit="s")
    return [
        Row(
            "startup.up",
            "warm ./sandbox up to the banner (6 processes)",
            up,
            "s",
            hello,
            "bare uvicorn hello to first reply",
            target,
            "wall clock",
            note="mockpass: ~1 s (documented)",
        )
    ]


if __name__ == "__main__":
    sys.exit(standalone(rows, __doc__))
