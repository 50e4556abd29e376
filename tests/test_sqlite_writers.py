"""SQLite writers of one process queue for their file on a lock held for exactly the write
transaction: taken by the first statement that may write, released by commit, rollback or close;
reads outside a transaction never take it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from vnsandbox.db import ClockOffset, ControlBase, Database, _file_write_lock


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path}/writers.db", [])
    ControlBase.metadata.create_all(database.engine)
    return database


def lock_of(tmp_path: Path) -> bool:
    return _file_write_lock(str(tmp_path / "writers.db")).locked()


def test_many_threads_writing_at_once_all_commit(db: Database, tmp_path: Path) -> None:
    def write(i: int) -> None:
        with db.session() as session:
            session.add(ClockOffset(tenant=f"t{i}", offset_seconds=float(i)))

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(write, range(200)))
    with db.session() as session:
        assert len(session.scalars(select(ClockOffset)).all()) == 200
    assert not lock_of(tmp_path)


def test_the_lock_is_held_from_the_first_write_to_the_commit(db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        session.scalars(select(ClockOffset)).all()
        assert not lock_of(tmp_path), "a read outside a transaction holds nothing"
        session.add(ClockOffset(tenant="a", offset_seconds=1.0))
        session.flush()
        assert lock_of(tmp_path)
    assert not lock_of(tmp_path)


def test_a_failed_write_keeps_the_lock_until_its_rollback(db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        session.add(ClockOffset(tenant="a", offset_seconds=1.0))
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(ClockOffset(tenant="a", offset_seconds=2.0))
        session.flush()
    assert not lock_of(tmp_path)
    with db.session() as session:  # the file is writable again at once
        session.add(ClockOffset(tenant="b", offset_seconds=3.0))
    with db.session() as session:
        assert {c.tenant: c.offset_seconds for c in session.scalars(select(ClockOffset))} == {"a": 1.0, "b": 3.0}


def test_each_file_has_its_own_lock(db: Database, tmp_path: Path) -> None:
    other = Database(f"sqlite:///{tmp_path}/other.db", [])
    ControlBase.metadata.create_all(other.engine)
    with db.session() as session:
        session.add(ClockOffset(tenant="a", offset_seconds=1.0))
        session.flush()
        with other.session() as second:  # would wait for the busy timeout if the lock were shared
            second.add(ClockOffset(tenant="a", offset_seconds=1.0))
    other.dispose()
