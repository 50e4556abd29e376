"""Test support: per-tenant clients, database backends and real sandbox processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import event

from launcher.topology import HTTP_PROTOCOL
from vnsandbox.db import RawStatement
from vnsandbox.service import in_background_worker

ROOT = Path(__file__).resolve().parent.parent


def new_tenant() -> str:
    return "t-" + uuid.uuid4().hex[:16]


class TenantClient:
    """A client bound to one tenant: every call carries ``X-Sandbox-Tenant``."""

    def __init__(self, client: TestClient | httpx.Client, tenant: str) -> None:
        self.client = client
        self.tenant = tenant
        self.app = getattr(client, "app", None)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {"x-sandbox-tenant": self.tenant, **(kwargs.pop("headers", None) or {})}
        return self.client.request(method, url, headers=headers, **kwargs)

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", url, **kw)

    def patch(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", url, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)


def wait_for(
    predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition", interval: float = 0.05
) -> Any:
    """Poll until ``predicate()`` is truthy and return its value (waiting on background work, e.g.
    the outbox worker's deliveries, not timing it); ``what`` names it in the failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def deliveries(client: TenantClient, **params: Any) -> list[dict[str, Any]]:
    """The tenant's outbox deliveries (``GET /_sandbox/deliveries``, filtered by ``params``)."""
    r = client.get("/_sandbox/deliveries", params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["deliveries"]
    return items


def shared_mode(client: TenantClient, monkeypatch: Any, callback_allow: str = "") -> TenantClient:
    """``client``'s in-process service as configured in the shared mode, for the rules that read the
    mode per request (the outbound-URL policy); restored by ``monkeypatch`` after the test."""
    assert client.app is not None
    monkeypatch.setattr(client.app.state.settings, "mode", "shared")
    monkeypatch.setattr(client.app.state.settings, "callback_allow", callback_allow)
    return client


class PostgresDatabases:
    """Creates throwaway databases on the test PostgreSQL server and drops them after."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    def create(self, label: str) -> str:
        name = f"vnsb_{label}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def drop_all(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                data: dict[str, Any] = json.loads(resp.read())
                return data
        except Exception as exc:
            last = exc
            time.sleep(0.2)
    raise TimeoutError(f"{url} not ready: {last}")


def wait_port(port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port}")


@dataclass
class SandboxProcesses:
    """``vnsandbox up`` running on free ports with its own data directory."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    #: More arguments for ``vnsandbox up`` (``--host 0.0.0.0``).
    up_args: list[str] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def gateway(self) -> str:
        return self.url("gateway")

    def start(self) -> SandboxProcesses:
        # Ports chosen before (the shared mode's public URL names the gateway's) are kept.
        names = ("gateway", "identity", "dossier", "payment", "console", "desk")
        self.ports = {n: self.ports.get(n) or free_port() for n in names}
        args = [sys.executable, "-m", "vnsandbox", "up", "--data-dir", str(self.data_dir), *self.up_args]
        for name, port in self.ports.items():
            args += [f"--{name}-port", str(port)]
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + 180  # a bound for a failed start only: loaded CI machines start slowly
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("vnsandbox up exited:\n" + "".join(self.output))
            self.output.append(line)
            if "Press Ctrl-C to stop." in line:
                break
        else:
            self.proc.kill()  # a sandbox that did not come up is not left behind
            self.proc.wait()
            raise TimeoutError("vnsandbox up did not come up:\n" + "".join(self.output))
        # Keep draining output so the children never block on a full pipe.
        import threading

        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        return self

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def pid_of(self, service: str) -> int:
        pid: int = wait_http(self.url(service) + "/_sandbox/health")["pid"]
        return pid

    def stop(self, timeout: float = 20) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        drainer = getattr(self, "_drainer", None)
        if drainer is not None:
            drainer.join(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@dataclass
class ServiceProcess:
    """One service as ``python -m uvicorn --factory services.<name>.app:create_app`` on a free port,
    with its own environment (database URL, settings) and a log file to read after."""

    name: str
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    #: ``module:factory`` (default: the service's own); ``gateway.app:create_app`` for a gateway.
    factory: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        factory = self.factory or f"services.{self.name}.app:create_app"
        args = [sys.executable, "-m", "uvicorn", "--factory", factory]
        args += ["--port", str(self.port), "--log-level", "warning", "--http", HTTP_PROTOCOL]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=log)
        try:
            wait_http(self.url + "/_sandbox/health")
        except BaseException:
            self.stop()  # a process that did not come up is not left behind
            raise
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def kill9(self) -> None:
        """SIGKILL: the process dies mid-work, as after a crash."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tracebacks(self) -> str:
        """The log if it holds a traceback, else empty."""
        text = self.output()
        return text if "Traceback" in text else ""


@contextmanager
def statements(client: TenantClient) -> Iterator[list[str]]:
    """The SQL statements the service runs inside the block: through its engine, through the
    driver (``RawStatement``, SQLite's statements from the event loop) and on PostgreSQL through
    its event-loop reader (``Database.reader``)."""
    db = client.app.state.db  # type: ignore[union-attr]
    seen: list[str] = []

    def note(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if not in_background_worker():  # an outbox round or a purge, meanwhile: not the request's
            seen.append(sql)

    raw_first = RawStatement.first

    def noted_raw(statement: RawStatement, cursor: Any, given: Any) -> Any:
        seen.append(statement.sql)
        return raw_first(statement, cursor, given)

    RawStatement.first = noted_raw  # type: ignore[method-assign]
    reader = db.reader
    if reader is not None:
        fetch_one = reader.fetch_one

        async def noted(sql: str, params: Any) -> Any:
            seen.append(sql)
            return await fetch_one(sql, params)

        reader.fetch_one = noted
    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
        RawStatement.first = raw_first  # type: ignore[method-assign]
        if reader is not None:
            del reader.fetch_one
