"""Bulk loading of people: the driver's fastest path on each database.

Used by :func:`services.identity.population.generate` (``vnsandbox seed`` and the control
plane's population endpoint).

Rows are tuples in :data:`COLUMNS` order (or dicts of those columns, :func:`insert_people`). On
PostgreSQL they go to ``COPY ... FROM STDIN`` as text the loader formats itself (one string per
chunk, not one driver call per row). The server parses and indexes a chunk while the next one
is generated (COPY streams), so what is left on the client is generation and formatting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date
from itertools import islice
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from services.identity.models import Person

#: Rows per ``executemany`` on SQLite, and per piece of COPY text on PostgreSQL (small enough
#: that the server parses one piece while the next is generated, rather than the client waiting
#: on a full socket).
CHUNK_ROWS = 5000
COPY_CHUNK_ROWS = 1000
_T = TypeVar("_T")

#: The columns of a person row (every column of :class:`Person` but ``id``), in the order of the
#: tuples the generator yields and the loader writes.
COLUMNS = (
    "tenant",
    "cccd",
    "tech_id",
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
    "deleted",
    "source",
)

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
    SQLAlchemy stores them), on PostgreSQL one ``COPY ... FROM STDIN`` fed with text chunks
    (:func:`copy_text`).
    """
    if is_postgres(session):
        return copy_chunks(session, copy_text_chunks(rows, chunk_rows or COPY_CHUNK_ROWS), progress)
    table = Person.__tablename__
    sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608 - names of the model
    driver: Any = session.connection().connection.driver_connection
    count = 0
    cursor = driver.cursor()
    try:
        for chunk in batched(rows, chunk_rows or CHUNK_ROWS):
            cursor.executemany(sql, [tuple(map(_sqlite_value, row)) for row in chunk])
            count += len(chunk)
            if progress is not None:
                progress(count)
    finally:
        cursor.close()
    return count


def is_postgres(session: Session) -> bool:
    return session.connection().dialect.name == "postgresql"


def copy_chunks(
    session: Session, chunks: Iterable[tuple[int, str]], progress: Callable[[int], None] | None = None
) -> int:
    """One ``COPY ... FROM STDIN`` on the session's connection of ``chunks`` (row count, COPY text:
    :func:`copy_text`), which the driver encodes in the connection's encoding; returns the count
    of rows."""
    driver: Any = session.connection().connection.driver_connection
    count = 0
    with driver.cursor() as cursor, cursor.copy(_COPY_SQL) as copy:
        for rows, data in chunks:
            copy.write(data)
            count += rows
            if progress is not None:
                progress(count)
    return count


def copy_text_chunks(rows: Iterable[tuple[Any, ...]], chunk_rows: int) -> Iterator[tuple[int, str]]:
    """``rows`` as (count, COPY text) chunks of at most ``chunk_rows`` rows."""
    for chunk in batched(rows, chunk_rows):
        yield len(chunk), copy_text(chunk)


def copy_text(rows: Iterable[tuple[Any, ...]]) -> str:
    """Person rows (tuples in :data:`COLUMNS` order) in ``COPY``'s text format, one line each.

    Generated values never hold a tab, newline, carriage return or backslash: each line is one
    f-string, and the chunk is checked for them in a few scans (C loops over the whole text: as
    many tabs and newlines as separators, no more backslashes than NULLs); a chunk with any (a
    tenant's name, say) is formatted again with each value escaped.
    """
    rows = list(rows)
    text = "".join(
        [
            f"{tenant}\t{number}\t{tid}\t{name}\t{birth}\t{sex}\t{nationality}\t{address}\t{ward}\t{province}\t"
            f"{household}\t{role}\t{phone}\t{email}\t{level}\t{account}\t{_N if death is None else death}\t"
            f"{_N if issued is None else issued}\t{_N if expires is None else expires}\t{'t' if deleted else 'f'}\t"
            f"{source}\n"
            for (
                tenant,
                number,
                tid,
                name,
                birth,
                sex,
                nationality,
                address,
                ward,
                province,
                household,
                role,
                phone,
                email,
                level,
                account,
                death,
                issued,
                expires,
                deleted,
                source,
            ) in rows
        ]
    )
    n = len(rows)
    nulls = sum([row.count(None) for row in rows])  # each wrote one backslash (\N)
    if (
        text.count("\\") == nulls
        and text.count("\t") == n * (len(COLUMNS) - 1)
        and text.count("\n") == n
        and "\r" not in text
    ):
        return text
    return "".join(["\t".join(map(_copy_value, row)) + "\n" for row in rows])


_N = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    """One value in ``COPY``'s text format (``\\N`` for NULL, ``t``/``f``, ISO dates, escaped text)."""
    if value is None:
        return _N
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    return str(value)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value
