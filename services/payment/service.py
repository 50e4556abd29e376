"""Behaviour of the payment platform's messages: INIT (with its switches), QUERY and REFUND,
and the outcome of a payment (completion, expiry and its sweep, the report to the dossier service).

The other concerns have their own modules: partners (:mod:`~services.payment.partners`),
looking payments up (:mod:`~services.payment.lookups`), notices to partners
(:mod:`~services.payment.notices`), the hosted page (:mod:`~services.payment.page`), receipts
and reconciliation (:mod:`~services.payment.reports`), bank and procedure names
(:mod:`~services.payment.names`).

No HTTP types here. Functions take the request's unit of work (``session``) and never
commit it; the router's dependency commits after the endpoint returns, so a refused
message leaves nothing behind. Notices are outbox rows written in the same unit of work
as the outcome they announce: an outcome without its notice cannot be committed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
import uuid
from collections import namedtuple
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import BindParameter, Table, and_, bindparam, func, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.payment import errors
from services.payment.lookups import find_payment
from services.payment.models import CANCELLED, EXPIRED, FAILED, PENDING, SUCCESS, Partner, Payment, Refund
from services.payment.notices import NOTICE_KIND, REFUND_NOTICE_KIND, notify
from services.payment.partners import PartnerColumns, PartnerConfig, find_partner, partner_of
from services.payment.protocol import (
    INIT,
    MAGIC_BANKS,
    NOTIFY,
    QUERY,
    REFUND,
    REFUND_NOTIFY,
    REQUEST_TYPES,
    RESULT_CODES,
    outcome_for,
    wire_time,
)
from services.payment.schemas import (
    InitIn,
    QueryIn,
    RefundIn,
    notice_fields,
    parse_message,
    query_reply,
    refund_notice_fields,
)
from services.payment.settings import PaymentSettings
from vnsandbox import clock, switches
from vnsandbox.calls import service_caller, signed_headers
from vnsandbox.db import ClockOffset, Database, Switch
from vnsandbox.outbox import enqueue

log = logging.getLogger("services.payment")

STATUS_OF_OUTCOME = {
    "success": SUCCESS,
    "insufficient_funds": FAILED,
    "card_locked": FAILED,
    "cancelled": CANCELLED,
    "timeout": EXPIRED,
}

#: Switches of the payment service (name → what it does); scope = a partner code or ``*``.
SWITCHES = {
    "init_slow": "INIT answers after params.delay_s seconds (default 5, at most PAYMENT_MAX_SLOW_S)",
    "init_fail": "INIT is refused with 503 PLATFORM_UNAVAILABLE",
    "notice_duplicate": "each result/refund notice is sent params.copies times (default 2), distinct delivery ids",
    "notice_out_of_order": (
        "a notice is held back params.delay_s test-clock seconds (default 30), so later notices overtake it"
    ),
    "notice_wrong_checksum": "a notice is sent with a wrong MaXacThuc (the partner must refuse it)",
}

DOSSIER_KIND = "dossier.payment"


def now_ts(session: Session, tenant: str) -> float:
    """The tenant's test-clock time in epoch seconds."""
    return clock.now(session, tenant).timestamp()


# --- Messages ---------------------------------------------------------------------------


def message_type(body: Mapping[str, Any]) -> str:
    """``LoaiBanTin`` of an incoming message; unknown types have their own error."""
    value = body.get("LoaiBanTin")
    if value is None or value == "":
        raise errors.FieldMissing(details=[{"field": "LoaiBanTin", "rule": "missing", "message": "Field required"}])
    if value not in REQUEST_TYPES:
        raise errors.MessageTypeUnknown(
            details=[{"field": "LoaiBanTin", "rule": "one_of", "message": f"one of {', '.join(REQUEST_TYPES)}"}]
        )
    return str(value)


def authenticate(
    session: Session, tenant: str, settings: PaymentSettings, body: Mapping[str, Any], msg_type: str
) -> PartnerConfig:
    """The partner named by ``MaDoiTac``, once the message's ``MaXacThuc`` checks out."""
    code = body.get("MaDoiTac")
    if code is None or code == "":
        raise errors.FieldMissing(details=[{"field": "MaDoiTac", "rule": "missing", "message": "Field required"}])
    if not isinstance(code, str):
        raise errors.FieldInvalid(details=[{"field": "MaDoiTac", "rule": "string_type", "message": "must be a string"}])
    partner = find_partner(session, tenant, settings, code)
    if partner is None:
        raise errors.PartnerUnknown(details=[{"field": "MaDoiTac", "rule": "registered", "message": code}])
    given = body.get("MaXacThuc")
    if given is None or given == "":
        raise errors.FieldMissing(details=[{"field": "MaXacThuc", "rule": "missing", "message": "Field required"}])
    if not isinstance(given, str) or not partner.key.verify(msg_type, body, given):
        raise errors.ChecksumInvalid(
            details=[
                {
                    "field": "MaXacThuc",
                    "rule": f"hmac-{partner.key.algorithm}",
                    "message": "HMAC over " + "|".join(partner.key.order(msg_type)),
                }
            ]
        )
    return partner


def fingerprint(body: Mapping[str, Any]) -> str:
    """Content hash of a message, its checksum left out."""
    content = {k: v for k, v in body.items() if k != "MaXacThuc"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


INIT_SWITCHES = ("init_slow", "init_fail")
_SWITCHES = cast(Table, Switch.__table__)
#: Built once (every INIT reads it): whether the tenant has any INIT switch at all.
_ANY_INIT_SWITCH = (
    select(_SWITCHES.c.id)
    .where(_SWITCHES.c.tenant == bindparam("tenant"), or_(*(_SWITCHES.c.name == n for n in INIT_SWITCHES)))
    .limit(1)
)


def take_init_switches(db: Database, session: Session, tenant: str, partner_code: str) -> tuple[float, bool]:
    """``(delay_s, fail)`` from the INIT switches, counted in their own unit of work.

    Separate from the request's unit of work so that a use is counted even when the
    INIT is then refused (rolled back), and no database lock is held while INIT sleeps.
    The common case, no INIT switch at all, costs one read in the request's session.
    """
    if session.execute(_ANY_INIT_SWITCH, {"tenant": tenant}).first() is None:
        return 0.0, False
    with db.session() as session:
        slow = switches.take(session, tenant, "init_slow", partner_code)
        fail = switches.take(session, tenant, "init_fail", partner_code)
        delay = 0.0
        if slow is not None:
            try:
                delay = float(slow.params.get("delay_s", 5))
            except (TypeError, ValueError):
                delay = 5.0
        return max(0.0, delay), fail is not None


def apply_init_switches(
    db: Database,
    session: Session,
    tenant: str,
    settings: PaymentSettings,
    body: Mapping[str, Any],
    notes: dict[str, Any],
) -> None:
    """Apply the INIT switches of the message's partner: ``init_slow`` waits (at most
    ``PAYMENT_MAX_SLOW_S``), ``init_fail`` refuses with ``PLATFORM_UNAVAILABLE``; what was
    applied is written to ``notes`` (the request's journal notes)."""
    code = body.get("MaDoiTac")
    if not isinstance(code, str) or not code:
        return
    delay, fail = take_init_switches(db, session, tenant, code)
    if delay:
        delay = min(delay, settings.max_slow_s)
        notes["switch_init_slow_s"] = delay
        time.sleep(delay)
    if fail:
        notes["switch_init_fail"] = True
        raise errors.PlatformUnavailable()


_PAYMENTS = cast(Table, Payment.__table__)
_REFERENCE = [_PAYMENTS.c.tenant, _PAYMENTS.c.partner_code, _PAYMENTS.c.reference]
#: A new payment's row and its id, or no row when its reference is taken (per dialect: the
#: ``ON CONFLICT`` clause is each database's own).
NEW_PAYMENT = {
    "sqlite": sqlite_insert(_PAYMENTS).on_conflict_do_nothing(index_elements=_REFERENCE).returning(_PAYMENTS.c.id),
    "postgresql": pg_insert(_PAYMENTS).on_conflict_do_nothing(index_elements=_REFERENCE).returning(_PAYMENTS.c.id),
}


def _new_transaction_id(now: float) -> str:
    return "PG" + wire_time(now)[2:8] + f"{secrets.randbelow(10**12):012d}"


def init_message(body: Mapping[str, Any]) -> InitIn:
    """An INIT's fields, checked (``FIELD_*``, ``AMOUNT_*``, ``CURRENCY_UNSUPPORTED``), its fees
    summing to its amount (``AMOUNT_MISMATCH``)."""
    msg = parse_message(InitIn, dict(body))
    if msg.receipt is not None and msg.receipt.fees:
        total = sum(f.amount for f in msg.receipt.fees)
        if total != msg.amount:
            raise errors.AmountMismatch(
                details=[{"field": "SoTien", "rule": "sum_of_fees", "message": f"{msg.amount} != {total}"}]
            )
    return msg


def payment_values(
    tenant: str, settings: PaymentSettings, partner_code: str, msg: InitIn, body: Mapping[str, Any], now: float
) -> dict[str, Any]:
    """The row of a new pending payment (every column but its id)."""
    return {
        "tenant": tenant,
        "partner_code": partner_code,
        "reference": msg.reference,
        "transaction_id": _new_transaction_id(now),
        "page_token": secrets.token_urlsafe(24),
        "fingerprint": fingerprint(body),
        "amount": msg.amount,
        "currency": msg.currency,
        "status": PENDING,
        "result_code": "",
        "bank_code": msg.bank_code or "",
        "description": msg.description,
        "dossier_code": (msg.receipt.dossier_code or "") if msg.receipt else "",
        "payer_name": msg.receipt.payer_name if msg.receipt else "",
        "request": dict(body),
        "created_ts": now,
        "expires_ts": now + settings.payment_ttl_s,
        "completed_ts": None,
        "refunded_amount": 0,
    }


def init(
    session: Session, tenant: str, settings: PaymentSettings, body: Mapping[str, Any]
) -> tuple[Payment, PartnerConfig]:
    """Open a payment (INIT), or, for a repeat of the same content, return the same payment;
    with the partner that sent it (read once: the reply is signed with its key)."""
    partner = authenticate(session, tenant, settings, body, INIT)
    msg = init_message(body)
    values = payment_values(tenant, settings, partner.code, msg, body, now_ts(session, tenant))
    # One statement: the new payment, unless the partner's reference is taken (a repeat, or the
    # same reference arriving concurrently: the first one wins, on either database).
    new_id = session.execute(NEW_PAYMENT[session.get_bind().dialect.name], values).scalar()
    if new_id is None:
        existing = find_payment(session, tenant, partner.code, msg.reference)
        if existing is None:  # the conflicting INIT was rolled back after all: not a repeat
            raise errors.PlatformUnavailable()
        return _same_or_conflict(existing, values["fingerprint"]), partner
    if values["bank_code"] in MAGIC_BANKS:
        payment = session.get_one(Payment, new_id)
        complete(session, tenant, settings, payment, "success", payment.bank_code, values["created_ts"])
        return payment, partner
    return Payment(id=new_id, **values), partner


def _same_or_conflict(existing: Payment, fp: str) -> Payment:
    if existing.fingerprint == fp:
        return existing
    raise errors.ReferenceConflict(details=[{"field": "MaThamChieu", "rule": "unique", "message": existing.reference}])


def query(
    session: Session, tenant: str, settings: PaymentSettings, body: Mapping[str, Any]
) -> tuple[Payment, PartnerConfig]:
    """The state of a payment by ``MaThamChieu`` (QUERY)."""
    partner = authenticate(session, tenant, settings, body, QUERY)
    msg = parse_message(QueryIn, dict(body))
    payment = find_payment(session, tenant, partner.code, msg.reference)
    if payment is None:
        raise errors.PaymentNotFound(details=[{"field": "MaThamChieu", "rule": "exists", "message": msg.reference}])
    expire_if_due(session, tenant, settings, payment)
    return payment, partner


PARTNER_COLUMNS = [c for c in Partner.__table__.c if c.key not in ("id", "tenant", "created_ts")]
_PAYMENT_COLUMNS = list(Payment.__table__.c)
#: A partner and a payment as :data:`_QUERY_READ` reads them: their columns as attributes, all
#: that :func:`~services.payment.partners.config_of` and ``query_reply`` read (no ORM instance).
PartnerRow = namedtuple("PartnerRow", [c.key for c in PARTNER_COLUMNS])  # type: ignore[misc]
PaymentRow = namedtuple("PaymentRow", [c.key for c in _PAYMENT_COLUMNS])  # type: ignore[misc]
_CODE: BindParameter[str] = bindparam("code")
#: What a QUERY reads, in one statement: the partner, its payment by reference and the
#: tenant's test clock (each row of them, or NULLs), as :func:`query` reads them one by one.
_QUERY_READ = select(*PARTNER_COLUMNS, *_PAYMENT_COLUMNS, ClockOffset.__table__.c.offset_seconds).select_from(
    select(literal_column("1").label("x"))
    .subquery("one")
    .outerjoin(Partner.__table__, and_(Partner.tenant == bindparam("tenant"), Partner.code == _CODE))
    .outerjoin(
        Payment.__table__,
        and_(
            Payment.tenant == bindparam("tenant"),
            Payment.partner_code == _CODE,
            Payment.reference == bindparam("reference"),
        ),
    )
    .outerjoin(ClockOffset.__table__, ClockOffset.tenant == bindparam("tenant"))
)


async def query_read_only(
    db: Database, tenant: str, settings: PaymentSettings, body: Mapping[str, Any]
) -> dict[str, Any] | None:
    """QUERY answered from the event loop in one read (:meth:`Database.read_one`): the signed
    reply :func:`query` leads to, when the message checks out and the payment exists and need
    not be expired now. None otherwise (an error to answer, a payment to expire): :func:`query`
    answers in a unit of work."""
    code, reference = body.get("MaDoiTac"), body.get("MaThamChieu")
    if not isinstance(code, str) or not code or not isinstance(reference, str) or not body.get("MaXacThuc"):
        return None
    row = await db.read_one(_QUERY_READ, {"tenant": tenant, "code": code, "reference": reference})
    if row is None:
        return None
    n = len(PARTNER_COLUMNS)
    partner = partner_of(None if row[0] is None else cast(PartnerColumns, PartnerRow(*row[:n])), settings, code)
    if partner is None:
        return None
    given = body["MaXacThuc"]
    if not isinstance(given, str) or not partner.key.verify(QUERY, body, given):
        return None
    try:
        parse_message(QueryIn, dict(body))
    except errors.PayGovError:
        return None
    values = row[n : n + len(_PAYMENT_COLUMNS)]
    if values[0] is None:
        return None
    payment = cast(Payment, PaymentRow(*values))
    now = time.time() + clock.offset_of(row[-1])
    if payment.status == PENDING and now >= payment.expires_ts:
        return None  # to be expired now: a write
    return partner.key.sign("QUERY_REPLY", query_reply(payment))


def refund(
    session: Session, tenant: str, settings: PaymentSettings, body: Mapping[str, Any]
) -> tuple[Payment, Refund, PartnerConfig]:
    """Refund all or part of a paid transaction (REFUND); announced by its own notice."""
    partner = authenticate(session, tenant, settings, body, REFUND)
    msg = parse_message(RefundIn, dict(body))
    fp = fingerprint(body)
    existing = session.scalar(
        select(Refund).where(
            Refund.tenant == tenant, Refund.partner_code == partner.code, Refund.reference == msg.refund_reference
        )
    )
    payment = session.scalar(
        select(Payment)
        .where(Payment.tenant == tenant, Payment.partner_code == partner.code, Payment.reference == msg.reference)
        .with_for_update()
    )
    if payment is None:
        raise errors.PaymentNotFound(details=[{"field": "MaThamChieu", "rule": "exists", "message": msg.reference}])
    if existing is not None:
        if existing.fingerprint != fp:
            raise errors.ReferenceConflict(
                details=[{"field": "MaThamChieuHoanTien", "rule": "unique", "message": msg.refund_reference}]
            )
        return payment, existing, partner
    if payment.status != SUCCESS:
        raise errors.PaymentNotRefundable(
            details=[{"field": "MaThamChieu", "rule": "paid", "message": f"status {payment.status}"}]
        )
    now = now_ts(session, tenant)
    row = Refund(
        tenant=tenant,
        partner_code=partner.code,
        payment_id=payment.id,
        reference=msg.refund_reference,
        refund_id="HT" + wire_time(now)[2:8] + f"{secrets.randbelow(10**12):012d}",
        fingerprint=fp,
        amount=msg.amount,
        reason=msg.reason or "",
        created_ts=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # The same refund reference arrived concurrently: the first one wins.
        raced = session.scalar(
            select(Refund).where(
                Refund.tenant == tenant, Refund.partner_code == partner.code, Refund.reference == msg.refund_reference
            )
        )
        if raced is None:
            raise
        if raced.fingerprint != fp:
            raise errors.ReferenceConflict(
                details=[{"field": "MaThamChieuHoanTien", "rule": "unique", "message": msg.refund_reference}]
            ) from None
        session.refresh(payment)
        return payment, raced, partner
    # Conditional, so concurrent refunds of one payment never add up to more than it.
    added = session.execute(
        update(Payment)
        .where(
            Payment.tenant == tenant,
            Payment.id == payment.id,
            Payment.status == SUCCESS,
            Payment.refunded_amount + msg.amount <= Payment.amount,
        )
        .values(refunded_amount=Payment.refunded_amount + msg.amount)
        .execution_options(synchronize_session=False)
    )
    session.refresh(payment)
    if added.rowcount != 1:  # type: ignore[attr-defined]
        remaining = payment.amount - payment.refunded_amount
        raise errors.RefundAmountExceeded(
            details=[{"field": "SoTien", "rule": "le_remaining", "message": f"{msg.amount} > {remaining}"}]
        )
    notify(
        session,
        tenant,
        settings,
        partner,
        REFUND_NOTICE_KIND,
        REFUND_NOTIFY,
        refund_notice_fields(payment, row),
        payment.reference,
    )
    return payment, row, partner


# --- Outcomes and notices ---------------------------------------------------------------


def complete(
    session: Session,
    tenant: str,
    settings: PaymentSettings,
    payment: Payment,
    requested: str,
    bank_code: str,
    now: float | None = None,
) -> Payment:
    """Give a pending payment its outcome and queue its notices (partner, and dossier on success).

    Magic values apply here: a ``SANDBOX_*`` bank and an amount ending in 51 or 12 turn a
    successful payment into the documented failure.
    """
    if payment.status != PENDING:
        raise errors.PaymentNotPending(
            details=[{"field": "MaGiaoDich", "rule": "pending", "message": f"status {payment.status}"}]
        )
    if requested not in RESULT_CODES:
        raise errors.FieldInvalid(details=[{"field": "outcome", "rule": "one_of", "message": requested}])
    outcome = outcome_for(requested, bank_code, payment.amount)
    # A conditional update: of two racing completions (the page and the expiry sweep, say)
    # exactly one wins, on SQLite and PostgreSQL alike, and only the winner sends notices.
    won = session.execute(
        update(Payment)
        .where(Payment.tenant == tenant, Payment.id == payment.id, Payment.status == PENDING)
        .values(
            status=STATUS_OF_OUTCOME[outcome],
            result_code=RESULT_CODES[outcome][0],
            bank_code=bank_code or payment.bank_code,
            completed_ts=now if now is not None else now_ts(session, tenant),
        )
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(payment)
        raise errors.PaymentNotPending(
            details=[{"field": "MaGiaoDich", "rule": "pending", "message": f"status {payment.status}"}]
        )
    session.refresh(payment)
    partner = find_partner(session, tenant, settings, payment.partner_code)
    if partner is not None:
        notify(session, tenant, settings, partner, NOTICE_KIND, NOTIFY, notice_fields(payment), payment.reference)
    if payment.status == SUCCESS and payment.dossier_code:
        _link_dossier(session, tenant, settings, payment)
    return payment


def expire_if_due(session: Session, tenant: str, settings: PaymentSettings, payment: Payment) -> bool:
    """Expire a pending payment whose time is up (read paths call it, so QUERY is exact)."""
    if payment.status != PENDING:
        return False
    now = now_ts(session, tenant)
    if now < payment.expires_ts:
        return False
    try:
        complete(session, tenant, settings, payment, "timeout", payment.bank_code, now)
    except errors.PaymentNotPending:
        return False  # completed meanwhile by someone else; ``payment`` now shows that
    return True


def sweep_expired(db: Database, settings: PaymentSettings, limit: int = 200, tenant: str | None = None) -> int:
    """Expire overdue pending payments, of every tenant (the expiry worker's round) or of one."""
    real_now = time.time()
    with db.session() as session:
        offset = func.coalesce(ClockOffset.offset_seconds, 0.0)
        stmt = (
            select(Payment.id, Payment.tenant)
            .outerjoin(ClockOffset, ClockOffset.tenant == Payment.tenant)
            .where(Payment.status == PENDING, Payment.expires_ts <= real_now + offset)
        )
        if tenant is not None:
            stmt = stmt.where(Payment.tenant == tenant)
        due = session.execute(stmt.limit(limit)).all()
    expired = 0
    for payment_id, owner in due:
        with db.session() as session:
            payment = session.scalar(
                select(Payment).where(Payment.tenant == owner, Payment.id == payment_id).with_for_update()
            )
            if payment is not None and expire_if_due(session, owner, settings, payment):
                expired += 1
    return expired


def _link_dossier(session: Session, tenant: str, settings: PaymentSettings, payment: Payment) -> None:
    """Tell the dossier service the fees of ``MaHoSo`` are paid (the agreed contract)."""
    receipt = payment.request.get("ThongTinBienLai") or {}
    enqueue(
        session,
        tenant,
        kind=DOSSIER_KIND,
        target_url=settings.dossier_url.rstrip("/") + "/_sandbox/payment-events",
        payload={
            "MaHoSo": payment.dossier_code,
            "MaThamChieu": payment.reference,
            "MaGiaoDich": payment.transaction_id,
            "MaDoiTac": payment.partner_code,
            "SoTien": payment.amount,
            "ThoiGianGD": wire_time(payment.completed_ts),
            "TrangThaiGD": 1,
            "PhiLePhi": receipt.get("PhiLePhi") or [],
        },
        ref=payment.dossier_code,
        headers=signed_headers(settings.gateway_secret, tenant, uuid.uuid4().hex, service_caller("payment")),
        accept="2xx",
        max_attempts=settings.notice_max_attempts,
    )
