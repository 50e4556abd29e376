"""INIT answered before any routing (:func:`services.payment.router.quick_message`): a new
payment opened in two statements, without a unit of work, with the reply :func:`service.init
<services.payment.service.init>` leads to.

What it reads, in one statement (:data:`INIT_READ`): the partner, the tenant's test clock and
whether the tenant has any INIT switch at all. Then the new payment's ``INSERT … ON CONFLICT DO
NOTHING RETURNING`` (:data:`~services.payment.service.NEW_PAYMENT`), a transaction of its own.

- On SQLite both run on the event loop, on one pooled connection through its DB-API cursor
  (:class:`RawStatement`: compiled once, the columns' types applied to parameters and values as
  SQLAlchemy applies them): they take microseconds, less than a worker-thread hop or
  SQLAlchemy's per-statement work. The ``INSERT`` waits only while another writer of the file
  finishes its transaction (this process's writers queue for the file, and keep it short).
- On PostgreSQL the read goes through :meth:`Database.read_one <vnsandbox.db.Database.read_one>`
  (a round trip from the event loop), the ``INSERT`` through a worker thread in autocommit.

Anything else is left to the route (None), before anything is written (a refused message, an
INIT switch of the tenant, a magic bank completing the payment at once) or instead of it (a
reference already taken: a repeat, or a conflict).

No HTTP types here.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, cast

from anyio import to_thread
from sqlalchemy import BindParameter, Select, Table, and_, bindparam, exists, literal_column, or_, select
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.sql.dml import Insert

from services.payment import errors
from services.payment.models import Partner, Payment
from services.payment.partners import PartnerConfig, config_of, dev_partner
from services.payment.protocol import INIT, MAGIC_BANKS
from services.payment.schemas import InitIn, init_reply
from services.payment.service import (
    INIT_SWITCHES,
    NEW_PAYMENT,
    PARTNER_COLUMNS,
    PartnerRow,
    PaymentRow,
    init_message,
    payment_values,
)
from services.payment.settings import PaymentSettings
from vnsandbox import clock
from vnsandbox.db import ClockOffset, Database, Switch

_CODE: BindParameter[str] = bindparam("code")
_SWITCHES = cast(Table, Switch.__table__)
#: The names of the INIT switches, as parameters of :data:`INIT_READ` (every value of it is one).
_SWITCH_NAMES = {f"switch_{i}": name for i, name in enumerate(INIT_SWITCHES)}
#: Whether the tenant has any INIT switch at all (:data:`~services.payment.service.ANY_INIT_SWITCH`).
_SWITCHED = exists().where(
    _SWITCHES.c.tenant == bindparam("tenant"), or_(*(_SWITCHES.c.name == bindparam(k) for k in _SWITCH_NAMES))
)
#: What an INIT reads before it opens a payment, in one statement: the partner (its columns, or
#: NULLs), the tenant's test clock and whether the tenant has any INIT switch at all, as
#: :func:`~services.payment.service.init` reads them one by one. Always one row.
INIT_READ = select(*PARTNER_COLUMNS, ClockOffset.__table__.c.offset_seconds, _SWITCHED.label("switched")).select_from(
    select(literal_column("1").label("x"))
    .subquery("one")
    .outerjoin(Partner.__table__, and_(Partner.tenant == bindparam("tenant"), Partner.code == _CODE))
    .outerjoin(ClockOffset.__table__, ClockOffset.tenant == bindparam("tenant"))
)
#: The columns of a new payment, in the order :class:`RawStatement` binds them.
_PAYMENT_KEYS = [c.key for c in Payment.__table__.c if c.key != "id"]


class RawStatement:
    """A Core statement run through a DB-API cursor: compiled once for ``dialect`` (positional
    parameters), each parameter as SQLAlchemy binds it (a fixed value of the statement, or one
    given by name; the type's bind processing, e.g. JSON text), each selected value as
    SQLAlchemy reads it (the type's result processing)."""

    def __init__(self, stmt: Select[Any] | Insert, dialect: Dialect, column_keys: list[str] | None = None) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=column_keys)
        self.sql = str(compiled)
        self.params: list[tuple[str, bool, Any, Any]] = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            self.params.append((name, bind.required, bind.effective_value, bind.type.bind_processor(dialect)))
        columns = stmt.selected_columns if isinstance(stmt, Select) else ()
        self.results = [c.type.result_processor(dialect, None) for c in columns]

    def first(self, cursor: Any, given: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The statement's first row with ``given``, or None."""
        values = []
        for name, required, fixed, process in self.params:
            value = given[name] if required else fixed
            values.append(value if process is None else process(value))
        cursor.execute(self.sql, values)
        row: Sequence[Any] | None = cursor.fetchone()
        if row is None or not self.results:
            return None if row is None else tuple(row)
        return tuple(v if p is None else p(v) for v, p in zip(row, self.results, strict=True))


class _Statements:
    """:data:`INIT_READ` and the ``INSERT`` of a new payment on SQLite, for one engine."""

    def __init__(self, engine: Engine) -> None:
        self.read = RawStatement(INIT_READ, engine.dialect)
        self.insert = RawStatement(NEW_PAYMENT["sqlite"], engine.dialect, _PAYMENT_KEYS)
        #: Connections of the engine's pool kept between INITs, with no transaction open (as many
        #: as have run at once: INITs run on the event loop one after the other, so one).
        self.idle: list[Any] = []


#: Per database: its :class:`_Statements` (SQLite) or its engine in autocommit (PostgreSQL: a lone
#: ``INSERT`` is its own transaction, without ``BEGIN``/``COMMIT`` round trips).
_PREPARED: weakref.WeakKeyDictionary[Database, _Statements | Engine] = weakref.WeakKeyDictionary()


def _prepared(db: Database) -> _Statements | Engine:
    found = _PREPARED.get(db)
    if found is None:
        if db.dialect == "sqlite":
            found = _Statements(db.engine)
        else:
            found = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        _PREPARED[db] = found
    return found


class _Opening:
    """An INIT that checked out so far, to open its payment: what the read finds decides."""

    def __init__(self, tenant: str, settings: PaymentSettings, body: Mapping[str, Any], msg: InitIn) -> None:
        self.tenant, self.settings, self.body, self.msg = tenant, settings, body, msg
        self.code: str = body["MaDoiTac"]
        self.read_params = {"tenant": tenant, "code": self.code, **_SWITCH_NAMES}

    def checked(self, row: Sequence[Any] | None) -> tuple[PartnerConfig, dict[str, Any]] | None:
        """The partner that signed the message and the new payment's row, from the read's row;
        None for a tenant with an INIT switch, an unknown partner or a wrong checksum."""
        if row is None or row[-1]:
            return None  # an INIT switch: counted and applied in the route's order
        n = len(PARTNER_COLUMNS)
        if row[0] is not None:
            partner = config_of(cast(Partner, PartnerRow(*row[:n])))
        elif self.settings.dev_partner_enabled and self.code == self.settings.dev_partner_code:
            partner = dev_partner(self.settings)
        else:
            return None
        if not partner.key.verify(INIT, self.body, self.body["MaXacThuc"]):
            return None
        now = time.time() + clock.offset_of(row[n])
        return partner, payment_values(self.tenant, self.settings, partner.code, self.msg, self.body, now)


def _open_on_sqlite(db: Database, statements: _Statements, opening: _Opening) -> tuple[PartnerConfig, Payment] | None:
    conn = statements.idle.pop() if statements.idle else db.engine.raw_connection()
    try:
        cursor = conn.cursor()
        found = opening.checked(statements.read.first(cursor, opening.read_params))
        row = None
        if found is not None:
            row = statements.insert.first(cursor, found[1])
            conn.commit()
    except BaseException:
        conn.close()  # back to the pool, which rolls back what was not committed
        raise
    statements.idle.append(conn)  # a read opens no transaction; a write was committed
    if found is None or row is None:
        return None
    partner, values = found
    return partner, cast(Payment, PaymentRow(**{**values, "id": row[0]}))


def _insert(engine: Engine, values: dict[str, Any]) -> int | None:
    with engine.begin() as conn:
        new_id: int | None = conn.execute(NEW_PAYMENT[engine.dialect.name], values).scalar()
        return new_id


async def _open_on_server(db: Database, engine: Engine, opening: _Opening) -> tuple[PartnerConfig, Payment] | None:
    row = await db.read_one(INIT_READ, opening.read_params)
    found = opening.checked(row)
    if found is None:
        return None
    partner, values = found
    new_id = await to_thread.run_sync(_insert, engine, values)
    return None if new_id is None else (partner, cast(Payment, PaymentRow(**{**values, "id": new_id})))


async def init_quick(
    db: Database, tenant: str, settings: PaymentSettings, body: Mapping[str, Any], base_url: str
) -> dict[str, Any] | None:
    """The signed INIT reply of a new payment opened at ``base_url``, or None (the route answers)."""
    code, given = body.get("MaDoiTac"), body.get("MaXacThuc")
    if not isinstance(code, str) or not code or not isinstance(given, str) or not given:
        return None
    try:
        msg = init_message(body)
    except errors.PayGovError:
        return None
    if (msg.bank_code or "") in MAGIC_BANKS:
        return None  # completed at once, with its notice
    opening = _Opening(tenant, settings, body, msg)
    prepared = _prepared(db)
    if isinstance(prepared, _Statements):
        opened = _open_on_sqlite(db, prepared, opening)
    else:
        opened = await _open_on_server(db, prepared, opening)
    if opened is None:
        return None
    partner, payment = opened
    return partner.key.sign("INIT_REPLY", init_reply(payment, f"{base_url}/pay/{tenant}/{payment.page_token}"))
