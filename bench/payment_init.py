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
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from _harness import free_port, rate, receiver, start_app, start_factory, stop, wait_http

SECRET = "bench-partner-secret"
PARTNER = "BENCH"
TENANT = "bench"
INIT_ORDER = [
    "LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "SoTien", "MaTienTe", "LoaiHinhThanhToan",
    "MaKenhThanhToan", "MaThietBi", "NgonNgu", "MaNganHang", "ThoiGianGD", "ThongTinGiaoDich", "Ip",
]  # fmt: skip
QUERY_ORDER = ["LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD"]


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

    async def once() -> int:
        method, url, body = make()
        async with session.request(method, url, json=body) as resp:
            await resp.read()
            return 1 if resp.status == 200 else 0

    return await rate(seconds, concurrency, once)


async def main(seconds: float, concurrency: int, notices: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="payment-bench-"))
    ports = {n: free_port() for n in ("hello", "payment", "gateway")}
    payment_url = f"http://127.0.0.1:{ports['payment']}"
    procs = [
        start_app("bench.payment_hello:app", ports["hello"]),
        start_factory(
            "services.payment.app:create_app",
            ports["payment"],
            {"PAYMENT_DATABASE_URL": f"sqlite:///{tmp}/payment.db", "SANDBOX_DATA_DIR": str(tmp)},
        ),
        start_factory(
            "gateway.app:create_app",
            ports["gateway"],
            {"GATEWAY_PAYMENT_URL": payment_url, "SANDBOX_DATA_DIR": str(tmp)},
        ),
    ]
    hello = f"http://127.0.0.1:{ports['hello']}/hello"
    gateway = f"http://127.0.0.1:{ports['gateway']}/paygov/v1/payments"
    try:
        async with receiver("/notice", notices, {"MaLoi": "00", "MoTaLoi": "OK"}) as notice:
            for url in (
                hello,
                payment_url + "/_sandbox/health",
                f"http://127.0.0.1:{ports['gateway']}/_sandbox/health",
            ):
                wait_http(url)
            headers = {"X-Sandbox-Tenant": TENANT}
            connector = aiohttp.TCPConnector(limit=concurrency * 2)
            async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
                partner = {"secret": SECRET, "notice_url": notice.url}
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
                    await asyncio.wait_for(notice.everything.wait(), 30)
                finished = time.perf_counter()
    finally:
        stop(procs)

    received = notice.received
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
