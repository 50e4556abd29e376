"""What every benchmark in ``bench/`` needs: free loopback ports, uvicorn processes started and
stopped, load from ``wrk`` (1 thread, the options' connections) or, without it, from an aiohttp
client, a local receiver for notices and webhooks, and a throw-away PostgreSQL database. The
scripts import it as ``_harness`` (they run as ``python bench/<name>.py``, which puts ``bench/``
first on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from _table import Options
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 180) -> None:
    """Wait until ``url`` answers (any status), or raise ``TimeoutError`` (a bound for a failed start:
    a busy machine takes long to start a service)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.2)
    raise TimeoutError(url)


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A quiet uvicorn process in the project root: ``args`` after ``uvicorn``, ``env`` over ours."""
    return spawn([sys.executable, "-m", "uvicorn", "--no-access-log", "--log-level", "warning", *args], env)


def spawn(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A quiet process in the project root, ``env`` over ours."""
    quiet = {"SANDBOX_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, **quiet, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def start_factory(factory: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """An app factory (``services.dossier.app:create_app``) on ``port``."""
    return start(["--factory", factory, "--port", str(port)], env)


def start_app(app: str, port: int) -> subprocess.Popen[bytes]:
    """A module-level ASGI app (the hello-world baselines) on ``port``."""
    return start([app, "--port", str(port)], {})


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate every process, then wait for each."""
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(10)


async def load(
    url: str,
    headers: dict[str, str],
    seconds: float,
    concurrency: int,
    method: str = "GET",
    data: bytes | None = None,
    warmup: float = 1.0,
) -> dict[str, float]:
    """Closed-loop load on one request: ``warmup`` seconds not counted, then ``seconds`` measured.

    Returns requests per second (200 replies), p50/p99 latency in ms and the count of other replies.
    """
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker(deadline: float, record: bool) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                async with session.request(method, url, data=data) as resp:
                    await resp.read()
                    ok = resp.status == 200
                if record:
                    if ok:
                        latencies.append(time.perf_counter() - t0)
                    else:
                        errors += 1

        warm = time.perf_counter() + warmup
        await asyncio.gather(*(worker(warm, False) for _ in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    return {
        "rps": n / elapsed,
        "p50_ms": latencies[n // 2] * 1000 if n else float("nan"),
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else float("nan"),
        "errors": errors,
    }


def print_latency_table(results: dict[str, dict[str, float]], width: int) -> None:
    """The rows ``load`` returned, one a case, with a header."""
    print(f"{'case':<{width}} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in results.items():
        print(f"{name:<{width}} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>7.0f}")


async def rate(seconds: float, concurrency: int, once: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    """``concurrency`` workers call ``once()`` until ``seconds`` pass, without warm-up.

    ``once`` returns the units it got done (requests, dossiers), 0 for a failed call. Returns
    units per second and the count of failed calls.
    """
    done = 0
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            units = await once()
            if units:
                done += units
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started), errors


@dataclass
class Receiver:
    """A local HTTP endpoint that notes when each POST arrives."""

    url: str
    expected: int
    received: list[float] = field(default_factory=list)
    everything: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def receiver(path: str, expected: int, reply: dict[str, Any]) -> AsyncIterator[Receiver]:
    """Listen on a free loopback port for POSTs to ``path``, answering ``reply``; ``everything`` is
    set once ``expected`` have arrived."""
    app = web.Application()
    runner = web.AppRunner(app, access_log=None)
    port = free_port()
    got = Receiver(f"http://127.0.0.1:{port}{path}", expected)

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        got.received.append(time.perf_counter())
        if len(got.received) >= expected:
            got.everything.set()
        return web.json_response(reply)

    app.router.add_post(path, handle)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield got
    finally:
        await runner.cleanup()


@contextmanager
def postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new database on the server of ``admin_url``, dropped afterwards; yields its URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running(procs: Sequence[subprocess.Popen[bytes]], ready: Sequence[str]) -> Iterator[None]:
    """Wait for every URL of ``ready`` to answer, then yield; the processes are stopped afterwards."""
    try:
        for url in ready:
            wait_http(url)
        yield
    finally:
        stop(list(procs))


#: The bare FastAPI hello-world every HTTP row is compared with (one uvicorn worker).
FASTAPI_HELLO = "bench.hello_fastapi:app"


@contextmanager
def fastapi_hello() -> Iterator[str]:
    """A bare FastAPI hello-world under uvicorn on a free port; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/hello"
    with running([start_app(FASTAPI_HELLO, port)], [url]):
        yield url


@dataclass
class Load:
    """Replies per second of one measured window (2xx only) and the count of the others."""

    rps: float
    errors: int
    tool: str
    total: int

    @property
    def problem(self) -> str | None:
        """More than 1 % of the requests failed or were refused: the figure does not count."""
        return f"{self.errors} of {self.total} replies not 2xx or failed" if self.errors > self.total / 100 else None


def wrk_available(opts: Options) -> bool:
    return opts.use_wrk and shutil.which("wrk") is not None


def measure(
    opts: Options,
    url: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: bytes | None = None,
    *,
    aiohttp_only: bool = False,
) -> Load:
    """One closed-loop window on one request, warm-up excluded: wrk when present (one thread,
    ``opts.connections`` connections), else (or with ``aiohttp_only``) the aiohttp client."""
    if wrk_available(opts) and not aiohttp_only:
        return load_wrk(url, headers or {}, opts.seconds, opts.connections, method, body, warmup=opts.warmup)
    r = asyncio.run(load(url, headers or {}, opts.seconds, opts.connections, method, body, warmup=opts.warmup))
    errors = int(r["errors"])
    return Load(r["rps"], errors, aiohttp_tool(opts), round(r["rps"] * opts.seconds) + errors)


def aiohttp_tool(opts: Options) -> str:
    return f"aiohttp client, {opts.connections} conns"


def wrk_tool(opts: Options) -> str:
    return f"wrk -t1 -c{opts.connections}"


def load_wrk(
    url: str,
    headers: dict[str, str],
    seconds: float,
    connections: int,
    method: str = "GET",
    body: bytes | None = None,
    warmup: float = 1.0,
) -> Load:
    """``wrk -t1 -c<connections>``: a warm-up run (not counted), then ``seconds`` measured
    (wrk counts whole seconds). A request with a body is described by a Lua script."""
    args = ["wrk", "-t1", f"-c{connections}"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    script = None
    if method != "GET" or body is not None:
        lua = f'wrk.method = "{method}"\n'
        if body is not None:
            lua += f"wrk.body = [==[{body.decode()}]==]\n"
        fd, script = tempfile.mkstemp(suffix=".lua", prefix="vnsb-bench-")
        with os.fdopen(fd, "w") as f:
            f.write(lua)
        args += ["-s", script]
    try:
        subprocess.run([*args, f"-d{max(1, round(warmup))}s", url], capture_output=True, check=True)
        out = subprocess.run(
            [*args, f"-d{max(1, round(seconds))}s", url], capture_output=True, text=True, check=True
        ).stdout
    finally:
        if script:
            os.unlink(script)
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    span = float(total.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[total.group(3)]
    bad = int(non2xx.group(1)) if non2xx else 0
    failed = sum(int(g) for g in sockets.groups()) if sockets else 0
    count = int(total.group(1))
    return Load((count - bad) / span, bad + failed, f"wrk -t1 -c{connections}", count)


@contextmanager
def scratch(name: str) -> Iterator[Path]:
    """A temporary directory for one benchmark's files, removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix=f"vnsb-bench-{name}-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def database(opts: Options, tmp: Path, name: str) -> Iterator[tuple[str, str]]:
    """A database for one benchmark and its label: a throw-away database on the PostgreSQL server
    of ``opts.postgres`` when there is one, else a SQLite file in ``tmp``."""
    if opts.postgres:
        with postgres_database(opts.postgres, f"vnsb_bench_{name}") as url:
            yield url, "PostgreSQL"
    else:
        yield f"sqlite:///{tmp}/{name}.db", "SQLite"
