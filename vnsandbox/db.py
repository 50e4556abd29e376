"""Database engine, sessions, migrations and the control tables every service shares.

Storage is synchronous SQLAlchemy 2. Why sync: the embedded default is SQLite, whose
drivers are synchronous anyway (async SQLite drivers run it in a thread), Alembic is
synchronous, bulk loads with ``executemany`` are fastest on psycopg's sync path, and
FastAPI runs sync endpoints in its thread pool so the event loop never blocks. The hot
path of the sandbox, the gateway, touches no database at all.

Each service owns its own database (SQLite file ``<data_dir>/<service>.db`` or the
``<SERVICE>_DATABASE_URL`` it is given) and its own Alembic migration history, applied
at start. Every table holds a ``tenant`` column: one tenant's reset wipes its rows only.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, NamedTuple, TypeVar, cast

from fastapi import Depends, Request
from sqlalchemy import (
    JSON,
    ClauseElement,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Select,
    String,
    create_engine,
    delete,
    event,
    or_,
    text,
)
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Mapper,
    ORMExecuteState,
    Session,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from starlette.concurrency import run_in_threadpool

from vnsandbox.context import current_tenant
from vnsandbox.errors import SandboxError

T = TypeVar("T")

#: The first Alembic revision of every service (control-plane tables).
CONTROL_VERSIONS = Path(__file__).parent / "migration_versions"

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class ControlBase(DeclarativeBase):
    """Tables of the control plane that every service has (switches, test clock)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Switch(ControlBase):
    """A named behaviour switch (error switch, failure mode), per tenant and scope."""

    __tablename__ = "sandbox_switch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    name: Mapped[str] = mapped_column(String(64))
    #: ``*`` for every caller, or one client / partner / unit code.
    scope: Mapped[str] = mapped_column(String(128), default="*")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: How many more requests it applies to; ``None`` means until removed.
    remaining: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ClockOffset(ControlBase):
    """The per-tenant test clock: an offset added to real time."""

    __tablename__ = "sandbox_clock"

    tenant: Mapped[str] = mapped_column(String(63), primary_key=True)
    offset_seconds: Mapped[float] = mapped_column(default=0.0)


class AuditRecord(ControlBase):
    """One read of a citizen's personal data: who, whose, which fields, why, when."""

    __tablename__ = "sandbox_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    service: Mapped[str] = mapped_column(String(32))
    #: The consumer / OAuth client that read the data.
    client: Mapped[str] = mapped_column(String(128))
    #: Whose data: the citizen's personal identification number (CCCD).
    subject: Mapped[str] = mapped_column(String(32), index=True)
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Purpose given by the caller (``X-Purpose`` header), empty if none.
    purpose: Mapped[str] = mapped_column(String(256), default="")
    action: Mapped[str] = mapped_column(String(64), default="read")
    request_id: Mapped[str] = mapped_column(String(128), default="")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cursor.close()


#: How long a writer waits for the file's write lock, as SQLite's own busy timeout (seconds).
SQLITE_BUSY_TIMEOUT_S = 10.0
_file_write_locks: dict[str, threading.Lock] = {}
_file_write_locks_guard = threading.Lock()


def _file_write_lock(path: str) -> threading.Lock:
    with _file_write_locks_guard:
        return _file_write_locks.setdefault(os.path.realpath(path), threading.Lock())


class _QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions queue for their file in this process.

    SQLite lets one writer at a time have a file; the others wait in its busy handler, which
    sleeps (1, 2, 5, 10 … 100 ms) between attempts. With many worker threads writing short
    transactions, those sleeps, not the work, set the pace. Here a statement that may write
    first takes a per-file lock of the process (threads waiting for it wake as soon as it is
    released), held until the transaction ends; SQLite's own locking still orders writers of
    other processes. A lock not obtained within the busy timeout is SQLite's "database is
    locked", as before."""

    _write_lock: threading.Lock
    _holding = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]  # one factory, always
        return super().cursor(factory or _QueuedWriterCursor)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release_write()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release_write()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._holding:
                self._holding = False
                self._write_lock.release()

    def try_take_write(self) -> bool:
        """Take the file's write lock if it is free now (or already held); never waits."""
        if not self._holding:
            if not self._write_lock.acquire(blocking=False):
                return False
            self._holding = True
        return True

    def _take_write(self) -> None:
        if not self._write_lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_S):
            raise sqlite3.OperationalError("database is locked")
        self._holding = True

    def _release_write(self) -> None:
        if self._holding and not self.in_transaction:
            self._holding = False
            self._write_lock.release()


def _may_write(sql: str) -> bool:
    """Whether a statement may open a write transaction (anything but a plain read)."""
    head = sql.lstrip()[:6].upper()
    return head not in ("SELECT", "PRAGMA")


class _QueuedWriterCursor(sqlite3.Cursor):
    connection: _QueuedWriterConnection

    def execute(self, sql: str, parameters: Any = (), /) -> _QueuedWriterCursor:
        conn = self.connection
        if not conn._holding and _may_write(sql):
            conn._take_write()
        try:
            super().execute(sql, parameters)
        finally:
            conn._release_write()  # a statement that opened no transaction (or failed to) holds nothing
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _QueuedWriterCursor:
        conn = self.connection
        if not conn._holding and _may_write(sql):
            conn._take_write()
        try:
            super().executemany(sql, seq_of_parameters)
        finally:
            conn._release_write()
        return self


def _queued_writer_factory(path: str) -> type[_QueuedWriterConnection]:
    """A connection class sharing the write lock of the file at ``path``."""
    return type("QueuedWriterConnection", (_QueuedWriterConnection,), {"_write_lock": _file_write_lock(path)})


#: Connections kept open: as many as the worker threads that use them (AnyIO's default limit is 40),
#: so a burst of requests does not open and close a connection each (a new SQLite connection also
#: re-reads the schema; a new PostgreSQL one forks a backend).
POOL: dict[str, Any] = {"pool_size": 40, "max_overflow": 10}


def make_engine(url: str) -> Engine:
    """Engine for ``url``; SQLite files get WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
        if not memory:
            path = Path(url.split("///", 1)[1])
            path.parent.mkdir(parents=True, exist_ok=True)
            connect_args["factory"] = _queued_writer_factory(str(path))
        engine = create_engine(
            url,
            connect_args=connect_args,
            **({"poolclass": StaticPool} if memory else POOL),
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, **POOL)
    ping_when_idle(engine)
    return engine


#: A pooled server connection unused for longer than this is checked (one round trip) before
#: it is handed out; one in steady use is not.
PING_AFTER_IDLE_S = 5.0
_RETURNED = "vnsb_returned"


def ping_when_idle(engine: Engine, idle_s: float = PING_AFTER_IDLE_S) -> None:
    """Check a pooled connection before use only when it has sat unused for ``idle_s``.

    What ``pool_pre_ping`` guards against (a server restarted, a connection cut by a proxy
    while idle) happens to idle connections; pinging on every checkout costs a busy service
    one more round trip per request. A dead connection found here is replaced (the pool
    retries with a new one); one that dies while in use fails its statement, and SQLAlchemy
    then renews every connection of the pool."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is None or time.monotonic() - returned < idle_s:
            return  # new (just connected) or in steady use
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"pooled connection is gone: {exc}") from exc
        if not alive:
            raise DisconnectionError("pooled connection is gone")


class Written(NamedTuple):
    """A write :meth:`Database.write_now` made: the first row its ``RETURNING`` gave, if any."""

    row: tuple[Any, ...] | None


class RawStatement:
    """A Core statement run through a DB-API cursor, as SQLAlchemy would run it: compiled once
    for the dialect (``column_keys``: the columns an ``INSERT`` is given), each parameter bound
    as SQLAlchemy binds it (a value given by name, else the statement's own; the type's bind
    processing, e.g. JSON as text, a datetime as SQLite's text), each selected value read as
    SQLAlchemy reads it (the type's result processing). Without SQLAlchemy's per-execution work,
    most of a one-row statement's time on SQLite. No expanding (``IN``) parameters."""

    def __init__(self, stmt: ClauseElement, dialect: Any, column_keys: Sequence[str] | None = None) -> None:
        keys = list(column_keys) if column_keys is not None else None
        compiled = cast(SQLCompiler, stmt.compile(dialect=dialect, column_keys=keys))
        if not compiled.positional:
            raise ValueError("RawStatement needs a dialect with positional parameters (SQLite's)")
        self.sql = str(compiled)
        self.params: list[tuple[str, Any, Any]] = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError(f"RawStatement cannot bind the expanding parameter {name}")
            self.params.append((bind.key, bind.effective_value, bind.type._cached_bind_processor(dialect)))
        columns = getattr(stmt, "selected_columns", None) or getattr(stmt, "exported_columns", None) or ()
        self.results = [c.type._cached_result_processor(dialect, None) for c in columns]

    def first(self, cursor: Any, given: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Run with ``given``: the first row (processed), or None (also for a statement without rows)."""
        values = []
        for name, fixed, process in self.params:
            value = given.get(name, fixed)
            values.append(value if process is None else process(value))
        cursor.execute(self.sql, values)
        if cursor.description is None:
            return None
        row = cursor.fetchone()
        if row is None:
            return None
        return tuple(v if p is None else p(v) for v, p in zip(row, self.results, strict=True))


class Database:
    """A service's engine and session factory."""

    def __init__(self, url: str, metadatas: Sequence[MetaData]) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        #: Sessions of :meth:`read_session`: on PostgreSQL each statement on its own (no
        #: ``BEGIN``/``COMMIT`` round trips); SQLite opens no transaction for reads anyway.
        self.read_sessions = (
            sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)
            if self.dialect == "postgresql"
            else None
        )
        self.metadatas = [ControlBase.metadata, *metadatas]
        #: Statements of :meth:`read_one` as :attr:`reader` runs them.
        self._compiled: dict[Select[Any], str] = {}
        #: SQLite: statements of :meth:`read_now` and :meth:`write_now` as run through the driver,
        #: and the pooled connections they use, kept between uses (as many as ran at once).
        self._raw: dict[tuple[ClauseElement, tuple[str, ...] | None], RawStatement] = {}
        self._kept_connections: list[Any] = []
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        #: Reads answered from the event loop (:class:`AsyncReader`), on PostgreSQL only.
        self.reader = (
            AsyncReader(self.engine.url.set(drivername="postgresql").render_as_string(False))
            if (self.dialect == "postgresql")
            else None
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def read_one(self, stmt: Select[Any], params: Mapping[str, Any]) -> Sequence[Any] | None:
        """The first row of a Core ``SELECT`` (values by position), read from the event loop.

        On PostgreSQL through :attr:`reader` (the statement compiled once); on SQLite, whose
        reads are calls into the process itself, directly on a pooled connection (a short read:
        in WAL mode it never waits for a writer). For the hottest lookups only: nothing here
        applies the session's tenant scope, so ``stmt`` carries its own tenant filter."""
        if self.reader is not None:
            sql = self._compiled.get(stmt)
            if sql is None:
                sql = self._compiled[stmt] = str(stmt.compile(dialect=self.engine.dialect))
            return await self.reader.fetch_one(sql, params)
        return self.read_now(stmt, params)

    def read_now(self, stmt: Select[Any], params: Mapping[str, Any]) -> Sequence[Any] | None:
        """The first row of a Core ``SELECT``, read right here (any thread; on SQLite from the
        event loop too: a short read, which in WAL mode never waits for a writer). On SQLite
        through the driver (:class:`RawStatement`), on PostgreSQL on a pooled connection. As
        :meth:`read_one`, ``stmt`` carries its own tenant filter."""
        if self.dialect != "sqlite":
            with self.engine.connect() as conn:
                return conn.execute(stmt, params).first()
        statement = self._raw_statement(stmt, None)
        with self._driver_connection() as conn:
            return statement.first(conn.cursor(), params)

    def _raw_statement(self, stmt: ClauseElement, column_keys: tuple[str, ...] | None) -> RawStatement:
        found = self._raw.get((stmt, column_keys))
        if found is None:
            found = self._raw[(stmt, column_keys)] = RawStatement(stmt, self.engine.dialect, column_keys)
        return found

    @contextmanager
    def _driver_connection(self) -> Iterator[Any]:
        """A pooled SQLite connection for :meth:`read_now` and :meth:`write_now` (the driver's,
        with no transaction open when it is given back; one that failed goes back to the pool,
        which rolls it back). Kept between uses: a pool checkout costs more than the statement."""
        try:
            conn = self._kept_connections.pop()
        except IndexError:
            conn = self.engine.raw_connection()
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        self._kept_connections.append(conn)

    def write_now(self, stmt: UpdateBase, params: Mapping[str, Any], *, wait: bool = True) -> Written | None:
        """Run one short write (a lone ``INSERT``, say) as its own transaction right here; what
        it wrote (its ``RETURNING`` row, if any). ``wait``: from a worker thread, waiting for the
        file (SQLite) as any writer does. Without ``wait``, from the event loop: on SQLite only
        when no other writer of this process holds the file and no other process does (SQLite's
        busy handler is off for it), else None with nothing written (on PostgreSQL: always
        None), and the caller writes from a worker thread. Either way cheaper than a unit of
        work: on SQLite the driver's statement (:class:`RawStatement`), no ORM."""
        if self.dialect != "sqlite":
            if not wait:
                return None
            with self._autocommit.connect() as conn:  # one statement: no BEGIN/COMMIT round trips
                result = conn.execute(stmt, params)
                first = result.first() if result.returns_rows else None
            return Written(None if first is None else tuple(first))
        statement = self._raw_statement(stmt, tuple(params))
        with self._driver_connection() as conn:
            driver = conn.driver_connection
            if wait:
                row = statement.first(driver.cursor(), params)
                driver.commit()
                return Written(row)
            if not isinstance(driver, _QueuedWriterConnection) or not driver.try_take_write():
                return None
            driver.execute("PRAGMA busy_timeout=0")
            try:
                row = statement.first(driver.cursor(), params)
                driver.commit()
            except sqlite3.OperationalError as exc:
                driver.rollback()
                if "locked" in str(exc) or "busy" in str(exc):
                    return None  # another process writes the file: the caller waits for it elsewhere
                raise
            finally:
                driver.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        return Written(row)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on error — except an
        error that keeps its changes (:attr:`vnsandbox.errors.SandboxError.keep_changes`: a spent
        code, a counted failure switch), whose unit of work is committed before it is answered."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except SandboxError as exc:
            if exc.keep_changes:
                session.commit()
            else:
                session.rollback()
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A unit of work that only reads: on PostgreSQL its statements run without a
        transaction around them (each sees what is committed when it starts, as they would
        in the default READ COMMITTED transaction), which saves the ``BEGIN`` and ``COMMIT``
        round trips. Any attempt to write in it raises :class:`NeedsWrite` before anything is
        written (see :func:`in_unit_of_work`, which then runs the work again in a full unit of
        work). Elsewhere it is :meth:`session`."""
        if self.read_sessions is None:
            with self.session() as session:
                yield session
            return
        session = self.read_sessions()
        session.info[READ_ONLY] = True
        try:
            yield session
        finally:
            session.close()

    def migrate(self, migrations_dir: Path, service: str) -> None:
        """Apply the service's Alembic migrations up to head (serialised on PostgreSQL)."""
        from alembic import command  # only here: a process that only reads starts without Alembic
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(migrations_dir))
        # The control-plane revision every service starts from, then the service's own.
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option(
            "version_locations", os.pathsep.join([str(CONTROL_VERSIONS), str(migrations_dir / "versions")])
        )
        cfg.attributes["version_table"] = f"alembic_version_{service}"
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Replicas starting together: one migrates, the others wait.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(service.encode())})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def wipe(self, session: Session, tenant: str | None) -> dict[str, int]:
        """Delete a tenant's rows in every table (all rows when ``tenant`` is None)."""
        counts: dict[str, int] = {}
        for metadata in reversed(self.metadatas):
            for table in reversed(metadata.sorted_tables):
                stmt = delete(table)
                if tenant is not None and "tenant" in table.c:
                    stmt = stmt.where(table.c.tenant == tenant)
                elif tenant is not None:
                    continue
                counts[table.name] = session.execute(stmt).rowcount  # type: ignore[attr-defined]
        return counts

    def dispose(self) -> None:
        if self.reader is not None:
            self.reader.drop_idle()
        self.engine.dispose()


#: ``psycopg.pq.TransactionStatus.IDLE``: a connection between statements.
IDLE = 0
#: Handed to a caller waiting in :class:`AsyncReader`: the place of a dropped connection, to fill.
_ROOM = object()


class AsyncReader:
    """One-statement reads on PostgreSQL straight from the event loop: a few psycopg
    ``AsyncConnection`` in autocommit (no ``BEGIN``/``COMMIT``: each statement sees what is
    committed when it starts, as in a READ COMMITTED transaction), each statement prepared on
    the server at its first use on a connection.

    For the hottest reads of a service (a lookup by key): no worker-thread hop, no ORM, one
    round trip. Writes never go through it. Connections are opened on demand, at most ``size``
    (more callers wait for one), and kept; one found broken is dropped, and a statement that
    failed on a kept connection (the server restarted, a proxy cut it while idle) is run once
    more on a new one. Connections belong to the event loop that opened them: another loop
    (a test client's) starts afresh."""

    def __init__(self, conninfo: str, size: int = 8) -> None:
        import psycopg  # here: a process on SQLite never loads it

        self._connect = psycopg.AsyncConnection.connect
        self._gone = psycopg.OperationalError
        self.conninfo = conninfo
        self.size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        #: A cursor of each kept connection (one statement at a time on each).
        self._idle: list[Any] = []
        self._open = 0
        #: Callers waiting for a connection, first come first served.
        self._waiters: list[asyncio.Future[Any]] = []

    async def fetch_one(self, sql: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row of ``sql`` with ``params`` (psycopg ``%(name)s`` placeholders), or None."""
        cursor, kept = await self._acquire()
        try:
            return await self._run(cursor, sql, params)
        except self._gone:
            if not kept or not (cursor.connection.closed or cursor.connection.broken):
                raise
        finally:
            self._release(cursor)
        cursor, _ = await self._acquire(fresh=True)  # it was gone while idle: once more, on a new one
        try:
            return await self._run(cursor, sql, params)
        finally:
            self._release(cursor)

    @staticmethod
    async def _run(cursor: Any, sql: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        await cursor.execute(sql, params, prepare=True)
        row: tuple[Any, ...] | None = await cursor.fetchone()
        return row

    async def _acquire(self, fresh: bool = False) -> tuple[Any, bool]:
        """A kept connection's cursor (and True), or a new connection's (and False). When every
        connection is in use, callers queue; each released connection goes to the first."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self.drop_idle()
            self._loop, self._open, self._waiters = loop, 0, []
        if not fresh and self._idle:
            return self._idle.pop(), True
        if fresh or self._open < self.size:
            self._open += 1
            return await self._new_connection(), False
        waiter: asyncio.Future[Any] = loop.create_future()
        self._waiters.append(waiter)
        try:
            got = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():  # handed over, then cancelled: to the next
                handed = waiter.result()
                if handed is _ROOM:
                    self._room_freed()
                else:
                    self._release(handed)
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise
        if got is _ROOM:  # a connection was dropped: its place is this caller's
            return await self._new_connection(), False
        return got, True

    async def _new_connection(self) -> Any:
        """A new connection's cursor, in a place already counted in ``_open``."""
        try:
            conn = await self._connect(self.conninfo, autocommit=True)
        except BaseException:
            self._room_freed()
            raise
        return conn.cursor()

    def _release(self, cursor: Any) -> None:
        conn = cursor.connection
        if conn.closed or conn.broken or conn.info.transaction_status != IDLE:
            conn.pgconn.finish()
            self._room_freed()
        elif not self._hand_over(cursor):
            self._idle.append(cursor)

    def _room_freed(self) -> None:
        """A counted connection is gone: its place goes to the first caller waiting, if any."""
        if not self._hand_over(_ROOM):
            self._open -= 1

    def _hand_over(self, item: Any) -> bool:
        """Give ``item`` (a cursor, or :data:`_ROOM`) to the first caller still waiting."""
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(item)
                return True
        return False

    def drop_idle(self) -> None:
        """Close the kept connections (at shutdown; the loop they belong to may be gone)."""
        idle, self._idle = self._idle, []
        self._open -= len(idle)
        for cursor in idle:
            cursor.connection.pgconn.finish()


#: ``Session.info`` key naming the tenant a session is scoped to (see :func:`scope_to_tenant`).
TENANT_SCOPE = "tenant_scope"
#: Rows every tenant reads and none writes (no tenant name can start with ``_``).
SHARED_TENANT = "_base"
#: Execution option that lets one statement of a tenant-scoped session read across tenants.
ALL_TENANTS = "all_tenants"
#: ``Session.info`` key marking a session of :meth:`Database.read_session`.
READ_ONLY = "read_only"


class NeedsWrite(Exception):
    """Raised in a read-only unit of work (:meth:`Database.read_session`) by its first attempt
    to write (a flush, a savepoint, a statement through the session other than a plain
    ``SELECT``: ``INSERT``/``UPDATE``/``DELETE``, ``SELECT … FOR UPDATE``), before it is sent."""


def _refuse_write(session: Session) -> None:
    if session.info.get(READ_ONLY):
        raise NeedsWrite()


@event.listens_for(Session, "before_flush")
def _no_flush_in_read_unit(session: Session, _context: Any, _instances: Any) -> None:
    _refuse_write(session)


@event.listens_for(Session, "after_transaction_create")
def _no_savepoint_in_read_unit(session: Session, transaction: Any) -> None:
    if transaction.nested:
        _refuse_write(session)


def scope_to_tenant(session: Session, tenant: str) -> Session:
    """Make every ORM query of ``session`` see ``tenant``'s rows only.

    Each ORM ``SELECT``, ``UPDATE`` and ``DELETE`` the session runs gets the criterion
    ``<entity>.tenant == tenant`` for every entity with a ``tenant`` column it touches
    (joins, relationship loads and ``Session.get`` included), so a query written without
    its own tenant filter still cannot read or change another tenant's rows. Request
    sessions (:data:`SessionDep`) are scoped; reads also see the shared read-only rows of
    :data:`SHARED_TENANT`; background workers, which serve every tenant,
    use unscoped sessions. A statement that must see every tenant says so with
    ``.execution_options(all_tenants=True)``.
    """
    session.info[TENANT_SCOPE] = tenant
    return session


@lru_cache(maxsize=4096)
def _tenant_criteria(mapper: Mapper[Any], visible: tuple[str, ...]) -> Any:
    """The loader criterion ``cls.tenant`` ∈ ``visible``, made once per entity and tenant.

    A plain expression rather than a lambda: SQLAlchemy analyses a lambda's closure at every
    execution; an expression's values are bound parameters, so the statement cache still
    serves every tenant with one compiled form."""
    column = mapper.class_.tenant
    criterion = column == visible[0] if len(visible) == 1 else or_(*(column == v for v in visible))
    return with_loader_criteria(mapper.class_, criterion, include_aliases=True)


@event.listens_for(Session, "do_orm_execute")
def _apply_tenant_scope(state: ORMExecuteState) -> None:
    if not state.is_select or getattr(state.statement, "_for_update_arg", None) is not None:
        _refuse_write(state.session)  # a write, or a read that locks rows for one
    tenant = state.session.info.get(TENANT_SCOPE)
    if tenant is None or state.execution_options.get(ALL_TENANTS):
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    # Reads also see the shared read-only layer (identity's base population and keys); writes never.
    visible = (tenant, SHARED_TENANT) if state.is_select else (tenant,)
    options = [_tenant_criteria(mapper, visible) for mapper in state.all_mappers if "tenant" in mapper.columns]
    if options:
        state.statement = state.statement.options(*options)


def write_lock(session: Session) -> None:
    """Make the rest of this unit of work the database's only writer, on SQLite.

    SQLite reads outside a write transaction see whatever was last committed, so a
    read-check-write sequence (the current status, the replay keys) can act on a stale
    state when another process writes the same file in between. ``BEGIN IMMEDIATE`` takes
    the file's write lock before the reads (other writers wait, up to the busy timeout).
    A transaction that has already written holds that lock. On PostgreSQL this does
    nothing: callers lock the rows they change (``SELECT … FOR UPDATE``)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    session.flush()  # pending changes open the transaction (and take the lock) first
    conn = session.connection()
    if not getattr(conn.connection.dbapi_connection, "in_transaction", True):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: the request's unit of work, scoped to the request's tenant and
    committed after the endpoint returns."""
    db: Database = request.app.state.db
    with db.session() as session:
        yield scope_to_tenant(session, current_tenant())


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def in_unit_of_work(request: Request, work: Callable[[Session], T], *, read_only: bool = False) -> T:
    """Run ``work`` with the request's unit of work (as :data:`SessionDep` gives it: scoped to
    the request's tenant, committed when ``work`` returns) in one worker thread.

    For an ``async def`` endpoint whose whole database work is synchronous: one thread-pool
    hop per request instead of three (entering and leaving the session dependency, then the
    endpoint), which is most of a short read's framework cost.

    ``read_only``: work that normally only reads runs in :meth:`Database.read_session`; should
    it need to write after all (a missing default row to create, say), it is run again, from
    the start, in a full unit of work (nothing was written by the first attempt)."""
    db: Database = request.app.state.db
    tenant = current_tenant()

    def run() -> T:
        if read_only:
            try:
                with db.read_session() as session:
                    return work(scope_to_tenant(session, tenant))
            except NeedsWrite:
                pass
        with db.session() as session:
            return work(scope_to_tenant(session, tenant))

    return await run_in_threadpool(run)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
