"""The event-loop reader of PostgreSQL (``vnsandbox.db.AsyncReader``): at most ``size``
connections however many callers, each caller served, a connection lost while idle replaced
without the caller noticing, and a caller cancelled while waiting losing nobody a connection."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from vnsandbox.db import AsyncReader

SLOW = "SELECT %(n)s::int, pg_sleep(0.02)"


def test_many_callers_share_a_few_connections(postgres):
    url = postgres.create("reader_many")

    async def scenario() -> tuple[list[int], int, int]:
        reader = AsyncReader(url, size=3)
        rows = await asyncio.gather(*(reader.fetch_one(SLOW, {"n": i}) for i in range(20)))
        opened, kept = reader._open, len(reader._idle)
        reader.drop_idle()
        return [r[0] for r in rows if r is not None], opened, kept

    got, opened, kept = asyncio.run(scenario())
    assert got == list(range(20))
    assert opened == kept == 3


def test_a_connection_lost_while_idle_is_replaced(postgres):
    url = postgres.create("reader_lost")

    async def scenario() -> tuple[int, int]:
        reader = AsyncReader(url, size=1)
        first = await reader.fetch_one("SELECT pg_backend_pid()", {})
        assert first is not None
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first[0],))
        second = await reader.fetch_one("SELECT pg_backend_pid()", {})
        assert second is not None
        opened = reader._open
        reader.drop_idle()
        return second[0] - first[0], opened

    moved, opened = asyncio.run(scenario())
    assert moved != 0 and opened == 1  # a new backend, and the dead connection no longer counted


def test_a_caller_cancelled_while_waiting_takes_no_connection_away(postgres):
    url = postgres.create("reader_cancel")

    async def scenario() -> tuple[list[int], int]:
        reader = AsyncReader(url, size=1)
        busy = asyncio.create_task(reader.fetch_one(SLOW, {"n": 1}))
        await asyncio.sleep(0.005)
        waiting = [asyncio.create_task(reader.fetch_one(SLOW, {"n": n})) for n in (2, 3)]
        await asyncio.sleep(0.005)
        waiting[0].cancel()
        row_1, row_3 = await asyncio.wait_for(asyncio.gather(busy, waiting[1]), timeout=10)
        with pytest.raises(asyncio.CancelledError):
            await waiting[0]
        opened = reader._open
        reader.drop_idle()
        return [r[0] for r in (row_1, row_3) if r is not None], opened

    got, opened = asyncio.run(scenario())
    assert got == [1, 3] and opened == 1


def test_an_error_in_a_statement_leaves_the_connection_usable(postgres):
    url = postgres.create("reader_error")

    async def scenario() -> int | None:
        reader = AsyncReader(url, size=1)
        with pytest.raises(psycopg.errors.DivisionByZero):
            await reader.fetch_one("SELECT 1 / %(zero)s::int", {"zero": 0})
        row = await reader.fetch_one("SELECT 7", {})
        reader.drop_idle()
        return None if row is None else row[0]

    assert asyncio.run(scenario()) == 7
