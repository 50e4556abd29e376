"""DongBoHoSoMC in batches of 100 through the gateway, against raw inserts of the same rows into
the same database, in the same run.

    .venv/bin/python bench/dossier_batch.py [--seconds 4] [--quick] [--postgres URL] [--out FILE]

On PostgreSQL (``--postgres`` or ``$VNSB_TEST_POSTGRES_URL``: a throw-away database; SQLite
otherwise, and the row says so) it starts a dossier service and a gateway on free loopback ports,
then:
1. posts batches of 100 valid dossiers (bearer = the development unit's API key) through the
   gateway with 4 clients for the measured window (a warm-up first): dossiers/s;
2. inserts the same kind of rows (a ``dossier`` row and its ``dossier_event`` row, JSON data,
   one transaction per 100) straight into the same tables with SQLAlchemy Core ``executemany``
   for the same window: rows/s.

Row: ``dossier.batch`` (≥ 0.4× the raw inserts).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import time
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import aiohttp
from _harness import ROOT, database, free_port, rate, running, scratch, start_factory
from _table import Options, Row, at_least, standalone
from sqlalchemy import insert

sys.path.insert(0, str(ROOT))

from services.dossier.models import Dossier, DossierEvent
from vnsandbox.db import make_engine

NAMES = ["dossier.batch"]
CLIENTS = 4
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


def rows(opts: Options) -> list[Row]:
    if not opts.wants_any(NAMES):
        return []
    ports = {n: free_port() for n in ("dossier", "gateway")}
    dossier = f"http://127.0.0.1:{ports['dossier']}"
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    with contextlib.ExitStack() as cleanup:
        tmp = cleanup.enter_context(scratch("batch"))
        url, label = cleanup.enter_context(database(opts, tmp, "batch"))
        procs = [
            start_factory(
                "services.dossier.app:create_app",
                ports["dossier"],
                {**QUIET, "DOSSIER_DATABASE_URL": url, "SANDBOX_DATA_DIR": str(tmp)},
            ),
            start_factory(
                "gateway.app:create_app",
                ports["gateway"],
                {**QUIET, "GATEWAY_DOSSIER_URL": dossier, "SANDBOX_DATA_DIR": str(tmp / "gw")},
            ),
        ]
        with running(procs, [dossier + "/_sandbox/health", gateway + "/_sandbox/health"]):
            codes = Codes(UNIT)
            asyncio.run(api_rate(gateway, opts.warmup, CLIENTS, codes))
            api, errors = asyncio.run(api_rate(gateway, opts.seconds, CLIENTS, codes))
            raw = raw_rate(url, opts.seconds)
    problem = f"{errors} batches refused" if errors else None
    return [
        Row(
            "dossier.batch",
            f"DongBoHoSoMC, batches of {BATCH}, via gateway",
            api,
            "dossiers/s",
            raw,
            "raw executemany, same rows",
            at_least(0.4),
            f"aiohttp client, {CLIENTS} clients",
            note=label,
            problem=problem,
            anchor_unit="rows/s",
        )
    ]


if __name__ == "__main__":
    sys.exit(standalone(rows, __doc__))
