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
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TENANT = "bench"
CLIENT = ("vnsandbox-dev", "vnsandbox-dev-secret")
REDIRECT = "http://localhost:3000/callback"


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


async def load(
    method: str, url: str, headers: dict[str, str], data: bytes | None, seconds: float, concurrency: int
) -> dict[str, float]:
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


def http_bench(seconds: float, concurrency: int) -> dict[str, dict[str, float]]:
    tmp = Path(tempfile.mkdtemp(prefix="identity-bench-"))
    ports = {n: free_port() for n in ("hello", "identity", "gateway")}
    identity = f"http://127.0.0.1:{ports['identity']}"
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    procs = [
        start(["bench.gateway_hello:app", "--port", str(ports["hello"])], {}),
        start(
            ["--factory", "services.identity.app:create_app", "--port", str(ports["identity"])],
            {
                "IDENTITY_DATABASE_URL": f"sqlite:///{tmp}/identity.db",
                "IDENTITY_SEED_PEOPLE": "500",
                "IDENTITY_LOG_REQUESTS": "false",
                "SANDBOX_DATA_DIR": str(tmp),
            },
        ),
        start(
            ["--factory", "gateway.app:create_app", "--port", str(ports["gateway"])],
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
            results[name] = asyncio.run(load(method, url, headers, data, seconds, concurrency))
        return results
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def seeding_bench(people: int) -> dict[str, float]:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from services.identity import population
    from services.identity.models import Base, Person

    population.name_pools()
    population.places()
    tmp = Path(tempfile.mkdtemp(prefix="identity-seed-bench-"))
    try:
        # 1. What ``vnsandbox seed`` does: generate and insert in chunks through SQLAlchemy Core.
        engine = create_engine(f"sqlite:///{tmp}/seed.db")
        Base.metadata.create_all(engine)
        t0 = time.perf_counter()
        with Session(engine) as session:
            population.insert_people(session, population.Generator(1, "_base", "base").people(people))
            session.commit()
        full = time.perf_counter() - t0
        engine.dispose()

        rows = list(population.Generator(1, "_base", "base").people(people))
        columns = list(rows[0])

        # 2. The insert alone, same path.
        engine = create_engine(f"sqlite:///{tmp}/insert.db")
        Base.metadata.create_all(engine)
        t0 = time.perf_counter()
        with Session(engine) as session:
            population.insert_people(session, iter(rows))
            session.commit()
        insert_only = time.perf_counter() - t0
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
    import uuid

    import psycopg
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from services.identity import population
    from services.identity.models import Base, Person

    name = f"identity_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        engine = create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
        Base.metadata.create_all(engine)
        t0 = time.perf_counter()
        with Session(engine) as session:
            population.insert_people(session, population.Generator(1, "_base", "base").people(people))
            session.commit()
        full = time.perf_counter() - t0
        rows = list(population.Generator(1, "_base", "base").people(people))
        with Session(engine) as session:
            session.execute(text(f"TRUNCATE {Person.__tablename__}"))
            session.commit()
        t0 = time.perf_counter()
        with Session(engine) as session:
            population.insert_people(session, iter(rows))
            session.commit()
        insert_only = time.perf_counter() - t0
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
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
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
    print(f"{'case':<22} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in results.items():
        print(f"{name:<22} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>7.0f}")
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
