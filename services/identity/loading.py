"""Bulk loading of people: the driver's fastest path on each database.

Used by :func:`services.identity.population.generate` (``vnsandbox seed`` and the control
plane's population endpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date
from itertools import islice
from operator import itemgetter
from typing import Any

from sqlalchemy.orm import Session

from services.identity.models import Base, Person

CHUNK_ROWS = 5000


def batched(items: Iterable[dict[str, Any]], size: int) -> Iterator[tuple[dict[str, Any], ...]]:
    it = iter(items)
    while chunk := tuple(islice(it, size)):
        yield chunk


def insert_people(
    session: Session,
    rows: Iterable[dict[str, Any]],
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Bulk-insert ``rows`` on the session's connection and transaction; returns the count.

    Straight to the driver, as the cost of a million people is per row: on SQLite one
    ``executemany`` of plain tuples per chunk (dates as ISO text and booleans as 0/1, as
    SQLAlchemy stores them), on PostgreSQL one ``COPY ... FROM STDIN``. (Producing the rows in a
    second thread gained nothing measurable: generation holds the GIL.)
    """
    table = Base.metadata.tables[Person.__tablename__]
    columns = [c.name for c in table.columns if c.name != "id"]
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    chunks = _tuples(rows, columns, chunk_rows, sqlite=not postgres)
    driver: Any = conn.connection.driver_connection
    count = 0
    if postgres:
        with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for chunk in chunks:
                for values in chunk:
                    copy.write_row(values)
                count += len(chunk)
                if progress is not None:
                    progress(count)
        return count
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608 - names of the model
    cursor = driver.cursor()
    try:
        for chunk in chunks:
            cursor.executemany(sql, chunk)
            count += len(chunk)
            if progress is not None:
                progress(count)
    finally:
        cursor.close()
    return count


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _tuples(
    rows: Iterable[dict[str, Any]], columns: list[str], chunk_rows: int, *, sqlite: bool
) -> Iterator[list[tuple[Any, ...]]]:
    """``rows`` as chunks of value tuples in ``columns`` order (SQLite's storage values if ``sqlite``)."""
    values = itemgetter(*columns)  # one C call per row (the columns are never fewer than two)
    for chunk in batched(rows, chunk_rows):
        if sqlite:
            yield [tuple(map(_sqlite_value, values(row))) for row in chunk]
        else:
            yield list(map(values, chunk))
