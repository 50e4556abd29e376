"""What every benchmark in ``bench/`` needs: free loopback ports, uvicorn processes started and
stopped, an aiohttp load generator, a local receiver for notices and webhooks, and a throw-away
PostgreSQL database. The scripts import it as ``_harness`` (they run as ``python bench/<name>.py``,
which puts ``bench/`` first on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 60) -> None:
    """Wait until ``url`` answers (any status), or raise ``TimeoutError``."""
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
    base = [sys.executable, "-m", "uvicorn", "--no-access-log", "--log-level", "warning"]
    quiet = {"SANDBOX_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        base + args, cwd=ROOT, env={**os.environ, **quiet, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
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
) -> dict[str, float]:
    """Closed-loop load on one request: a second of warm-up, then ``seconds`` measured.

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

        warm = time.perf_counter() + 1.0
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
