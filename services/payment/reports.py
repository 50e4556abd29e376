"""Reports of the payment platform: the receipt (biên lai) of a paid transaction, the audit of
who read the payer's data, and a partner's daily reconciliation (JSON and CSV).

The receipt's PDF drawing is in :mod:`services.payment.receipts`. No HTTP types here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.payment import errors
from services.payment.lookups import payment_by_token, payment_by_transaction
from services.payment.models import SUCCESS, Payment
from services.payment.names import bank_name, procedure_name
from services.payment.protocol import vn_day_bounds, wire_time
from services.payment.schemas import trang_thai
from services.payment.service import authenticate
from services.payment.settings import PaymentSettings
from vnsandbox import audit, clock
from vnsandbox.vn.money import amount_in_words
from vnsandbox.vn.wiretime import VN_TZ

# --- Receipts ------------------------------------------------------------------------------


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


def audited_receipt(
    session: Session, tenant: str, transaction_id: str, *, client: str, purpose: str, action: str
) -> dict[str, Any]:
    """The receipt of a paid transaction (by ``MaGiaoDich``), its read written to the audit trail."""
    payment = payment_by_transaction(session, tenant, transaction_id)
    data = receipt_of(payment)
    audit_payer_read(session, tenant, payment, client=client, purpose=purpose, action=action)
    return data


def page_receipt(session: Session, tenant: str, token: str) -> dict[str, Any]:
    """The receipt of the payment page's payment, downloaded by the payer (audited)."""
    payment = payment_by_token(session, tenant, token)
    data = receipt_of(payment)
    audit_payer_read(
        session, tenant, payment, client="payment-page", purpose="payer downloads the receipt", action="receipt.pdf"
    )
    return data


# --- Reconciliation ------------------------------------------------------------------------

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


def _day_bounds(day: str) -> tuple[float, float]:
    try:
        return vn_day_bounds(day)
    except (ValueError, OverflowError):
        raise errors.FieldInvalid(
            details=[{"field": "Ngay", "rule": "date", "message": "must be a date yyyyMMdd"}]
        ) from None


def _row(p: Payment) -> dict[str, Any]:
    return {
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


def reconciliation(session: Session, tenant: str, partner_code: str, day: str) -> dict[str, Any]:
    """Every transaction a partner opened on ``day`` (``yyyyMMdd``, Vietnam time) and its state."""
    start, end = _day_bounds(day)
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
    paid = [p for p in payments if p.status == SUCCESS]
    return {
        "MaDoiTac": partner_code,
        "Ngay": day,
        "SoGiaoDich": len(payments),
        "SoGiaoDichThanhCong": len(paid),
        "TongTienThanhCong": sum(p.amount for p in paid),
        "TongTienDaHoan": sum(p.refunded_amount for p in paid),
        "GiaoDich": [_row(p) for p in payments],
    }


def signed_reconciliation(
    session: Session, tenant: str, settings: PaymentSettings, partner_code: str, day: str, checksum: str
) -> dict[str, Any]:
    """The partner's reconciliation of ``day``, once its ``MaXacThuc`` over ``MaDoiTac|Ngay`` checks out."""
    params = {"MaDoiTac": partner_code, "Ngay": day, "MaXacThuc": checksum}
    partner = authenticate(session, tenant, settings, params, "RECONCILE")
    return reconciliation(session, tenant, partner.code, day)


def reconciliation_csv(report: Mapping[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(RECONCILIATION_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in report["GiaoDich"]:
        writer.writerow(row)
    return buf.getvalue()


def today_vn(session: Session, tenant: str) -> str:
    return clock.now(session, tenant).astimezone(VN_TZ).strftime("%Y%m%d")
