"""The journal kept in the gateway's database, so that every replica reads the same one.

The hot path only appends the entry to an in-memory queue. A background task writes the
queue in batches (every ``GATEWAY_JOURNAL_FLUSH_S``, 0.1 s by default, or as soon as
``GATEWAY_JOURNAL_FLUSH_BATCH`` entries wait), redacting each entry as it is written, and
then trims each written tenant to its newest ``GATEWAY_JOURNAL_SIZE`` entries; entries
older than ``GATEWAY_JOURNAL_MAX_AGE_S`` are deleted once a minute.

A read first writes this replica's own queue, so a caller sees at once the calls this
replica relayed. Calls relayed by another replica reach the database within that replica's
flush interval; so that a read sees them too, a read waits ``GATEWAY_JOURNAL_SETTLE_S``
(twice the flush interval by default) before it reads, whenever another replica was seen
alive lately (replicas announce themselves in ``gateway_replica`` at start and every
2 s). A
lone replica reads at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections import deque
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, insert, select, text

from gateway.journal import GatewayEntry, GatewayQuery, query
from gateway.models import JournalRow
from vnsandbox.db import Database

log = logging.getLogger("gateway.journal")
_T = cast(Table, JournalRow.__table__)
#: Seconds between a replica's announcements, and how long one counts as alive after.
HEARTBEAT_S = 2.0
ALIVE_S = 3 * HEARTBEAT_S
AGE_SWEEP_S = 60.0


class DatabaseJournal:
    """The journal in the database, written in batches off the hot path."""

    def __init__(
        self,
        db: Database,
        per_tenant: int,
        *,
        max_age_s: float,
        flush_s: float = 0.1,
        batch: int = 500,
        settle_s: float | None = None,
    ) -> None:
        self.db = db
        self.per_tenant = max(1, per_tenant)
        self.max_age_s = max_age_s
        self.flush_s = max(0.01, flush_s)
        self.batch = max(1, batch)
        self.settle_s = 2 * self.flush_s if settle_s is None else settle_s
        self.replica = uuid.uuid4().hex
        #: Entries waiting to be written (append and popleft are safe across threads); bounded,
        #: so a database that cannot keep up costs the oldest waiting entries, never the memory.
        self._queue: deque[GatewayEntry] = deque(maxlen=max(20 * self.batch, 10_000))
        #: Held while a batch is taken and written, so a read never misses one in flight.
        self._write_lock = threading.Lock()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._swept = 0.0

    # -- the hot path -----------------------------------------------------------------------

    def record(self, **fields: Any) -> None:
        self._queue.append(GatewayEntry(id=0, ts=time.time(), **fields))
        if len(self._queue) >= self.batch and self._wake is not None:
            self._wake.set()

    # -- background writing -------------------------------------------------------------------

    async def start(self) -> None:
        self._wake = asyncio.Event()
        await asyncio.to_thread(self._heartbeat)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await asyncio.to_thread(self.flush)
            await asyncio.to_thread(self._leave)
        except Exception:
            log.exception("journal: could not write the last entries at shutdown")

    async def _run(self) -> None:
        assert self._wake is not None
        beat = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_s)
            self._wake.clear()
            try:
                if self._queue:
                    await asyncio.to_thread(self.flush)
                if time.monotonic() - beat >= HEARTBEAT_S:
                    beat = time.monotonic()
                    await asyncio.to_thread(self._heartbeat)
            except Exception:
                log.exception("journal: could not write to the database")

    def flush(self) -> int:
        """Write every queued entry now (thread-safe; a failed batch is logged and dropped)."""
        with self._write_lock:
            return self._write()

    def _write(self) -> int:
        rows: list[dict[str, Any]] = []
        while True:
            try:
                entry = self._queue.popleft()
            except IndexError:
                break
            rows.append(_row(entry))
        if not rows:
            return 0
        tenants = {r["tenant"] for r in rows}
        try:
            with self.db.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    _copy(conn, rows)
                else:
                    conn.execute(insert(_T), rows)
                for tenant in tenants:  # the same order as reads: newest by time
                    newest = (
                        select(_T.c.id)
                        .where(_T.c.tenant == tenant)
                        .order_by(_T.c.ts.desc(), _T.c.id.desc())
                        .limit(self.per_tenant)
                    )
                    conn.execute(delete(_T).where(_T.c.tenant == tenant, _T.c.id.not_in(newest)))
                if time.monotonic() - self._swept >= AGE_SWEEP_S:
                    self._swept = time.monotonic()
                    conn.execute(delete(_T).where(_T.c.ts < time.time() - self.max_age_s))
        except Exception:
            log.exception("journal: dropped a batch of entries", extra={"entries": len(rows)})
            return 0
        return len(rows)

    def _heartbeat(self) -> None:
        """Announce this replica (the database's clock, so replicas' clocks do not matter)."""
        with self.db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO gateway_replica (replica, seen) VALUES (:r, EXTRACT(EPOCH FROM now())) "
                    "ON CONFLICT (replica) DO UPDATE SET seen = EXCLUDED.seen"
                ),
                {"r": self.replica},
            )
            conn.execute(
                text("DELETE FROM gateway_replica WHERE seen < EXTRACT(EPOCH FROM now()) - :old"),
                {"old": 10 * ALIVE_S},
            )

    def others_alive(self) -> bool:
        """Whether another replica announced itself lately."""
        with self.db.engine.connect() as conn:
            others = conn.execute(
                text(
                    "SELECT count(*) FROM gateway_replica WHERE replica <> :r "
                    "AND seen > EXTRACT(EPOCH FROM now()) - :alive"
                ),
                {"r": self.replica, "alive": ALIVE_S},
            ).scalar()
        return bool(others)

    def _leave(self) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(text("DELETE FROM gateway_replica WHERE replica = :r"), {"r": self.replica})

    # -- reads ----------------------------------------------------------------------------------

    def settle(self) -> None:
        """Write this replica's queue, and give the other replicas' batches time to land."""
        self.flush()
        if self.settle_s > 0 and self.others_alive():
            time.sleep(self.settle_s)  # reads run in a worker thread, never on the event loop

    def entries(self, tenant: str) -> list[GatewayEntry]:
        self.settle()
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(_T).where(_T.c.tenant == tenant).order_by(_T.c.ts.desc(), _T.c.id.desc()).limit(self.per_tenant)
            ).all()
        return [_entry(r._mapping) for r in rows]

    def query(self, tenant: str, q: GatewayQuery) -> tuple[int, list[GatewayEntry]]:
        return query(self, tenant, q)

    def clear(self, tenant: str) -> int:
        self.settle()
        with self.db.engine.begin() as conn:
            return conn.execute(delete(_T).where(_T.c.tenant == tenant)).rowcount or 0


_COLUMNS = (
    "tenant", "ts", "request_id", "consumer", "api", "upstream", "method", "path", "status", "duration_ms", "fault",
    "error", "detail",
)  # fmt: skip
_JSON = frozenset({"fault", "detail"})


def _copy(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """One ``COPY`` for the whole batch (several times faster than row-by-row inserts)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(f"COPY gateway_journal ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([_value(row[c], c in _JSON) for c in _COLUMNS])


def _value(value: Any, is_json: bool) -> Any:
    """A column's value for ``COPY``: JSON as text; PostgreSQL text cannot hold NUL (a decoded
    ``%00`` in a path), which would refuse the whole batch, so it becomes U+FFFD."""
    if is_json:
        return None if value is None else json.dumps(value)
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def _row(e: GatewayEntry) -> dict[str, Any]:
    return {
        "tenant": e.tenant,
        "ts": e.ts,
        "request_id": e.request_id,
        "consumer": e.consumer,
        "api": e.api,
        "upstream": e.upstream,
        "method": e.method,
        "path": e.path,
        "status": e.status,
        "duration_ms": e.duration_ms,
        "fault": e.fault,
        "error": e.error,
        "detail": e.rendered(),
    }


def _entry(m: Any) -> GatewayEntry:
    detail = dict(m["detail"])
    return GatewayEntry(
        id=m["id"],
        ts=m["ts"],
        request_id=m["request_id"],
        tenant=m["tenant"],
        consumer=m["consumer"],
        api=m["api"],
        upstream=m["upstream"],
        method=m["method"],
        path=m["path"],
        query=detail.get("query", ""),
        status=m["status"],
        duration_ms=m["duration_ms"],
        raw_headers=None,
        fault=m["fault"],
        error=m["error"],
        _rendered=detail,
    )
