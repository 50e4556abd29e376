"""Bulk inserts (``vnsandbox.bulk.insert_rows``): COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import JSON, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from tests.support import PostgresDatabases
from vnsandbox.bulk import insert_rows
from vnsandbox.db import make_engine


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    data: Mapped[Any] = mapped_column(JSON, nullable=True)


class Note(Base):
    __tablename__ = "note"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_code: Mapped[str] = mapped_column(String(20))
    data: Mapped[Any] = mapped_column(JSON, nullable=True)


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bulk.db'}"
    pg: PostgresDatabases = request.getfixturevalue("postgres")
    return pg.create("bulk")


def test_rows_sharing_a_value_store_the_same_json_in_both_tables(url: str) -> None:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    shared = {"TenTTHC": "Đăng ký khai sinh", "DanhSachLePhi": [{"MucPhi": 8000}], "n": None}
    other = {"TenTTHC": "Đăng ký khai sinh", "DanhSachLePhi": [{"MucPhi": 8000}], "n": None}  # equal, not the same
    texts: dict[int, str] = {}
    with Session(engine) as session:
        insert_rows(session, Item, [{"code": "a", "data": shared}, {"code": "b", "data": other}], texts)
        insert_rows(session, Note, [{"item_code": "a", "data": shared}, {"item_code": "z", "data": None}], texts)
        session.commit()
        items = dict(session.execute(select(Item.code, Item.data)).all())
        notes = dict(session.execute(select(Note.item_code, Note.data)).all())
    engine.dispose()
    assert items == {"a": shared, "b": other}
    assert notes == {"a": shared, "z": None}
    if url.startswith("postgresql"):
        # Each distinct object encoded once, as the dialect encodes it.
        assert texts == {id(shared): json.dumps(shared), id(other): json.dumps(other), id(None): "null"}


def test_a_refused_row_writes_nothing_of_the_call(url: str) -> None:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        insert_rows(session, Item, [{"code": "a", "data": {}}])
        session.commit()
        with pytest.raises(IntegrityError):
            insert_rows(session, Item, [{"code": "b", "data": {}}, {"code": "a", "data": {}}])
        session.rollback()
        assert session.scalars(select(Item.code)).all() == ["a"]
    engine.dispose()
