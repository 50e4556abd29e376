"""``vnsandbox up`` in a subprocess on free loopback ports, for one test session."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

READY_LINE = "Press Ctrl-C to stop."
#: Every process `vnsandbox up` starts (launcher.topology.STARTED; tests/test_pytest_plugin.py keeps them equal).
PROCESSES = ("gateway", "identity", "dossier", "payment", "console", "desk")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stop_with_parent() -> None:
    """The sandbox gets SIGTERM if the test run dies without its teardown (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class EmbeddedSandbox:
    """The whole sandbox (gateway and three services) on SQLite in ``data_dir``."""

    def __init__(self, data_dir: Path, start_timeout_s: float = 180.0, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.start_timeout_s = start_timeout_s
        self.env = env or {}
        self.ports: dict[str, int] = {}
        self.output: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def start(self) -> EmbeddedSandbox:
        self.ports = {name: free_port() for name in PROCESSES}
        args = [sys.executable, "-m", "vnsandbox", "up", "--data-dir", str(self.data_dir)]
        for name, port in self.ports.items():
            args += [f"--{name}-port", str(port)]
        self.proc = subprocess.Popen(
            args,
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=_stop_with_parent,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout_s  # a bound for a failed start only
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait()
                raise RuntimeError("vnsandbox up exited during start-up:\n" + "".join(self.output))
            self.output.append(line)
            if READY_LINE in line:
                threading.Thread(target=self._drain, daemon=True).start()
                return self
        self.stop()
        raise TimeoutError("vnsandbox up did not come up:\n" + "".join(self.output))

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
