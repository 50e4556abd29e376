"""Warm ``vnsandbox up`` to its banner, beside four bare FastAPI processes started the same way.

    .venv/bin/python bench/startup.py [--runs 3] [--before DIR] [--cold-bytecode]

The figure: seconds from starting ``vnsandbox up`` (gateway + identity + dossier + payment on
free loopback ports, SQLite in a data directory that a first, unmeasured run created: warm)
until it prints its banner; the median of ``--runs``. The anchor, measured in the same run:
four bare FastAPI hello-world uvicorn processes started at once, until all four answer — what
four Python web processes cost on this machine before any sandbox code. ``--before DIR``
measures another checkout of the sandbox (``PYTHONPATH=DIR``) the same way, side by side;
``--cold-bytecode`` runs everything without the installed bytecode (``PYTHONPYCACHEPREFIX`` to
an empty directory, ``PYTHONDONTWRITEBYTECODE=1``), as on a virtualenv synced without
``--compile-bytecode``. Target: ≤ 3 s. Bounded: about (runs + 1) × (figure + anchor) per tree.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _harness import ROOT, free_port

TARGET_S = 3.0
NAMES = ("gateway", "identity", "dossier", "payment")


def up_seconds(tree: Path, data_dir: Path, env: dict[str, str]) -> float:
    """Seconds from starting ``vnsandbox up`` in ``tree`` until its banner."""
    args = [sys.executable, "-m", "launcher", "up", "--data-dir", str(data_dir)]
    for name in NAMES:
        args += [f"--{name}-port", str(free_port())]
    child_env = {**os.environ, **env, "PYTHONPATH": str(tree), "SANDBOX_LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=tree, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if " is up " in line:
                return time.perf_counter() - started
        raise RuntimeError(f"vnsandbox up in {tree} exited (code {proc.wait()}) without its banner")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def anchor_seconds(env: dict[str, str]) -> float:
    """Seconds until four bare FastAPI uvicorn processes started at once all answer."""
    ports = [free_port() for _ in NAMES]
    base = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "bench.payment_hello:app", "--port"]
    started = time.perf_counter()
    procs = [
        subprocess.Popen([*base, str(p)], cwd=ROOT, env={**os.environ, **env}, stderr=subprocess.DEVNULL) for p in ports
    ]
    try:
        waiting = set(ports)
        while waiting:
            for port in sorted(waiting):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=2):
                        waiting.discard(port)
                except OSError:
                    pass
            time.sleep(0.02)
        return time.perf_counter() - started
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another checkout of the sandbox to measure side by side")
    parser.add_argument("--cold-bytecode", action="store_true", help="ignore installed bytecode (see above)")
    args = parser.parse_args()
    trees = ({"before": args.before.resolve()} if args.before else {}) | {"now": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        cold = {"PYTHONPYCACHEPREFIX": f"{tmp}/no-bytecode", "PYTHONDONTWRITEBYTECODE": "1"}
        env = cold if args.cold_bytecode else {}
        label = "cold bytecode" if args.cold_bytecode else "installed bytecode"
        print(f"warm vnsandbox up to its banner, median of {args.runs} ({label})")
        for name, tree in trees.items():
            data_dir = Path(tmp) / name
            up_seconds(tree, data_dir, env)  # creates and migrates the databases: the runs after are warm
            ups, anchors = [], []
            for _ in range(args.runs):
                ups.append(up_seconds(tree, data_dir, env))
                anchors.append(anchor_seconds(env))
            up, anchor = statistics.median(ups), statistics.median(anchors)
            mark = "✓" if up <= TARGET_S else "✗"
            print(
                f"{name:6s} up {up:5.2f} s   4 bare FastAPI processes {anchor:5.2f} s   ratio {up / anchor:4.1f}×   "
                f"target ≤ {TARGET_S:.0f} s {mark}",
                flush=True,
            )


if __name__ == "__main__":
    main()
