"""The hosted payment page's behaviour: what it shows of a pending payment, and the payer's choice.

The page (``/pay/{tenant}/{token}``) is rendered by the router; no HTTP types here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.payment import errors
from services.payment.models import PENDING, Payment
from services.payment.names import procedure_name
from services.payment.reports import audit_payer_read
from services.payment.service import complete, expire_if_due
from services.payment.settings import PaymentSettings
from vnsandbox.vn.banks import banks


def order_summary(session: Session, tenant: str, settings: PaymentSettings, payment: Payment) -> dict[str, Any]:
    """What the page shows of a pending payment: the receipt information (with the procedure's
    name), the fees, the banks and wallets with the preselected one. Showing the payer's data
    is written to the audit trail."""
    info = dict(payment.request.get("ThongTinBienLai") or {})
    info["TenTTHC"] = procedure_name(info)
    audit_payer_read(
        session, tenant, payment, client="payment-page", purpose="payer views the payment page", action="page"
    )
    fees = info.get("PhiLePhi") or [{"TenPhiLePhi": payment.description, "SoTien": payment.amount}]
    bank_list = banks(settings.bank_codes_file)
    return {"info": info, "fees": fees, "banks": bank_list, "selected": payment.bank_code or bank_list[0].code}


def choose_outcome(
    session: Session, tenant: str, settings: PaymentSettings, payment: Payment, outcome: str, bank_code: str
) -> bool:
    """The payer's choice: ``True`` when it decided the payment, ``False`` when the payment
    already had its outcome (it expired, or was completed meanwhile by the expiry sweep or the
    control plane)."""
    if expire_if_due(session, tenant, settings, payment) or payment.status != PENDING:
        return False
    try:
        complete(session, tenant, settings, payment, outcome, bank_code or payment.bank_code or "NCB")
    except errors.PaymentNotPending:
        return False
    return True
