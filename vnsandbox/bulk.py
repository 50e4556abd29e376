"""Many rows into one table at once, in the caller's unit of work: ``COPY … FROM STDIN`` on
PostgreSQL, one Core ``executemany`` elsewhere.

On PostgreSQL a ``COPY`` costs about half the CPU of psycopg's pipelined ``executemany`` per
row (no statement parameters to build per row, values written by psycopg's C code), which is
most of what a sync batch of a hundred dossiers costs to store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Table, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


def insert_rows(
    session: Session, entity: type[Any], rows: Sequence[Mapping[str, Any]], json_texts: dict[int, str] | None = None
) -> None:
    """Insert ``rows`` into the table of ``entity`` (a mapped class) on the session's connection and transaction.

    Every row has the same keys: column names, which must cover every column the table needs
    besides its generated key (no Python-side defaults are applied on PostgreSQL). JSON columns
    are written as SQLAlchemy writes them (the dialect's serialiser; ``None`` as JSON
    ``null``). A row the database refuses (a unique constraint) raises
    :class:`sqlalchemy.exc.IntegrityError`, as an ``INSERT`` would; nothing of the call is then
    written (the caller's savepoint or transaction is rolled back by the caller).

    ``json_texts`` shares the JSON texts of values between calls that write the same objects
    (a new dossier's record is its row's data and its event's): each is encoded once. It is
    keyed by ``id()``, so it must not outlive the rows (the caller holds them meanwhile)."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        session.execute(insert(entity), list(rows))
        return
    import psycopg
    from psycopg import sql

    table: Table = entity.__table__
    columns = list(rows[0])
    serialise = getattr(conn.dialect, "_json_serializer", None) or json.dumps
    texts = {} if json_texts is None else json_texts

    def dumps(value: Any) -> str:
        text = texts.get(id(value))
        if text is None:
            text = texts[id(value)] = serialise(value)
        return text

    as_json = [isinstance(table.c[name].type, JSON) for name in columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    driver: Any = conn.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([dumps(row[c]) if j else row[c] for c, j in zip(columns, as_json, strict=True)])
    except psycopg.IntegrityError as exc:
        raise IntegrityError(statement.as_string(driver), None, exc) from exc
