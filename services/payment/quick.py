"""INIT answered before any routing (:func:`services.payment.router.quick_message`): a new
payment opened in two statements, without a unit of work, with the reply :func:`service.init
<services.payment.service.init>` leads to.

What it reads, in one statement (:data:`INIT_READ`): the partner, the tenant's test clock and
whether the tenant has any INIT switch at all. Then the new payment's ``INSERT … ON CONFLICT DO
NOTHING RETURNING`` (:data:`~services.payment.service.NEW_PAYMENT`), a transaction of its own.

The read goes through :meth:`Database.read_one <vnsandbox.db.Database.read_one>` from the event
loop (on SQLite through the driver, :class:`~vnsandbox.db.RawStatement`; on PostgreSQL one round
trip). The ``INSERT`` goes through :meth:`Database.write_now <vnsandbox.db.Database.write_now>`:
on SQLite from the event loop when the file is free at that moment (microseconds, less than a
worker-thread hop), else, and on PostgreSQL, from a worker thread; the loop never waits for a
writer.

Anything else is left to the route (None), before anything is written (a refused message, an
INIT switch of the tenant, a magic bank completing the payment at once) or instead of it (a
reference already taken: a repeat, or a conflict).

No HTTP types here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, cast

from anyio import to_thread
from sqlalchemy import BindParameter, Table, and_, bindparam, exists, literal_column, or_, select

from services.payment import errors
from services.payment.models import Partner, Payment
from services.payment.partners import PartnerColumns, PartnerConfig, partner_of
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
        stored = None if row[0] is None else cast(PartnerColumns, PartnerRow(*row[:n]))
        partner = partner_of(stored, self.settings, self.code)
        if partner is None:
            return None
        if not partner.key.verify(INIT, self.body, self.body["MaXacThuc"]):
            return None
        now = time.time() + clock.offset_of(row[n])
        return partner, payment_values(self.tenant, self.settings, partner.code, self.msg, self.body, now)


async def _open(db: Database, opening: _Opening) -> tuple[PartnerConfig, Payment] | None:
    row = await db.read_one(INIT_READ, opening.read_params)
    found = opening.checked(row)
    if found is None:
        return None
    partner, values = found
    insert = NEW_PAYMENT[db.dialect]
    written = db.write_now(insert, values, wait=False) or await to_thread.run_sync(
        partial(db.write_now, insert, values)
    )
    if written is None or written.row is None:
        return None  # the reference is taken: a repeat or a conflict, the route's to answer
    return partner, cast(Payment, PaymentRow(**{**values, "id": written.row[0]}))


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
    opened = await _open(db, _Opening(tenant, settings, body, msg))
    if opened is None:
        return None
    partner, payment = opened
    return partner.key.sign("INIT_REPLY", init_reply(payment, f"{base_url}/pay/{tenant}/{payment.page_token}"))
