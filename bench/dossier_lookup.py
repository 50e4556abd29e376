"""TraCuuHoSo of one dossier, direct to the dossier service and through the gateway, against a
bare FastAPI hello-world in the same run, on SQLite and PostgreSQL.

    .venv/bin/python bench/dossier_lookup.py [--seconds 5] [--concurrency 32]
                                             [--postgres postgresql://postgres@127.0.0.1:55432/postgres]

For each database (SQLite file; PostgreSQL when ``--postgres`` or ``VNSB_TEST_POSTGRES_URL``
gives a server, on a throw-away database) it starts the hello-world, a dossier service and a
gateway on free loopback ports, syncs one dossier (DongBoHoSoMC as the development unit, with
a few progress records so the dossier has a history), then loads
``{"service": "TraCuuHoSo", "MaHoSo": ...}`` with the development unit's API key as bearer,
direct and through the gateway, and the hello-world before and after. Prints requests per
second, p50/p99 latency and the ratios to the hello-world. Absolute numbers depend on the
machine; the ratios are what to compare. Bounded: about 4 × (seconds + 1) per database +
start-up, under a minute by default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import urllib.request
from pathlib import Path

from _harness import free_port, load, postgres_database, print_latency_table, start_app, start_factory, stop, wait_http
from dossier_batch import record

TENANT = "bench"
API_KEY = "dvcqg-dev-unit-key"
CODE = "000.00.01.H22-241115-00001"
QUIET = {"DOSSIER_LOG_REQUESTS": "false", "GATEWAY_LOG_REQUESTS": "false"}
HEADERS = {"X-Sandbox-Tenant": TENANT, "Authorization": f"Bearer {API_KEY}", "content-type": "application/json"}


def post(url: str, body: object) -> dict[str, object]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=HEADERS)
    with urllib.request.urlopen(req, timeout=10) as resp:
        out: dict[str, object] = json.loads(resp.read())
        return out


def seed(dossier: str) -> None:
    """One received dossier of the development unit."""
    reply = post(f"{dossier}/api/service", {"service": "DongBoHoSoMC", "isUpdating": "False", "data": [record(CODE)]})
    if reply.get("error_code") != 0:
        raise RuntimeError(f"seeding the dossier failed: {reply}")


async def run_one(label: str, database_url: str, tmp: Path, seconds: float, concurrency: int) -> None:
    ports = {n: free_port() for n in ("hello", "dossier", "gateway")}
    hello = f"http://127.0.0.1:{ports['hello']}/hello"
    dossier = f"http://127.0.0.1:{ports['dossier']}"
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    procs = [
        start_app("bench.payment_hello:app", ports["hello"]),
        start_factory(
            "services.dossier.app:create_app",
            ports["dossier"],
            {**QUIET, "DOSSIER_DATABASE_URL": database_url, "SANDBOX_DATA_DIR": str(tmp / label)},
        ),
        start_factory(
            "gateway.app:create_app",
            ports["gateway"],
            {**QUIET, "GATEWAY_DOSSIER_URL": dossier, "SANDBOX_DATA_DIR": str(tmp / label)},
        ),
    ]
    try:
        for url in (hello, dossier + "/_sandbox/health", gateway + "/_sandbox/health"):
            wait_http(url)
        seed(dossier)
        body = json.dumps({"service": "TraCuuHoSo", "MaHoSo": CODE}).encode()
        results = {
            "bare FastAPI hello-world": await load(hello, {}, seconds, concurrency),
            "TraCuuHoSo direct": await load(f"{dossier}/api/service", HEADERS, seconds, concurrency, "POST", body),
            "TraCuuHoSo via gateway": await load(
                f"{gateway}/dvcqg/v1/api/service", HEADERS, seconds, concurrency, "POST", body
            ),
            "hello-world again": await load(hello, {}, seconds, concurrency),
        }
    finally:
        stop(procs)
    baseline = (results["bare FastAPI hello-world"]["rps"] + results["hello-world again"]["rps"]) / 2
    print(f"--- {label}")
    print_latency_table(results, 28)
    for name in ("TraCuuHoSo direct", "TraCuuHoSo via gateway"):
        print(f"{label} {name}: ratio {results[name]['rps'] / baseline:5.3f} to the hello-world")


async def main(seconds: float, concurrency: int, postgres: str | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="dossier-lookup-bench-"))
    print(f"concurrency {concurrency}, {seconds:.0f} s per measurement, loopback, one uvicorn worker per process")
    await run_one("sqlite", f"sqlite:///{tmp}/dossier.db", tmp, seconds, concurrency)
    if postgres:
        with postgres_database(postgres, "vnsb_bench") as url:
            await run_one("postgresql", url, tmp, seconds, concurrency)
    else:
        print("postgresql skipped: give --postgres or VNSB_TEST_POSTGRES_URL")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--postgres", default=os.environ.get("VNSB_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.concurrency, args.postgres))
