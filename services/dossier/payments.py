"""Status 6 (financial obligation): the portal opens a payment of the dossier's fees on the
payment service, as a PayGov partner (``DOSSIER_PAYMENT_PARTNER`` / ``_SECRET``).

The payment carries ``ThongTinBienLai.MaHoSo``, so when it succeeds the payment service
posts the result to ``/_sandbox/payment-events`` (the payment → dossier contract), which
marks the dossier paid and notifies the province. This module only opens the payment.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

import httpx
from sqlalchemy.orm import Session

from services.dossier import rules
from services.dossier.accounts import now_naive
from services.dossier.errors import Code, DvcqgError, detail
from services.dossier.portal import get_dossier
from services.dossier.settings import DossierSettings
from vnsandbox.context import current_request_id
from vnsandbox.signing import TENANT_SIGNATURE_HEADER, tenant_assertion

#: The payment service's default field order of an INIT message (its ``/_sandbox/protocol``).
INIT_ORDER = (
    "LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "SoTien", "MaTienTe", "LoaiHinhThanhToan",
    "MaKenhThanhToan", "MaThietBi", "NgonNgu", "MaNganHang", "ThoiGianGD", "ThongTinGiaoDich", "Ip",
)  # fmt: skip


def open_payment(
    session: Session, tenant: str, settings: DossierSettings, code: str, bank: str | None, ip: str
) -> dict[str, Any]:
    """INIT a payment of the dossier's fees (status 6 only); returns the payment service's reply."""
    d = get_dossier(session, tenant, code)
    if d.status != 6:
        raise DvcqgError(
            Code.ILLEGAL_TRANSITION,
            details=[
                detail(
                    "TrangThaiHoSo",
                    "payment_not_requested",
                    f"Chỉ thanh toán khi hồ sơ ở trạng thái 6 (đang là {d.status})",
                    f"Payment only at status 6 (status is {d.status})",
                )
            ],
        )
    fees = [f for f in d.data.get("DanhSachLePhi") or [] if isinstance(f, dict)]
    items: list[dict[str, Any]] = [
        {
            "LoaiPhiLePhi": rules.as_int(f.get("LoaiPhiLePhi")) or 2,
            "MaPhiLePhi": str(f.get("MaPhiLePhi") or f"LP{i + 1:02d}"),
            "TenPhiLePhi": str(f.get("TenPhiLePhi") or "Lệ phí"),
            "SoTien": rules.as_int(f.get("MucPhi")) or 0,
        }
        for i, f in enumerate(fees)
    ]
    total = sum(i["SoTien"] for i in items)
    if total <= 0:
        raise DvcqgError(
            Code.VALIDATION,
            details=[detail("DanhSachLePhi", "required", "Hồ sơ không có phí, lệ phí", "The dossier lists no fees")],
        )
    fields: dict[str, Any] = {
        "LoaiBanTin": "INIT",
        "PhienBan": "1.0.6",
        "MaDoiTac": settings.payment_partner,
        "MaThamChieu": f"{d.code}:{uuid.uuid4().hex[:8]}",
        "SoTien": total,
        "MaTienTe": "VND",
        "LoaiHinhThanhToan": "PAY",
        "MaKenhThanhToan": "WEB",
        "MaThietBi": "DESKTOP",
        "NgonNgu": "vi-VN",
        "MaNganHang": bank,
        "ThoiGianGD": rules.to_wire_time(now_naive(session, tenant)),
        "ThongTinGiaoDich": f"Nộp phí, lệ phí hồ sơ {d.code}",
        "Ip": ip,
    }
    text = "|".join("" if fields[k] is None else str(fields[k]) for k in INIT_ORDER)
    fields["MaXacThuc"] = hmac.new(settings.payment_secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    fields["ThongTinBienLai"] = {
        "MaDichVu": 2,
        "MaTTHC": d.procedure_code,
        "TenTTHC": d.data.get("TenTTHC") or "",
        "MaDonVi": d.unit_code,
        "MaHoSo": d.code,
        "HoTenNguoiNop": d.data.get("ChuHoSo") or "",
        "SoCMNDNguoiNop": d.owner_id_number or None,
        "DiaChiNguoiNop": d.data.get("DiaChiChuHoSo") or "",
        "PhiLePhi": items,
    }
    rid = current_request_id() or uuid.uuid4().hex
    headers = {
        "X-Sandbox-Tenant": tenant,
        "X-Request-ID": rid,
        TENANT_SIGNATURE_HEADER: tenant_assertion(settings.gateway_secret, tenant, rid),
    }
    try:
        resp = httpx.post(settings.payment_url.rstrip("/") + "/payments", json=fields, headers=headers, timeout=10)
        reply: dict[str, Any] = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise DvcqgError(
            Code.TRANSIENT,
            f"Payment service not reachable ({exc.__class__.__name__})",
            "Không kết nối được nền tảng thanh toán",
        ) from None
    if str(reply.get("error_code")) != "0":
        raise DvcqgError(
            Code.VALIDATION,
            "The payment service refused the payment",
            "Nền tảng thanh toán từ chối giao dịch",
            details=[
                detail("payment", str(reply.get("error_code")), str(reply.get("message")), str(reply.get("message_en")))
            ],
        )
    return reply
