"""Bulk loading of people: the driver's fastest path on each database.

Used by :func:`services.identity.population.generate` (``vnsandbox seed`` and the control
plane's population endpoint).

Rows are tuples in :data:`COLUMNS` order (or dicts of those columns, :func:`insert_people`).
On PostgreSQL the server parses and indexes the COPY's rows while the next ones are generated
(COPY streams): what is left on the client is generation and the driver's formatting.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from itertools import islice
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from services.identity.models import Person

#: Rows per ``executemany`` on SQLite, and between two progress reports on PostgreSQL.
CHUNK_ROWS = 5000
_T = TypeVar("_T")

#: The columns of a person a tenant may set on a persona (:mod:`services.identity.people`).
EDITABLE = (
    "full_name",
    "birth_date",
    "sex",
    "nationality",
    "address",
    "ward_code",
    "province_code",
    "household_id",
    "household_role",
    "phone",
    "email",
    "level",
    "account_type",
    "death_date",
    "document_issued",
    "document_expires",
)
#: The columns of a person row (every column of :class:`Person` but ``id``), in the order of the
#: tuples the generator yields and the loader writes.
COLUMNS = ("tenant", "cccd", "tech_id", *EDITABLE, "deleted", "source")

_COPY_SQL = f"COPY {Person.__tablename__} ({', '.join(COLUMNS)}) FROM STDIN"


def batched(items: Iterable[_T], size: int) -> Iterator[tuple[_T, ...]]:
    it = iter(items)
    while chunk := tuple(islice(it, size)):
        yield chunk


def insert_people(
    session: Session,
    rows: Iterable[dict[str, Any]],
    chunk_rows: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Bulk-insert ``rows`` (dicts of the :data:`COLUMNS`) on the session's connection and
    transaction; returns the count."""
    return insert_rows(session, map(itemgetter(*COLUMNS), rows), chunk_rows, progress)


def insert_rows(
    session: Session,
    rows: Iterable[tuple[Any, ...]],
    chunk_rows: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Bulk-insert ``rows`` (tuples in :data:`COLUMNS` order) on the session's connection and
    transaction; returns the count.

    Straight to the driver, as the cost of a million people is per row: on SQLite one
    ``executemany`` of plain tuples per chunk (dates as ISO text and booleans as 0/1, as
    SQLAlchemy stores them), on PostgreSQL one ``COPY ... FROM STDIN`` (the driver's own row
    formatting, in C: cheaper than formatting the text in Python).
    """
    with collector_paused():
        if is_postgres(session):
            return _copy(session, rows, chunk_rows or CHUNK_ROWS, progress)
        return _executemany(session, rows, chunk_rows or CHUNK_ROWS, progress)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while people stream in (and as it was after).

    Rows are tuples, chunks of them live until written: the collector would scan and promote
    them again and again although reference counting frees them (about 2 µs of CPU a person,
    some 15 % of seeding's client side). Generating and loading make no reference cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _executemany(
    session: Session, rows: Iterable[tuple[Any, ...]], chunk_rows: int, progress: Callable[[int], None] | None
) -> int:
    table = Person.__tablename__
    sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608 - names of the model
    driver: Any = session.connection().connection.driver_connection
    count = 0
    cursor = driver.cursor()
    try:
        for chunk in batched(rows, chunk_rows):
            cursor.executemany(sql, [tuple(map(_sqlite_value, row)) for row in chunk])
            count += len(chunk)
            if progress is not None:
                progress(count)
    finally:
        cursor.close()
    return count


def is_postgres(session: Session) -> bool:
    return session.connection().dialect.name == "postgresql"


def _copy(
    session: Session, rows: Iterable[tuple[Any, ...]], chunk_rows: int, progress: Callable[[int], None] | None
) -> int:
    driver: Any = session.connection().connection.driver_connection
    count = 0
    with driver.cursor() as cursor, cursor.copy(_COPY_SQL) as copy:
        write_row = copy.write_row
        for chunk in batched(rows, chunk_rows):
            for row in chunk:
                write_row(row)
            count += len(chunk)
            if progress is not None:
                progress(count)
    return count


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value
