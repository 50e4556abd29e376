"""DongBoHoSoMC batch throughput through the gateway, as a ratio to raw inserts of the same rows
into the same database, on SQLite and PostgreSQL; and the webhook delivery rate.

    .venv/bin/python bench/dossier_batch.py [--seconds 5] [--concurrency 4] [--webhooks 300]
                                            [--postgres postgresql://postgres@127.0.0.1:55432/postgres]

For each database (SQLite file; PostgreSQL when ``--postgres`` or ``VNSB_TEST_POSTGRES_URL``
gives a server, on a throw-away database) it starts a dossier service and a gateway on free
loopback ports, then:
1. posts batches of 100 valid dossiers (DongBoHoSoMC, bearer = the development unit's API
   key) through the gateway for ``--seconds`` with ``--concurrency`` clients: dossiers/s;
2. inserts the same kind of rows (a ``dossier`` row and its ``dossier_event`` row, JSON
   data, one transaction per 100) straight into the same database with SQLAlchemy
   ``executemany`` for ``--seconds``: rows/s;
3. prints the ratio of 1 to 2, measured side by side in one run.
Then, on SQLite, files ``--webhooks`` citizen dossiers on the portal and measures how fast
their signed webhooks reach a local receiver. Absolute numbers depend on the machine; the
ratios are what to compare. Bounded: about 2 × seconds per database + start-up (< 60 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from _harness import ROOT, free_port, postgres_database, rate, receiver, start_factory, stop, wait_http
from sqlalchemy import insert

sys.path.insert(0, str(ROOT))

from services.dossier.models import Dossier, DossierEvent
from vnsandbox.db import make_engine

TENANT = "bench"
UNIT = "000.00.01.H22"
API_KEY = "dvcqg-dev-unit-key"
BATCH = 100


# Per-request logging off in both processes: it is not what is measured here.
QUIET = {"DOSSIER_LOG_REQUESTS": "false", "GATEWAY_LOG_REQUESTS": "false"}


class Codes:
    """Unique MaHoSo values: 99,999 serials per day, then the next day."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.counter = itertools.count()

    def next(self) -> str:
        n = next(self.counter)
        day = date(2024, 1, 1) + timedelta(days=n // 99_999)
        return f"{self.prefix}-{day:%y%m%d}-{n % 99_999 + 1:05d}"


def record(code: str) -> dict[str, Any]:
    return {
        "MaHoSo": code,
        "MaTTHC": "1.001193",
        "TenTTHC": "Thủ tục đăng ký khai sinh",
        "KenhThucHien": 1,
        "ChuHoSo": "Nguyễn Văn An",
        "LoaiDoiTuong": 1,
        "SoGiayToChuHoSo": "001090012345",
        "DiaChiChuHoSo": "Số 1 Tràng Tiền, Hà Nội",
        "NgayTiepNhan": "20241115080000",
        "NgayHenTra": "20241120170000",
        "TrangThaiHoSo": 2,
        "DanhSachLePhi": [],
    }


async def api_rate(gateway: str, seconds: float, concurrency: int, codes: Codes) -> tuple[float, int]:
    headers = {"X-Sandbox-Tenant": TENANT, "Authorization": f"Bearer {API_KEY}"}
    url = f"{gateway}/dvcqg/v1/api/service"
    async with aiohttp.ClientSession(headers=headers) as session:

        async def once() -> int:
            body = {
                "service": "DongBoHoSoMC",
                "isUpdating": "False",
                "data": [record(codes.next()) for _ in range(BATCH)],
            }
            async with session.post(url, json=body) as resp:
                reply = await resp.json()
                return BATCH if resp.status == 200 and reply.get("error_code") == 0 else 0

        return await rate(seconds, concurrency, once)


def raw_rate(database_url: str, seconds: float) -> float:
    """Rows of the same shape inserted straight into the same tables (another tenant)."""
    engine = make_engine(database_url)
    codes = Codes("000.00.99.H99")
    tenant = "bench-raw-" + uuid.uuid4().hex[:6]
    now = datetime.now()
    done = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    try:
        while time.perf_counter() < deadline:
            rows = []
            events = []
            for _ in range(BATCH):
                code = codes.next()
                rec = record(code)
                rows.append(
                    {
                        "tenant": tenant, "code": code, "unit_code": "000.00.99.H99", "procedure_code": "1.001193",
                        "channel": 1, "status": 2, "reported_status": 2, "owner_id_number": "001090012345",
                        "received_at": now, "due_at": now, "finished_at": None, "origin": "province",
                        "synced_at": now, "updated_at": now, "last_progress_at": None, "paid_online": 0, "data": rec,
                    }
                )  # fmt: skip
                events.append(
                    {
                        "tenant": tenant, "dossier_code": code, "unit_code": "000.00.99.H99", "kind": "created",
                        "key": None, "status_from": None, "status_to": 2, "at": now, "received_at": now,
                        "outcome": "applied", "warning": None, "data": rec,
                    }
                )  # fmt: skip
            with engine.begin() as conn:
                conn.execute(insert(Dossier), rows)
                conn.execute(insert(DossierEvent), events)
            done += BATCH
        return done / (time.perf_counter() - started)
    finally:
        engine.dispose()


async def webhook_rate(dossier: str, count: int) -> tuple[int, float, float]:
    async with receiver("/hook", count, {"ok": True}) as hooks:
        headers = {"X-Sandbox-Tenant": TENANT + "-hooks"}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.patch(f"{dossier}/_sandbox/units/{UNIT}", json={"webhook_url": hooks.url}) as r:
                r.raise_for_status()
            sem = asyncio.Semaphore(8)
            filing = {
                "MaDonVi": UNIT, "MaTTHC": "1.001193", "ChuHoSo": "Lê Thị Cúc", "SoGiayToChuHoSo": "001190054321",
                "SoDienThoai": "0987654321",
            }  # fmt: skip

            async def file() -> None:
                async with sem, session.post(f"{dossier}/_sandbox/citizen-dossiers", json=filing) as r:
                    await r.read()

            started = time.perf_counter()
            await asyncio.gather(*(file() for _ in range(count)))
            filed = time.perf_counter() - started
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hooks.everything.wait(), 20)
            received = hooks.received
            span = (max(received) - min(received)) if len(received) > 1 else float("nan")
            return len(received), (len(received) - 1) / span, count / filed


async def run_one(label: str, database_url: str, tmp: Path, seconds: float, concurrency: int, webhooks: int) -> None:
    ports = {n: free_port() for n in ("dossier", "gateway")}
    dossier = f"http://127.0.0.1:{ports['dossier']}"
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    procs = [
        start_factory(
            "services.dossier.app:create_app",
            ports["dossier"],
            {**QUIET, "DOSSIER_DATABASE_URL": database_url, "SANDBOX_DATA_DIR": str(tmp), "DOSSIER_BATCH_MAX": "500"},
        ),
        start_factory(
            "gateway.app:create_app",
            ports["gateway"],
            {**QUIET, "GATEWAY_DOSSIER_URL": dossier, "SANDBOX_DATA_DIR": str(tmp / label)},
        ),
    ]
    try:
        wait_http(dossier + "/_sandbox/health")
        wait_http(gateway + "/_sandbox/health")
        codes = Codes(UNIT)
        await api_rate(gateway, 1.0, concurrency, codes)  # warm-up (and the development unit)
        api, errors = await api_rate(gateway, seconds, concurrency, codes)
        raw = raw_rate(database_url, seconds)
        print(
            f"{label:10s} DongBoHoSoMC via gateway {api:8.0f} dossiers/s (batches of {BATCH}, errors {errors})  "
            f"raw inserts {raw:8.0f} rows/s  ratio {api / raw:5.3f}"
        )
        if webhooks:
            got, rate, filing = await webhook_rate(dossier, webhooks)
            print(
                f"{label:10s} webhooks: {got}/{webhooks} delivered, {rate:.0f} deliveries/s between the first and "
                f"last delivery (citizen filings feeding them: {filing:.0f}/s)"
            )
    finally:
        stop(procs)


async def main(seconds: float, concurrency: int, webhooks: int, postgres: str | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="dossier-bench-"))
    print(f"concurrency {concurrency}, {seconds:.0f} s per measurement, loopback, one uvicorn worker per process")
    await run_one("sqlite", f"sqlite:///{tmp}/dossier.db", tmp, seconds, concurrency, webhooks)
    if postgres:
        with postgres_database(postgres, "vnsb_bench") as url:
            await run_one("postgresql", url, tmp, seconds, concurrency, 0)
    else:
        print("postgresql skipped: give --postgres or VNSB_TEST_POSTGRES_URL")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--webhooks", type=int, default=200)
    parser.add_argument("--postgres", default=os.environ.get("VNSB_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.concurrency, args.webhooks, args.postgres))
