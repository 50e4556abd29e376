"""Start each process of ``vnsandbox up`` as a fork of the supervisor, which imported the shared
modules once before.

Every process imports the same framework (FastAPI, Starlette, Pydantic, SQLAlchemy, uvicorn,
Alembic for its migrations, ``vnsandbox``'s foundation): about a third of a second of CPU each,
six times over on a machine with two cores. The supervisor imports them once
(:func:`preload`) and forks; each child then imports only its own app and runs the same uvicorn
command line as ``python -m uvicorn`` would (:func:`launcher.topology.uvicorn_args`). The
topology is unchanged: one process per service, each on its own port, in its own session.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from typing import NoReturn

from launcher.topology import Process, uvicorn_args

#: Imported by the supervisor before it forks: what most of the processes import at start.
#: Per service modules are left to the children, which import them in parallel.
PRELOAD = (
    "uvicorn.main",
    "uvicorn.lifespan.on",
    "uvicorn.loops.auto",
    "vnsandbox.http11",
    "fastapi",
    "fastapi.responses",
    "fastapi.templating",
    "pydantic_settings",
    "sqlalchemy.orm",
    "httpx",
    "jwt",
    "vnsandbox.service",
    "vnsandbox.db",
    "vnsandbox.outbox",
    "vnsandbox.calls",
    # Every service migrates its database at start (vnsandbox.db imports Alembic only then).
    "alembic.command",
    "alembic.config",
    "alembic.runtime.migration",
)


def fork_supported() -> bool:
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def preload() -> None:
    """Import :data:`PRELOAD` (a module that fails to import is left to the child, which reports it)."""
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


class ForkedProcess:
    """A forked child with the part of :class:`subprocess.Popen`'s interface the supervisor uses."""

    def __init__(self, pid: int, args: list[str]) -> None:
        self.pid = pid
        self.args = args
        self.returncode: int | None = None
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        with self._lock:
            if self.returncode is None:
                try:
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:  # reaped elsewhere: gone all the same
                    self.returncode = -1
                else:
                    if pid:
                        self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(0.01)
        return code

    def send_signal(self, sig: int) -> None:
        # Not yet reaped, so the pid is still this child's (never another process's).
        with self._lock:
            if self.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def set_parent_death_signal() -> None:
    """Children get SIGTERM if the supervisor dies, so no process is left behind."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _name_process(name: str) -> None:
    """The child's name in ``ps -o comm`` and ``top`` (its command line stays the supervisor's)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(15, f"vnsb-{name}"[:15].encode(), 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def _run_child(proc: Process, host: str, port: int, env: dict[str, str], parent: int) -> NoReturn:
    code = 1
    try:
        os.setsid()  # its own session, as start_new_session=True: Ctrl-C reaches the supervisor only
        set_parent_death_signal()
        if os.getppid() != parent:  # the supervisor died before the line above
            os._exit(1)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)  # the supervisor's handlers; uvicorn installs its own
        os.environ.clear()
        os.environ.update(env)
        _name_process(proc.name)
        from uvicorn.main import main as uvicorn_main

        # The command line of ``python -m uvicorn``, parsed by uvicorn itself.
        uvicorn_main.main(args=uvicorn_args(proc, host, port), prog_name="uvicorn", standalone_mode=False)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # reported; the child exits with 1
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)  # never the supervisor's clean-up (atexit, finally blocks) in a child


def fork_server(proc: Process, host: str, port: int, env: dict[str, str]) -> ForkedProcess:
    """Fork a child that runs ``proc``'s uvicorn server; call before the supervisor starts threads."""
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        _run_child(proc, host, port, env, parent)
    return ForkedProcess(pid, ["uvicorn", *uvicorn_args(proc, host, port)])
