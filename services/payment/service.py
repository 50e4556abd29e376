"""Behaviour of the payment platform: partners, INIT/QUERY/REFUND, outcomes, notices, expiry.

No HTTP types here. Functions take the request's unit of work (``session``) and never
commit it; the router's dependency commits after the endpoint returns, so a refused
message leaves nothing behind. Notices are outbox rows written in the same unit of work
as the outcome they announce: an outcome without its notice cannot be committed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.payment import errors
from services.payment.models import CANCELLED, EXPIRED, FAILED, PENDING, SUCCESS, Partner, Payment, Refund
from services.payment.protocol import (
    DEFAULT_FIELD_ORDERS,
    INIT,
    MAGIC_BANKS,
    NOTIFY,
    QUERY,
    REFUND,
    REFUND_NOTIFY,
    REQUEST_TYPES,
    RESULT_CODES,
    PartnerKey,
    outcome_for,
    vn_day_bounds,
    wire_time,
)
from services.payment.schemas import (
    InitIn,
    PartnerIn,
    QueryIn,
    RefundIn,
    notice_fields,
    parse_message,
    refund_notice_fields,
    trang_thai,
)
from services.payment.settings import PaymentSettings
from vnsandbox import audit, clock, switches
from vnsandbox.calls import signed_headers
from vnsandbox.db import ClockOffset, Database, Switch
from vnsandbox.outbox import enqueue
from vnsandbox.signing import hmac_hex
from vnsandbox.vn import catalogue
from vnsandbox.vn.banks import BANK_CODES_CSV, banks
from vnsandbox.vn.money import amount_in_words
from vnsandbox.vn.wiretime import VN_TZ

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

NOTICE_KIND, REFUND_NOTICE_KIND, DOSSIER_KIND = "payment.notice", "payment.refund_notice", "dossier.payment"


def now_ts(session: Session, tenant: str) -> float:
    """The tenant's test-clock time in epoch seconds."""
    return clock.now(session, tenant).timestamp()


# --- Partners ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerConfig:
    """A partner as the protocol sees it (stored, or the built-in development partner)."""

    key: PartnerKey
    name: str
    notice_url: str
    return_url: str
    builtin: bool

    @property
    def code(self) -> str:
        return self.key.code

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "secret": self.key.secret,
            "algorithm": self.key.algorithm,
            "field_orders": {t: self.key.order(t) for t in DEFAULT_FIELD_ORDERS},
            "notice_url": self.notice_url,
            "return_url": self.return_url,
            "builtin": self.builtin,
        }


def _config(row: Partner) -> PartnerConfig:
    return PartnerConfig(
        key=PartnerKey(row.code, row.secret, row.algorithm, dict(row.field_orders or {})),
        name=row.name,
        notice_url=row.notice_url,
        return_url=row.return_url,
        builtin=False,
    )


def dev_partner(settings: PaymentSettings) -> PartnerConfig:
    return PartnerConfig(
        key=PartnerKey(settings.dev_partner_code, settings.dev_partner_secret),
        name="Đối tác phát triển mặc định (sandbox)",
        notice_url=settings.dev_partner_notice_url,
        return_url=settings.dev_partner_return_url,
        builtin=True,
    )


def find_partner(session: Session, tenant: str, settings: PaymentSettings, code: str) -> PartnerConfig | None:
    row = session.scalar(select(Partner).where(Partner.tenant == tenant, Partner.code == code))
    if row is not None:
        return _config(row)
    if settings.dev_partner_enabled and code == settings.dev_partner_code:
        return dev_partner(settings)
    return None


def list_partners(session: Session, tenant: str, settings: PaymentSettings) -> list[PartnerConfig]:
    rows = [_config(r) for r in session.scalars(select(Partner).where(Partner.tenant == tenant).order_by(Partner.code))]
    codes = {p.code for p in rows}
    if settings.dev_partner_enabled and settings.dev_partner_code not in codes:
        rows.insert(0, dev_partner(settings))
    return rows


def upsert_partner(session: Session, tenant: str, code: str, data: PartnerIn) -> PartnerConfig:
    if not code or len(code) > 50 or not code.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise errors.PartnerInvalid(
            details=[{"field": "MaDoiTac", "rule": "pattern", "message": "1-50 letters, digits, '.', '_', '-'"}]
        )
    row = session.scalar(select(Partner).where(Partner.tenant == tenant, Partner.code == code))
    if row is None:
        row = Partner(tenant=tenant, code=code, created_ts=now_ts(session, tenant))
        session.add(row)
    row.name = data.name
    row.secret = data.secret
    row.algorithm = data.algorithm
    row.field_orders = dict(data.field_orders)
    row.notice_url = data.notice_url
    row.return_url = data.return_url
    session.flush()
    return _config(row)


def delete_partner(session: Session, tenant: str, code: str) -> bool:
    row = session.scalar(select(Partner).where(Partner.tenant == tenant, Partner.code == code))
    if row is None:
        return False
    session.delete(row)
    return True


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


def take_init_switches(db: Database, session: Session, tenant: str, partner_code: str) -> tuple[float, bool]:
    """``(delay_s, fail)`` from the INIT switches, counted in their own unit of work.

    Separate from the request's unit of work so that a use is counted even when the
    INIT is then refused (rolled back), and no database lock is held while INIT sleeps.
    The common case, no INIT switch at all, costs one read in the request's session.
    """
    if (
        session.scalar(select(Switch.id).where(Switch.tenant == tenant, Switch.name.in_(INIT_SWITCHES)).limit(1))
        is None
    ):
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


def find_payment(session: Session, tenant: str, partner_code: str, reference: str) -> Payment | None:
    return session.scalar(
        select(Payment).where(
            Payment.tenant == tenant, Payment.partner_code == partner_code, Payment.reference == reference
        )
    )


def payment_by_transaction(session: Session, tenant: str, transaction_id: str, *, lock: bool = False) -> Payment:
    stmt = select(Payment).where(Payment.tenant == tenant, Payment.transaction_id == transaction_id)
    if lock:
        stmt = stmt.with_for_update()
    payment = session.scalar(stmt)
    if payment is None:
        raise errors.PaymentNotFound(details=[{"field": "MaGiaoDich", "rule": "exists", "message": transaction_id}])
    return payment


def payment_by_token(session: Session, tenant: str, token: str) -> Payment:
    payment = session.scalar(select(Payment).where(Payment.tenant == tenant, Payment.page_token == token))
    if payment is None:
        raise errors.PaymentNotFound()
    return payment


def _new_transaction_id(now: float) -> str:
    return "PG" + wire_time(now)[2:8] + f"{secrets.randbelow(10**12):012d}"


def init(session: Session, tenant: str, settings: PaymentSettings, body: Mapping[str, Any]) -> Payment:
    """Open a payment (INIT). A repeat of the same content returns the same payment."""
    partner = authenticate(session, tenant, settings, body, INIT)
    msg = parse_message(InitIn, dict(body))
    if msg.receipt is not None and msg.receipt.fees:
        total = sum(f.amount for f in msg.receipt.fees)
        if total != msg.amount:
            raise errors.AmountMismatch(
                details=[{"field": "SoTien", "rule": "sum_of_fees", "message": f"{msg.amount} != {total}"}]
            )
    fp = fingerprint(body)
    existing = find_payment(session, tenant, partner.code, msg.reference)
    if existing is not None:
        return _same_or_conflict(existing, fp)
    now = now_ts(session, tenant)
    payment = Payment(
        tenant=tenant,
        partner_code=partner.code,
        reference=msg.reference,
        transaction_id=_new_transaction_id(now),
        page_token=secrets.token_urlsafe(24),
        fingerprint=fp,
        amount=msg.amount,
        currency=msg.currency,
        status=PENDING,
        result_code="",
        bank_code=msg.bank_code or "",
        description=msg.description,
        dossier_code=(msg.receipt.dossier_code or "") if msg.receipt else "",
        payer_name=msg.receipt.payer_name if msg.receipt else "",
        request=dict(body),
        created_ts=now,
        expires_ts=now + settings.payment_ttl_s,
        completed_ts=None,
        refunded_amount=0,
    )
    try:
        with session.begin_nested():
            session.add(payment)
            session.flush()
    except IntegrityError:
        # The same reference arrived concurrently: the first one wins.
        existing = find_payment(session, tenant, partner.code, msg.reference)
        if existing is None:
            raise
        return _same_or_conflict(existing, fp)
    if payment.bank_code in MAGIC_BANKS:
        complete(session, tenant, settings, payment, "success", payment.bank_code, now)
    return payment


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
    _notify(
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
        _notify(session, tenant, settings, partner, NOTICE_KIND, NOTIFY, notice_fields(payment), payment.reference)
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


def _wrong_checksum(partner: PartnerConfig, checksum: str) -> str:
    return hmac_hex("wrong:" + partner.key.secret, checksum, partner.key.algorithm)


def _notify(
    session: Session,
    tenant: str,
    settings: PaymentSettings,
    partner: PartnerConfig,
    kind: str,
    message_type: str,
    fields: dict[str, Any],
    ref: str,
) -> int:
    """Queue a signed notice to the partner's notice URL, with the notice switches applied."""
    if not partner.notice_url:
        return 0
    body = partner.key.sign(message_type, fields)
    scope = partner.code
    if switches.take(session, tenant, "notice_wrong_checksum", scope) is not None:
        body["MaXacThuc"] = _wrong_checksum(partner, body["MaXacThuc"])
    delay = 0.0
    held = switches.take(session, tenant, "notice_out_of_order", scope)
    if held is not None:
        delay = _number(held.params.get("delay_s"), 30.0)
    copies = 1
    dup = switches.take(session, tenant, "notice_duplicate", scope)
    if dup is not None:
        copies = int(min(10.0, max(2.0, _number(dup.params.get("copies"), 2.0))))
    for _ in range(copies):
        enqueue(
            session,
            tenant,
            kind=kind,
            target_url=partner.notice_url,
            payload=body,
            ref=ref,
            sign_secret=partner.key.secret,
            accept="json:MaLoi=00",
            max_attempts=settings.notice_max_attempts,
            delay_s=delay,
        )
    return copies


def _number(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def renotify(session: Session, tenant: str, settings: PaymentSettings, payment: Payment) -> int:
    """Queue the result notice of a finished payment once more (a replay, freshly signed)."""
    if payment.status == PENDING:
        raise errors.PaymentNotPending(
            "The payment has no outcome yet", "Giao dịch chưa có kết quả", code="PAYMENT_PENDING"
        )
    partner = find_partner(session, tenant, settings, payment.partner_code)
    if partner is None:
        raise errors.PartnerUnknown()
    return _notify(session, tenant, settings, partner, NOTICE_KIND, NOTIFY, notice_fields(payment), payment.reference)


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
        headers=signed_headers(settings.gateway_secret, tenant, uuid.uuid4().hex),
        accept="2xx",
        max_attempts=settings.notice_max_attempts,
    )


def return_url(partner: PartnerConfig | None, payment: Payment) -> str | None:
    """Where the payer's browser goes after the outcome: the partner's return URL with the signed fields."""
    if partner is None or not partner.return_url:
        return None
    signed = partner.key.sign(NOTIFY, notice_fields(payment))
    sep = "&" if "?" in partner.return_url else "?"
    return partner.return_url + sep + urlencode({k: str(v) for k, v in signed.items()})


# --- Receipts and reconciliation --------------------------------------------------------


def receipt_of(payment: Payment) -> dict[str, Any]:
    if payment.status != SUCCESS:
        raise errors.ReceiptUnavailable(
            details=[{"field": "MaGiaoDich", "rule": "paid", "message": f"status {payment.status}"}]
        )
    info = payment.request.get("ThongTinBienLai") or {}
    fees = info.get("PhiLePhi") or [
        {"LoaiPhiLePhi": 1, "MaPhiLePhi": "", "TenPhiLePhi": payment.description, "SoTien": payment.amount}
    ]
    return {
        "SoBienLai": "BL-" + payment.transaction_id,
        "MauSoBienLai": "01BLP0-001",
        "MaGiaoDich": payment.transaction_id,
        "MaThamChieu": payment.reference,
        "MaDoiTac": payment.partner_code,
        "NgayThanhToan": wire_time(payment.completed_ts),
        "SoTien": payment.amount,
        "SoTienBangChu": amount_in_words(payment.amount),
        "MaTienTe": payment.currency,
        "SoTienDaHoan": payment.refunded_amount,
        "MaNganHang": payment.bank_code,
        "TenNganHang": bank_name(payment.bank_code),
        "ThongTinGiaoDich": payment.description,
        "MaDichVu": info.get("MaDichVu"),
        "MaDVC": info.get("MaDVC"),
        "MaTTHC": info.get("MaTTHC"),
        "TenTTHC": procedure_name(info) or None,
        "MaDonVi": info.get("MaDonVi"),
        "MaHoSo": info.get("MaHoSo"),
        "HoTenNguoiNop": info.get("HoTenNguoiNop") or payment.payer_name,
        "SoCMNDNguoiNop": info.get("SoCMNDNguoiNop"),
        "DiaChiNguoiNop": info.get("DiaChiNguoiNop"),
        "PhiLePhi": fees,
    }


PAYER_FIELDS = ("HoTenNguoiNop", "SoCMNDNguoiNop", "DiaChiNguoiNop")


def audit_payer_read(
    session: Session, tenant: str, payment: Payment, *, client: str, purpose: str, action: str
) -> None:
    """Record that the payer's personal data (receipt data) was handed out, when it names a citizen."""
    info = payment.request.get("ThongTinBienLai") or {}
    subject = info.get("SoCMNDNguoiNop")
    if not isinstance(subject, str) or not subject:
        return
    shown = [f for f in PAYER_FIELDS if info.get(f)]
    audit.record(
        session, tenant, service="payment", client=client, subject=subject, fields=shown, purpose=purpose, action=action
    )


RECONCILIATION_COLUMNS = (
    "MaDoiTac",
    "MaThamChieu",
    "MaGiaoDich",
    "ThoiGianKhoiTao",
    "ThoiGianGD",
    "SoTien",
    "MaTienTe",
    "TrangThaiGD",
    "MaLoi",
    "MaNganHang",
    "SoTienDaHoan",
    "MaHoSo",
)


def reconciliation(session: Session, tenant: str, partner_code: str, day: str) -> dict[str, Any]:
    """Every transaction a partner opened on ``day`` (``yyyyMMdd``, Vietnam time) and its state."""
    try:
        start, end = vn_day_bounds(day)
    except (ValueError, OverflowError):
        raise errors.FieldInvalid(
            details=[{"field": "Ngay", "rule": "date", "message": "must be a date yyyyMMdd"}]
        ) from None
    payments = list(
        session.scalars(
            select(Payment)
            .where(
                Payment.tenant == tenant,
                Payment.partner_code == partner_code,
                Payment.created_ts >= start,
                Payment.created_ts < end,
            )
            .order_by(Payment.created_ts, Payment.id)
        )
    )
    rows = [
        {
            "MaDoiTac": p.partner_code,
            "MaThamChieu": p.reference,
            "MaGiaoDich": p.transaction_id,
            "ThoiGianKhoiTao": wire_time(p.created_ts),
            "ThoiGianGD": wire_time(p.completed_ts),
            "SoTien": p.amount,
            "MaTienTe": p.currency,
            "TrangThaiGD": trang_thai(p),
            "MaLoi": p.result_code,
            "MaNganHang": p.bank_code,
            "SoTienDaHoan": p.refunded_amount,
            "MaHoSo": p.dossier_code,
        }
        for p in payments
    ]
    paid = [p for p in payments if p.status == SUCCESS]
    return {
        "MaDoiTac": partner_code,
        "Ngay": day,
        "SoGiaoDich": len(rows),
        "SoGiaoDichThanhCong": len(paid),
        "TongTienThanhCong": sum(p.amount for p in paid),
        "TongTienDaHoan": sum(p.refunded_amount for p in paid),
        "GiaoDich": rows,
    }


def reconciliation_csv(report: Mapping[str, Any]) -> str:
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(RECONCILIATION_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in report["GiaoDich"]:
        writer.writerow(row)
    return buf.getvalue()


def today_vn(session: Session, tenant: str) -> str:
    return clock.now(session, tenant).astimezone(VN_TZ).strftime("%Y%m%d")


# --- Banks and procedures ----------------------------------------------------------------


def procedure_name(info: Mapping[str, Any]) -> str:
    """``TenTTHC`` as the partner sent it, else the catalogue's name of ``MaTTHC`` (else empty)."""
    given = info.get("TenTTHC")
    if isinstance(given, str) and given:
        return given
    code = info.get("MaTTHC")
    procedure = catalogue.get(code) if isinstance(code, str) else None
    return procedure.name if procedure is not None else ""


def bank_name(code: str, path: Path = BANK_CODES_CSV) -> str:
    for bank in banks(path):
        if bank.code == code:
            return bank.name
    if code in MAGIC_BANKS:
        return "Ngân hàng thử nghiệm (sandbox)"
    return code
