"""PayGov INIT and QUERY through the gateway, against a bare FastAPI hello-world in the same run.

    .venv/bin/python bench/payment_init.py [--seconds 4] [--quick] [--only NAME] [--out FILE]

Starts its own processes on free loopback ports (the hello-world, the payment service on a
temporary SQLite file, the gateway in embedded mode) and registers a partner. Every INIT opens a
new payment (a new ``MaThamChieu``, signed), so its load comes from the aiohttp client of this
process, and its anchor is the hello-world under the same client; QUERY repeats one signed
message, so it runs under ``wrk`` when present (and its anchor too).

Rows: ``payment.init`` (≥ 0.15×) and ``payment.query`` (≥ 0.3×).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import sys
import time
import urllib.request
import uuid
from typing import Any

import aiohttp
from _harness import ROOT, aiohttp_tool, fastapi_hello, free_port, measure, running, scratch, start_factory
from _table import Options, Row, at_least, standalone

sys.path.insert(0, str(ROOT))

from services.payment.protocol import DEFAULT_FIELD_ORDERS

NAMES = ["payment.init", "payment.query"]
SECRET = "bench-partner-secret"
PARTNER = "BENCH"
TENANT = "bench"
INIT_ORDER = DEFAULT_FIELD_ORDERS["INIT"]
QUERY_ORDER = DEFAULT_FIELD_ORDERS["QUERY"]


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


async def init_rate(opts: Options, url: str, run: str) -> tuple[float, int]:
    """INITs per second (each a new reference), warm-up excluded; and the count of failed calls."""
    counter = itertools.count()
    done = errors = 0
    connector = aiohttp.TCPConnector(limit=opts.connections)
    async with aiohttp.ClientSession(connector=connector, headers={"X-Sandbox-Tenant": TENANT}) as session:

        async def worker(deadline: float, record: bool) -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                async with session.post(url, json=init_message(f"B{run}-{next(counter)}")) as resp:
                    await resp.read()
                    ok = resp.status == 200
                if record:
                    done, errors = done + ok, errors + (not ok)

        warm = time.perf_counter() + opts.warmup
        await asyncio.gather(*(worker(warm, False) for _ in range(opts.connections)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + opts.seconds, True) for _ in range(opts.connections)))
        return done / (time.perf_counter() - started), errors


def put_partner(payment: str) -> None:
    body = json.dumps({"secret": SECRET}).encode()
    headers = {"X-Sandbox-Tenant": TENANT, "content-type": "application/json"}
    req = urllib.request.Request(f"{payment}/_sandbox/partners/{PARTNER}", data=body, headers=headers, method="PUT")
    with urllib.request.urlopen(req, timeout=10):
        pass


def rows(opts: Options) -> list[Row]:
    if not opts.wants_any(NAMES):
        return []
    with scratch("payment") as tmp:
        ports = {n: free_port() for n in ("payment", "gateway")}
        payment = f"http://127.0.0.1:{ports['payment']}"
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        quiet = {"PAYMENT_LOG_REQUESTS": "false", "GATEWAY_LOG_REQUESTS": "false", "SANDBOX_DATA_DIR": str(tmp)}
        procs = [
            start_factory(
                "services.payment.app:create_app",
                ports["payment"],
                {**quiet, "PAYMENT_DATABASE_URL": f"sqlite:///{tmp}/payment.db"},
            ),
            start_factory(
                "gateway.app:create_app",
                ports["gateway"],
                {**quiet, "GATEWAY_PAYMENT_URL": payment, "GATEWAY_DATABASE_URL": f"sqlite:///{tmp}/gw.db"},
            ),
        ]
        url = gateway + "/paygov/v1/payments"
        label = "FastAPI hello"
        out: list[Row] = []
        with running(procs, [payment + "/_sandbox/health", gateway + "/_sandbox/health"]), fastapi_hello() as hello:
            put_partner(payment)
            run = uuid.uuid4().hex[:6]
            if opts.wants("payment.init"):
                anchor = measure(opts, hello, aiohttp_only=True).rps
                rps, errors = asyncio.run(init_rate(opts, url, run))
                problem = f"{errors} INITs failed" if errors > rps * opts.seconds / 100 else None
                out.append(
                    Row(
                        "payment.init",
                        "PayGov INIT via gateway",
                        rps,
                        "req/s",
                        anchor,
                        label,
                        at_least(0.15),
                        aiohttp_tool(opts),
                        problem=problem,
                    )
                )
            if opts.wants("payment.query"):
                ref = f"Q{run}"
                opened = json.dumps(init_message(ref)).encode()
                headers = {"X-Sandbox-Tenant": TENANT, "content-type": "application/json"}
                query = json.dumps(query_message(ref)).encode()
                for body in (opened, query):
                    with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers)) as resp:
                        reply = json.loads(resp.read())
                    if str(reply.get("error_code")) != "0":
                        raise RuntimeError(f"PayGov refused the benchmark's message: {reply}")
                anchor = measure(opts, hello).rps
                got = measure(opts, url, headers, "POST", query)
                out.append(
                    Row(
                        "payment.query",
                        "PayGov QUERY via gateway",
                        got.rps,
                        "req/s",
                        anchor,
                        label,
                        at_least(0.3),
                        got.tool,
                        problem=got.problem,
                    )
                )
    return out


if __name__ == "__main__":
    sys.exit(standalone(rows, __doc__))
