"""Statements run through the driver (``RawStatement``: SQLite's reads and writes of the quick
paths) read and write exactly what SQLAlchemy would, and a write from the event loop never
waits for the file: when another writer holds it, ``write_now(wait=False)`` writes nothing and
says so, and the caller writes from a worker thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, MetaData, String, bindparam, insert, select
from sqlalchemy import Column as C
from sqlalchemy import Table as T

from tests.conftest import PostgresDatabases
from vnsandbox.db import Database, _file_write_lock, _QueuedWriterConnection

META = MetaData()
THINGS = T(
    "raw_thing",
    META,
    C("id", Integer, primary_key=True, autoincrement=True),
    C("tenant", String(63)),
    C("tags", JSON),
    C("at", DateTime(timezone=True), nullable=True),
    C("flag", Boolean),
    C("score", Float),
)
ADD = insert(THINGS).returning(THINGS.c.id)
BY_TENANT = select(THINGS.c.tenant, THINGS.c.tags, THINGS.c.at, THINGS.c.flag, THINGS.c.score).where(
    THINGS.c.tenant == bindparam("tenant")
)
VALUES: dict[str, Any] = {
    "tenant": "t1",
    "tags": ["a", {"b": 1}],
    "at": datetime(2026, 12, 5, 9, 30, 15, 123456, tzinfo=UTC),
    "flag": True,
    "score": 1.5,
}


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/raw.db"
    else:
        pg: PostgresDatabases = request.getfixturevalue("postgres")
        url = pg.create("raw")
    database = Database(url, [])
    META.drop_all(database.engine)
    META.create_all(database.engine)
    yield database
    database.engine.dispose()


def test_what_the_driver_writes_and_reads_is_what_sqlalchemy_does(db: Database) -> None:
    written = db.write_now(ADD, VALUES)
    assert written is not None and isinstance(written.row, tuple) and isinstance(written.row[0], int)
    with db.engine.connect() as conn:
        by_sqlalchemy = conn.execute(BY_TENANT, {"tenant": "t1"}).first()
    assert by_sqlalchemy is not None
    by_driver = db.read_now(BY_TENANT, {"tenant": "t1"})
    assert by_driver is not None and tuple(by_driver) == tuple(by_sqlalchemy)
    assert by_driver[1] == VALUES["tags"] and by_driver[3] is True
    assert db.read_now(BY_TENANT, {"tenant": "nobody"}) is None


def test_from_the_event_loop_sqlite_writes_when_the_file_is_free_postgresql_never(db: Database) -> None:
    written = db.write_now(ADD, VALUES, wait=False)
    if db.dialect == "postgresql":
        assert written is None  # the caller writes from a worker thread
        return
    assert written is not None and written.row is not None


def test_another_writer_of_the_process_holding_the_file_is_not_waited_for(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/raw.db", [])
    META.create_all(db.engine)
    with db.engine.connect() as holder:
        holder.execute(insert(THINGS), {**VALUES, "tenant": "holder"})  # the file's write lock, held
        assert db.write_now(ADD, VALUES, wait=False) is None
    with db.engine.connect() as conn:
        assert conn.execute(select(THINGS.c.tenant)).scalars().all() == []
    written = db.write_now(ADD, VALUES, wait=False)  # released (rolled back): free again
    assert written is not None and written.row is not None


def test_another_process_holding_the_file_is_not_waited_for(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/raw.db", [])
    META.create_all(db.engine)
    other = sqlite3.connect(tmp_path / "raw.db", isolation_level=None)  # outside this process's queue
    other.execute("BEGIN IMMEDIATE")
    try:
        assert db.write_now(ADD, VALUES, wait=False) is None
    finally:
        other.execute("ROLLBACK")
        other.close()
    (kept,) = db._kept_connections  # the connection it tried with: its busy timeout is back
    assert kept.driver_connection.execute("PRAGMA busy_timeout").fetchone() == (10_000,)
    written = db.write_now(ADD, VALUES, wait=False)
    assert written is not None and written.row is not None
    assert db.read_now(BY_TENANT, {"tenant": "t1"}) is not None


def test_from_the_event_loop_the_lock_once_taken_is_kept_to_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write never waits for the file's lock: it takes it without waiting and holds it from
    then on (nothing in between gives it back and makes the INSERT queue for it again)."""
    db = Database(f"sqlite:///{tmp_path}/raw.db", [])
    META.create_all(db.engine)

    def must_not_wait(self: Any) -> None:
        raise AssertionError("the event loop's write queued for the file's lock")

    monkeypatch.setattr(_QueuedWriterConnection, "_take_write", must_not_wait)
    for _ in range(3):
        written = db.write_now(ADD, VALUES, wait=False)
        assert written is not None and written.row is not None
    assert not _file_write_lock(str(tmp_path / "raw.db")).locked()
