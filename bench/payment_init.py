"""INIT and QUERY throughput through the gateway, against a bare uvicorn hello-world in the same run,
and the rate at which result notices are delivered.

    .venv/bin/python bench/payment_init.py [--seconds 5] [--concurrency 16]

Starts its own processes on free loopback ports (hello-world, payment service on a temporary
SQLite file, gateway), loads each for ``--seconds`` with an aiohttp client, prints requests
per second and the ratios to the hello-world measured side by side. Then opens ``--notices``
payments that complete at INIT (magic bank ``SANDBOX_OK``) and measures how fast their
notices reach a local receiver. Absolute numbers depend on the machine; the ratios are what
to compare. Bounded: about 4 × seconds + start-up, well under 60 s by default.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-partner-secret"
PARTNER = "BENCH"
TENANT = "bench"
INIT_ORDER = [
    "LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "SoTien", "MaTienTe", "LoaiHinhThanhToan",
    "MaKenhThanhToan", "MaThietBi", "NgonNgu", "MaNganHang", "ThoiGianGD", "ThongTinGiaoDich", "Ip",
]  # fmt: skip
QUERY_ORDER = ["LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.2)
    raise TimeoutError(url)


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    base = [sys.executable, "-m", "uvicorn", "--no-access-log", "--log-level", "warning"]
    quiet = {"SANDBOX_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        base + args, cwd=ROOT, env={**os.environ, **quiet, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def sign(fields: dict[str, Any], order: list[str]) -> dict[str, Any]:
    text = "|".join("" if fields.get(f) is None else str(fields[f]) for f in order)
    return {**fields, "MaXacThuc": hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()}


def init_message(reference: str, bank: str | None = None) -> dict[str, Any]:
    return sign(
        {
            "LoaiBanTin": "INIT",
            "PhienBan": "1.0.6",
            "MaDoiTac": PARTNER,
            "MaThamChieu": reference,
            "SoTien": 150000,
            "MaTienTe": "VND",
            "LoaiHinhThanhToan": "PAY",
            "MaKenhThanhToan": "WEB",
            "MaThietBi": "BENCH",
            "NgonNgu": "vi-VN",
            "MaNganHang": bank,
            "ThoiGianGD": "20260915103000",
            "ThongTinGiaoDich": "Nộp lệ phí (benchmark)",
            "Ip": "127.0.0.1",
        },
        INIT_ORDER,
    )


def query_message(reference: str) -> dict[str, Any]:
    fields = {"LoaiBanTin": "QUERY", "PhienBan": "1.0.6", "MaDoiTac": PARTNER, "MaThamChieu": reference}
    return sign(fields | {"ThoiGianGD": "20260915103500"}, QUERY_ORDER)


async def load(
    session: aiohttp.ClientSession, seconds: float, concurrency: int, make: Callable[[], tuple[str, str, Any]]
) -> tuple[float, int]:
    """Requests per second of ``make()`` (method, url, json) for ``seconds``; also the error count."""
    done = 0
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            method, url, body = make()
            async with session.request(method, url, json=body) as resp:
                await resp.read()
                if resp.status == 200:
                    done += 1
                else:
                    errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started), errors


async def main(seconds: float, concurrency: int, notices: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="payment-bench-"))
    ports = {n: free_port() for n in ("hello", "payment", "gateway")}
    payment_url = f"http://127.0.0.1:{ports['payment']}"
    procs = [
        start(["bench.payment_hello:app", "--port", str(ports["hello"])], {}),
        start(
            ["--factory", "services.payment.app:create_app", "--port", str(ports["payment"])],
            {"PAYMENT_DATABASE_URL": f"sqlite:///{tmp}/payment.db", "SANDBOX_DATA_DIR": str(tmp)},
        ),
        start(
            ["--factory", "gateway.app:create_app", "--port", str(ports["gateway"])],
            {"GATEWAY_PAYMENT_URL": payment_url, "SANDBOX_DATA_DIR": str(tmp)},
        ),
    ]
    hello = f"http://127.0.0.1:{ports['hello']}/hello"
    gateway = f"http://127.0.0.1:{ports['gateway']}/paygov/v1/payments"
    received: list[float] = []
    all_received = asyncio.Event()

    async def notice(request: web.Request) -> web.Response:
        await request.read()
        received.append(time.perf_counter())
        if len(received) >= notices:
            all_received.set()
        return web.json_response({"MaLoi": "00", "MoTaLoi": "OK"})

    app = web.Application()
    app.router.add_post("/notice", notice)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    receiver_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", receiver_port).start()
    try:
        for url in (hello, payment_url + "/_sandbox/health", f"http://127.0.0.1:{ports['gateway']}/_sandbox/health"):
            wait_http(url)
        headers = {"X-Sandbox-Tenant": TENANT}
        connector = aiohttp.TCPConnector(limit=concurrency * 2)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
            partner = {"secret": SECRET, "notice_url": f"http://127.0.0.1:{receiver_port}/notice"}
            async with session.put(f"{payment_url}/_sandbox/partners/{PARTNER}", json=partner) as r:
                r.raise_for_status()
            counter = itertools.count()
            run = uuid.uuid4().hex[:6]
            refs: list[str] = []

            def init_call() -> tuple[str, str, Any]:
                ref = f"B{run}-{next(counter)}"
                refs.append(ref)
                return "POST", gateway, init_message(ref)

            await load(session, 1.0, concurrency, lambda: ("GET", hello, None))  # warm-up
            hello_rps, _ = await load(session, seconds, concurrency, lambda: ("GET", hello, None))
            init_rps, init_err = await load(session, seconds, concurrency, init_call)
            sample = itertools.cycle(refs[: min(len(refs), 500)])
            query_rps, query_err = await load(
                session, seconds, concurrency, lambda: ("POST", gateway, query_message(next(sample)))
            )
            hello_again, _ = await load(session, seconds / 2, concurrency, lambda: ("GET", hello, None))

            started = time.perf_counter()
            sem = asyncio.Semaphore(concurrency)

            async def paid(i: int) -> None:
                async with sem, session.post(gateway, json=init_message(f"N{run}-{i}", "SANDBOX_OK")) as r:
                    await r.read()

            await asyncio.gather(*(paid(i) for i in range(notices)))
            opened = time.perf_counter()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_received.wait(), 30)
            finished = time.perf_counter()
    finally:
        await runner.cleanup()
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)

    baseline = (hello_rps + hello_again) / 2
    print(f"concurrency {concurrency}, {seconds:.0f} s per measurement, loopback, one uvicorn worker per process")
    print(f"{'bare FastAPI hello-world':36s} {hello_rps:9.0f} req/s (again at the end: {hello_again:.0f})")
    for name, rps, errs in (("INIT", init_rps, init_err), ("QUERY", query_rps, query_err)):
        label = f"{name} through the gateway"
        print(f"{label:36s} {rps:9.0f} req/s  ratio {rps / baseline:5.2f}  errors {errs}")
    got = len(received)
    span = (max(received) - started) if received else float("nan")
    print(
        f"notices: {got}/{notices} delivered; {got / span:.0f} notices/s from the first INIT to the last notice "
        f"({finished - opened:.2f} s after the last INIT answered)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--notices", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.concurrency, args.notices))
