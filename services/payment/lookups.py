"""Looking payments up: by the partner's reference (``MaThamChieu``), by the platform's
transaction id (``MaGiaoDich``), by the payment page's token, and the tenant's list.

No HTTP types here; functions take the request's unit of work and never commit it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.payment import errors
from services.payment.models import Payment


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


def list_payments(
    session: Session, tenant: str, *, status: str | None = None, partner_code: str | None = None, limit: int = 200
) -> list[Payment]:
    """The tenant's payments, newest first, optionally of one status or one partner."""
    stmt = select(Payment).where(Payment.tenant == tenant)
    if status:
        stmt = stmt.where(Payment.status == status)
    if partner_code:
        stmt = stmt.where(Payment.partner_code == partner_code)
    return list(session.scalars(stmt.order_by(Payment.id.desc()).limit(limit)))
