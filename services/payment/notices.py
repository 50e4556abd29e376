"""Notices to partners: the signed result and refund notices (outbox rows, with the notice
switches applied), a replay of a result notice, the return URL, and the notices sent about a payment.

A notice is written in the unit of work of the outcome it announces, so an outcome without its
notice cannot be committed; the outbox worker sends it after the commit.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from services.payment import errors
from services.payment.models import PENDING, Payment
from services.payment.partners import PartnerConfig, find_partner
from services.payment.protocol import NOTIFY
from services.payment.schemas import notice_fields
from services.payment.settings import PaymentSettings
from vnsandbox import switches
from vnsandbox.outbox import enqueue, list_deliveries
from vnsandbox.signing import hmac_hex
from vnsandbox.standard_webhooks import header_for

NOTICE_KIND, REFUND_NOTICE_KIND = "payment.notice", "payment.refund_notice"

#: Most copies ``notice_duplicate`` sends of one notice.
MAX_COPIES = 10.0


def _number(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _wrong_checksum(partner: PartnerConfig, checksum: str) -> str:
    return hmac_hex("wrong:" + partner.key.secret, checksum, partner.key.algorithm)


def _signed_body(
    session: Session, tenant: str, partner: PartnerConfig, message_type: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """The notice signed with the partner's key, or with a wrong key under ``notice_wrong_checksum``."""
    body = partner.key.sign(message_type, fields)
    if switches.take(session, tenant, "notice_wrong_checksum", partner.code) is not None:
        body["MaXacThuc"] = _wrong_checksum(partner, body["MaXacThuc"])
    return body


def _held_back_s(session: Session, tenant: str, partner: PartnerConfig) -> float:
    """Test-clock seconds ``notice_out_of_order`` holds the notice back (0 without the switch)."""
    held = switches.take(session, tenant, "notice_out_of_order", partner.code)
    return 0.0 if held is None else _number(held.params.get("delay_s"), 30.0)


def _copies(session: Session, tenant: str, partner: PartnerConfig) -> int:
    """How many times the notice is sent: 1, or 2 to 10 under ``notice_duplicate``."""
    dup = switches.take(session, tenant, "notice_duplicate", partner.code)
    if dup is None:
        return 1
    return int(min(MAX_COPIES, max(2.0, _number(dup.params.get("copies"), 2.0))))


def notify(
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
    body = _signed_body(session, tenant, partner, message_type, fields)
    delay = _held_back_s(session, tenant, partner)
    copies = _copies(session, tenant, partner)
    for _ in range(copies):
        enqueue(
            session,
            tenant,
            kind=kind,
            target_url=partner.notice_url,
            payload=body,
            ref=ref,
            sign_secret=partner.key.secret,
            signature_header=header_for(partner.signature_scheme),
            accept="json:MaLoi=00",
            max_attempts=settings.notice_max_attempts,
            delay_s=delay,
        )
    return copies


def renotify(session: Session, tenant: str, settings: PaymentSettings, payment: Payment) -> int:
    """Queue the result notice of a finished payment once more (a replay, freshly signed)."""
    if payment.status == PENDING:
        raise errors.PaymentNotPending(
            "The payment has no outcome yet", "Giao dịch chưa có kết quả", code="PAYMENT_PENDING"
        )
    partner = find_partner(session, tenant, settings, payment.partner_code)
    if partner is None:
        raise errors.PartnerUnknown()
    return notify(session, tenant, settings, partner, NOTICE_KIND, NOTIFY, notice_fields(payment), payment.reference)


def return_url(partner: PartnerConfig | None, payment: Payment) -> str | None:
    """Where the payer's browser goes after the outcome: the partner's return URL with the signed fields."""
    if partner is None or not partner.return_url:
        return None
    signed = partner.key.sign(NOTIFY, notice_fields(payment))
    sep = "&" if "?" in partner.return_url else "?"
    return partner.return_url + sep + urlencode({k: str(v) for k, v in signed.items()})


def notices_of(session: Session, tenant: str, payment: Payment) -> list[dict[str, Any]]:
    """Every notice sent about the payment (result, refunds, dossier link) with its delivery
    state, oldest first."""
    # Deliveries are filed by MaThamChieu (notices) and MaHoSo (dossier link); both can be
    # shared with other payments, so keep those that carry this MaGiaoDich.
    sent = {
        d.id: d
        for ref in {payment.reference, payment.dossier_code} - {""}
        for d in list_deliveries(session, tenant, ref=ref)
        if payment.transaction_id in d.payload
    }
    return [
        {"id": d.id, "kind": d.kind, "status": d.status, "attempts": d.attempts, "last_status": d.last_status}
        for d in sorted(sent.values(), key=lambda d: (d.created_ts, d.seq))
    ]
