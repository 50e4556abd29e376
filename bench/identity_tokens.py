"""Identity service throughput, as ratios measured side by side in one run.

    .venv/bin/python bench/identity_tokens.py [--seconds 5] [--concurrency 16] [--people 100000]

1. Token endpoint (``client_credentials``, ``client_secret_basic``) and userinfo (bearer token of a
   headless login), both through the gateway (``/vneid/v1``), against a bare uvicorn hello-world
   (``bench.gateway_hello:app``). Starts its own processes on free loopback ports: the hello-world,
   the identity service (temporary SQLite) and the gateway (embedded mode, open). Load comes from an
   aiohttp client in this process, so server and load share the machine's cores.
2. Seeding rate: ``--people`` generated people written the way ``vnsandbox seed`` writes them
   (generator + Core ``executemany`` in chunks), against a raw ``sqlite3`` ``executemany`` of the
   same rows (pre-generated tuples) into the same table, and the insert alone. Prints the rate and
   the time 1,000,000 people take at that rate (``--people 1000000`` measures it fully; the default
   keeps the whole run under 60 s).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import sqlite3
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _harness import (
    ROOT,
    free_port,
    load,
    postgres_database,
    print_latency_table,
    start_app,
    start_factory,
    stop,
    wait_http,
)

sys.path.insert(0, str(ROOT))

TENANT = "bench"
CLIENT = ("vnsandbox-dev", "vnsandbox-dev-secret")
REDIRECT = "http://localhost:3000/callback"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def user_access_token(base: str, basic: str) -> str:
    """Log a persona in headlessly through the gateway and return its access token."""
    headers = {"x-sandbox-tenant": TENANT}
    req = urllib.request.Request(base + "/_sandbox/personas?level=2&limit=1", headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        number = json.loads(resp.read())["personas"][0]["SoDinhDanh"]
    query = urllib.parse.urlencode(
        {"client_id": CLIENT[0], "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid profile"}
    )
    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(f"{base}/oauth2/authorize?{query}", headers={**headers, "x-sandbox-login": number})
    try:
        opener.open(req, timeout=10)
        raise RuntimeError("expected a redirect")
    except urllib.error.HTTPError as exc:
        location = exc.headers["location"]
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["code"][0]
    form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
    req = urllib.request.Request(
        base + "/oauth2/token", data=form.encode(), headers={**headers, "authorization": basic}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        token: str = json.loads(resp.read())["access_token"]
        return token


def http_bench(seconds: float, concurrency: int) -> dict[str, dict[str, float]]:
    tmp = Path(tempfile.mkdtemp(prefix="identity-bench-"))
    ports = {n: free_port() for n in ("hello", "identity", "gateway")}
    identity = f"http://127.0.0.1:{ports['identity']}"
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    procs = [
        start_app("bench.gateway_hello:app", ports["hello"]),
        start_factory(
            "services.identity.app:create_app",
            ports["identity"],
            {
                "IDENTITY_DATABASE_URL": f"sqlite:///{tmp}/identity.db",
                "IDENTITY_SEED_PEOPLE": "500",
                "IDENTITY_LOG_REQUESTS": "false",
                "SANDBOX_DATA_DIR": str(tmp),
            },
        ),
        start_factory(
            "gateway.app:create_app",
            ports["gateway"],
            {
                "GATEWAY_IDENTITY_URL": identity,
                "GATEWAY_DATABASE_URL": f"sqlite:///{tmp}/gateway.db",
                "SANDBOX_DATA_DIR": str(tmp),
            },
        ),
    ]
    try:
        wait_http(f"http://127.0.0.1:{ports['hello']}/")
        wait_http(identity + "/_sandbox/health")
        wait_http(gateway + "/_sandbox/version")
        base = gateway + "/vneid/v1"
        basic = "Basic " + base64.b64encode(f"{CLIENT[0]}:{CLIENT[1]}".encode()).decode()
        access = user_access_token(base, basic)
        tenant = {"x-sandbox-tenant": TENANT}
        form = b"grant_type=client_credentials&scope=population%3Averify"
        cases = {
            "hello (bare uvicorn)": ("GET", f"http://127.0.0.1:{ports['hello']}/", {}, None),
            "token via gateway": (
                "POST",
                base + "/oauth2/token",
                {**tenant, "authorization": basic, "content-type": "application/x-www-form-urlencoded"},
                form,
            ),
            "userinfo via gateway": (
                "GET",
                base + "/oauth2/userinfo",
                {**tenant, "authorization": f"Bearer {access}"},
                None,
            ),
        }
        results: dict[str, dict[str, float]] = {}
        for name, (method, url, headers, data) in cases.items():
            results[name] = asyncio.run(load(url, headers, seconds, concurrency, method, data))
        return results
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)


def timed_insert(engine: Any, people: Iterator[dict[str, Any]]) -> float:
    """Seconds ``population.insert_people`` takes to write ``people`` and commit."""
    from sqlalchemy.orm import Session

    from services.identity import population

    t0 = time.perf_counter()
    with Session(engine) as session:
        population.insert_people(session, people)
        session.commit()
    return time.perf_counter() - t0


def seeding_bench(people: int) -> dict[str, float]:
    from sqlalchemy import create_engine

    from services.identity import population
    from services.identity.models import Base, Person

    population.name_pools()
    population.places()
    tmp = Path(tempfile.mkdtemp(prefix="identity-seed-bench-"))
    try:
        # 1. What ``vnsandbox seed`` does: generate and insert in chunks through SQLAlchemy Core.
        engine = create_engine(f"sqlite:///{tmp}/seed.db")
        Base.metadata.create_all(engine)
        full = timed_insert(engine, population.Generator(1, "_base", "base").people(people))
        engine.dispose()

        rows = list(population.Generator(1, "_base", "base").people(people))
        columns = list(rows[0])

        # 2. The insert alone, same path.
        engine = create_engine(f"sqlite:///{tmp}/insert.db")
        Base.metadata.create_all(engine)
        insert_only = timed_insert(engine, iter(rows))
        engine.dispose()

        # 3. Raw sqlite3 executemany of the same rows (dates as SQLAlchemy stores them).
        engine = create_engine(f"sqlite:///{tmp}/raw.db")
        Base.metadata.create_all(engine)
        engine.dispose()
        tuples = [tuple(v.isoformat() if hasattr(v, "isoformat") else v for v in (r[c] for c in columns)) for r in rows]
        conn = sqlite3.connect(tmp / "raw.db")
        t0 = time.perf_counter()
        conn.executemany(
            f"INSERT INTO {Person.__tablename__} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            tuples,
        )
        conn.commit()
        raw = time.perf_counter() - t0
        conn.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"full": people / full, "insert": people / insert_only, "raw": people / raw}


def seeding_bench_postgres(admin_url: str, people: int) -> dict[str, float]:
    """The same comparison on PostgreSQL: COPY (what the seeding uses there) vs raw executemany."""
    import psycopg
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from services.identity import population
    from services.identity.models import Base, Person

    with postgres_database(admin_url, "identity_bench") as url:
        engine = create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
        Base.metadata.create_all(engine)
        full = timed_insert(engine, population.Generator(1, "_base", "base").people(people))
        rows = list(population.Generator(1, "_base", "base").people(people))
        with Session(engine) as session:
            session.execute(text(f"TRUNCATE {Person.__tablename__}"))
            session.commit()
        insert_only = timed_insert(engine, iter(rows))
        engine.dispose()
        columns = list(rows[0])
        tuples = [tuple(r[c] for c in columns) for r in rows]
        with psycopg.connect(url) as conn:
            conn.execute(f"TRUNCATE {Person.__tablename__}")
            conn.commit()
            t0 = time.perf_counter()
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {Person.__tablename__} ({', '.join(columns)}) "
                    f"VALUES ({', '.join(['%s'] * len(columns))})",
                    tuples,
                )
            conn.commit()
            raw = time.perf_counter() - t0
    return {"full": people / full, "insert": people / insert_only, "raw": people / raw}


def print_seeding(title: str, people: int, rates: dict[str, float], insert_label: str) -> None:
    print(f"\nseeding {people:,} people into {title}")
    print(f"{'path':<44} {'people/s':>10} {'1,000,000 in':>13}")
    for label, key in (
        ("vnsandbox seed (generate + bulk insert)", "full"),
        (insert_label, "insert"),
        ("raw executemany, same rows", "raw"),
    ):
        print(f"{label:<44} {rates[key]:>10,.0f} {1_000_000 / rates[key]:>11.0f} s")
    print(f"seeding / raw executemany      : {rates['full'] / rates['raw']:.2f}×")
    print(f"insert only / raw executemany  : {rates['insert'] / rates['raw']:.2f}×")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server: also measure seeding there")
    args = parser.parse_args()

    results = http_bench(args.seconds, args.concurrency)
    print(
        f"{args.concurrency} connections, {args.seconds:.0f} s each, load from an aiohttp client on the same machine\n"
    )
    print_latency_table(results, 22)
    hello = results["hello (bare uvicorn)"]["rps"]
    print()
    print(f"token via gateway / bare hello    : {results['token via gateway']['rps'] / hello:.3f}×")
    print(f"userinfo via gateway / bare hello : {results['userinfo via gateway']['rps'] / hello:.3f}×")

    print_seeding("SQLite", args.people, seeding_bench(args.people), "insert only (Core executemany, chunks)")
    if args.postgres:
        rates = seeding_bench_postgres(args.postgres, args.people)
        print_seeding("PostgreSQL", args.people, rates, "insert only (COPY FROM STDIN)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
