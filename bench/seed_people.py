"""Seeding the synthetic population (``vnsandbox seed``) beside a raw bulk load of the same rows.

    .venv/bin/python bench/seed_people.py [--people 200000] [--postgres URL] [--before DIR]

For each database (a SQLite file; PostgreSQL when ``--postgres`` or ``VNSB_TEST_POSTGRES_URL``
gives a server, on a throw-away database), both migrated like the identity service's:
1. the figure: ``seed_base_population`` of ``--people`` people (what ``vnsandbox seed`` runs:
   generation and insertion), people/s;
2. the anchor: the same rows, generated beforehand (not timed), written straight into the
   same table of a second database with the driver alone — ``sqlite3`` ``executemany`` in one
   transaction, psycopg ``COPY ... FROM STDIN`` — rows/s;
3. the ratio of 1 to 2. Target ≥ 0.5×. ``--before DIR`` measures another checkout of the
   sandbox's seeding the same way (in a child process with ``DIR`` first on ``sys.path``).
The issue's scale is 1,000,000 people (``--people 1000000``: a few minutes here).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _harness import ROOT, postgres_database

TARGET = 0.5
SEED = 20260101


def _prepared(root: str, url: str) -> tuple[Any, Any]:
    """Settings for ``url`` and the seeding function of the sandbox in ``root``, schema migrated."""
    sys.path.insert(0, root)
    from services.identity.app import seed_base_population
    from services.identity.settings import IdentitySettings

    settings = IdentitySettings(database_url=url, data_dir=Path(tempfile.mkdtemp()))
    seed_base_population(settings, 0, SEED)  # migrations and bootstrap: not timed
    return settings, seed_base_population


def figure(root: str, url: str, people: int) -> float:
    """People per second of ``seed_base_population`` (run in a child process)."""
    settings, seed = _prepared(root, url)
    started = time.perf_counter()
    count = seed(settings, people, SEED)
    return float(count) / (time.perf_counter() - started)


def anchor(url: str, people: int) -> float:
    """Rows per second of the driver alone writing the same rows into the same table."""
    _prepared(str(ROOT), url)
    from services.identity.models import Person
    from services.identity.population import Generator

    table = Person.__tablename__
    columns = [c.name for c in Person.__table__.columns if c.name != "id"]
    rows = [[r[c] for c in columns] for r in Generator(SEED, "_base", "base").people(people)]
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.split("///", 1)[1])
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        started = time.perf_counter()
        with conn:
            conn.executemany(sql, rows)
        elapsed = time.perf_counter() - started
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url) as pg:
            started = time.perf_counter()
            with pg.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            pg.commit()
            elapsed = time.perf_counter() - started
    return people / elapsed


def child(kind: str, root: Path, url: str, people: int) -> float:
    args = [sys.executable, __file__, f"--{kind}", str(root), url, str(people)]
    out = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True, env=os.environ)
    return float(out.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/identity.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--postgres", default=os.environ.get("VNSB_TEST_POSTGRES_URL"))
    parser.add_argument("--before", type=Path, help="another checkout of the sandbox to measure side by side")
    args = parser.parse_args()
    trees = ({"before": args.before.resolve()} if args.before else {}) | {"now": ROOT}
    print(f"seeding {args.people:,} people vs the driver's bulk load of the same rows")
    databases: list[tuple[str, Any]] = [("sqlite", sqlite_url)]
    if args.postgres:
        databases.append(("postgresql", lambda: postgres_database(args.postgres, "bench_seed")))
    for label, make in databases:
        with make() as url:
            raw = child("anchor", ROOT, url, args.people)
        for name, tree in trees.items():
            with make() as url:
                rate = child("figure", tree, url, args.people)
            ratio = rate / raw
            print(
                f"{label:10s} {name:6s} seed {rate:9,.0f} people/s   raw {raw:9,.0f} rows/s   ratio {ratio:4.2f}×   "
                f"target ≥ {TARGET}× {'✓' if ratio >= TARGET else '✗'}",
                flush=True,
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--figure"]:
        print(figure(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    elif sys.argv[1:2] == ["--anchor"]:
        print(anchor(sys.argv[3], int(sys.argv[4])))
    else:
        main()
