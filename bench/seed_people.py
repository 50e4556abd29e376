"""Seeding the population (what ``vnsandbox seed`` does: generate people and bulk-insert them)
against a raw bulk insert of the same rows into the same table, in the same run.

    .venv/bin/python bench/seed_people.py [--quick] [--postgres URL] [--out FILE]

On PostgreSQL (``--postgres`` or ``$VNSB_TEST_POSTGRES_URL``: a throw-away database) the raw path
is psycopg's ``COPY ... FROM STDIN`` of pre-generated tuples, the path the seeding itself takes
there; on SQLite (without a server) it is ``sqlite3``'s ``executemany``. 100,000 people (1,000 with
``--quick``); the note says how long 1,000,000 take at the measured rate. The target is about a
million people: at 20,000 the per-birthday caches' first fill (nearly every birthday is new) was
a sixth of the figure, a cost a million people share. Generation is part of
the figure and not of the anchor: that is the point of the comparison. Each runs into emptied
tables (into the seeded table, its indexes twice the size, the raw insert ran slower and the
ratio read above 1×), they take turns for :data:`ROUNDS` rounds and each keeps its best. The
two can come near each other: psycopg sends COPY data as it is written, so the server stores
rows on the other core while the seeding generates the next ones.

Row: ``identity.seed`` (≥ 0.5× the raw insert).
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import time
from typing import Any

from _harness import ROOT, database, scratch
from _table import Options, Row, at_least, standalone

sys.path.insert(0, str(ROOT))

NAMES = ["identity.seed"]
#: Seeding and the raw insert take turns this many times; each keeps its best round (a
#: checkpoint or another process's burst on this 2-core machine lands in one round, not both).
ROUNDS = 2


def empty(url: str) -> None:
    """The people's tables emptied (TRUNCATE on PostgreSQL): each round writes into empty tables."""
    from services.identity.models import Person, PopulationInfo

    tables = [Person.__tablename__, PopulationInfo.__tablename__]
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(url) as conn:
            conn.execute(f"TRUNCATE {', '.join(tables)}")
    else:
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as lite, lite:
            for table in tables:
                lite.execute(f"DELETE FROM {table}")


def seed_rate(url: str, people: int) -> float:
    """People per second of ``population.generate`` into empty tables."""
    from sqlalchemy.orm import Session

    from services.identity import population
    from services.identity.models import Base
    from vnsandbox.db import make_engine

    population.name_pools()
    population.places()
    # Every round as the first: the per-birthday and per-name caches start empty, as in a new process.
    population.birth_before_reference.cache_clear()
    population._email_name.cache_clear()
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    empty(url)
    try:
        t0 = time.perf_counter()
        with Session(engine) as session:
            population.generate(session, "bench", people, 1, "base")
            session.commit()
        return people / (time.perf_counter() - t0)
    finally:
        engine.dispose()


def raw_rows(people: int) -> tuple[list[tuple[Any, ...]], list[str]]:
    """The same kind of rows as the seeding writes, as tuples, and their columns."""
    from services.identity import population
    from services.identity.models import Person

    columns = [c.name for c in Person.__table__.columns if c.name != "id"]
    rows = [tuple(r[c] for c in columns) for r in population.Generator(1, "bench-raw", "base").people(people)]
    return rows, columns


def raw_rate(url: str, rows: list[tuple[Any, ...]], columns: list[str]) -> float:
    """Rows per second of the driver's own bulk path into empty tables, no SQLAlchemy, rows
    already generated."""
    from services.identity.models import Person

    table = Person.__tablename__
    empty(url)
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(url) as conn:
            t0 = time.perf_counter()
            with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            conn.commit()
    else:
        iso = [tuple(v.isoformat() if hasattr(v, "isoformat") else v for v in r) for r in rows]
        lite = sqlite3.connect(url.removeprefix("sqlite:///"))
        t0 = time.perf_counter()
        marks = ", ".join("?" * len(columns))
        lite.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", iso)
        lite.commit()
        lite.close()
    return len(rows) / (time.perf_counter() - t0)


def rows(opts: Options) -> list[Row]:
    if not opts.wants_any(NAMES):
        return []
    people = 1_000 if opts.quick else 100_000
    with scratch("seed") as tmp, database(opts, tmp, "seed") as (url, label):
        generated, columns = raw_rows(people)
        rates: list[float] = []
        raws: list[float] = []
        for _ in range(ROUNDS):
            rates.append(seed_rate(url, people))
            raws.append(raw_rate(url, generated, columns))
        rate, raw = max(rates), max(raws)
    how = "in-process, COPY" if label == "PostgreSQL" else "in-process, executemany"
    anchor = "raw COPY, same rows" if label == "PostgreSQL" else "raw executemany, same rows"
    note = f"{label}, {people:,} people; 1,000,000 in ~{1_000_000 / rate:,.0f} s at this rate"
    return [
        Row(
            "identity.seed",
            "seeding people (generate + bulk insert)",
            rate,
            "people/s",
            raw,
            anchor,
            at_least(0.5),
            how,
            note=note,
            anchor_unit="rows/s",
        )
    ]


if __name__ == "__main__":
    sys.exit(standalone(rows, __doc__))
