"""Status 6 (financial obligation): the portal opens a payment of the dossier's fees on the
payment service, as a PayGov partner (``DOSSIER_PAYMENT_PARTNER`` / ``_SECRET``).

The payment carries ``ThongTinBienLai.MaHoSo``, so when it succeeds the payment service
posts the result to ``/_sandbox/payment-events`` (the payment → dossier contract), which
marks the dossier paid and notifies the province. This module only opens the payment.

One fee request is one payment: the dossier's fee record (its ``DanhSachLePhi`` items) names
the payment opened for it (``MaDoiTac``, ``MaThamChieu``, ``UrlThanhToan``), whether the
province's system opened it (and synced the record) or the portal did (and noted it here).
Before opening another, the portal asks PayGov about that one (QUERY): still pending and of the
same amount, the citizen is sent to it; failed, expired or unknown, a new one is opened; paid,
there is nothing to pay.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

from sqlalchemy.orm import Session

from services.dossier import rules
from services.dossier.accounts import now_naive
from services.dossier.errors import Code, DvcqgError, detail
from services.dossier.portal import get_dossier
from services.dossier.settings import DossierSettings
from vnsandbox.calls import UnexpectedReply, service_caller, signed_call

#: Statuses of a PayGov reply: success, or a refusal in the PayGov envelope (its error table).
PAYGOV_ANSWERS = frozenset({200, 400, 401, 404, 409, 422})
#: The payment service's default field order of an INIT message (its ``/_sandbox/protocol``).
INIT_ORDER = (
    "LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "SoTien", "MaTienTe", "LoaiHinhThanhToan",
    "MaKenhThanhToan", "MaThietBi", "NgonNgu", "MaNganHang", "ThoiGianGD", "ThongTinGiaoDich", "Ip",
)  # fmt: skip
QUERY_ORDER = ("LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD")
#: What the fee record keeps of the payment opened for it.
PAYMENT_REF = ("MaDoiTac", "MaThamChieu", "UrlThanhToan")
#: What the portal answers of a payment (opened now or still pending).
PAYMENT_OUT = ("MaGiaoDich", "MaThamChieu", "SoTien", "UrlThanhToan", "ThoiHanThanhToan")


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
    wire_now = rules.to_wire_time(now_naive(session, tenant)) or ""
    if bank is None:  # a pre-selected bank asks for a payment of its own
        pending = _pending_payment(settings, tenant, fees, total, wire_now)
        if pending is not None:
            return pending
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
        "ThoiGianGD": wire_now,
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
    reply = _send(settings, tenant, fields)
    if str(reply.get("error_code")) != "0":
        raise DvcqgError(
            Code.VALIDATION,
            "The payment service refused the payment",
            "Nền tảng thanh toán từ chối giao dịch",
            details=[
                detail("payment", str(reply.get("error_code")), str(reply.get("message")), str(reply.get("message_en")))
            ],
        )
    ref = {"MaDoiTac": settings.payment_partner, **{k: reply.get(k) for k in PAYMENT_REF[1:]}}
    d.data = {**d.data, "DanhSachLePhi": [{**f, **ref} for f in fees]}
    return {k: reply.get(k) for k in PAYMENT_OUT}


def _pending_payment(
    settings: DossierSettings, tenant: str, fees: list[dict[str, Any]], total: int, wire_now: str
) -> dict[str, Any] | None:
    """The payment the fee record names, when it is the portal partner's, still pending (QUERY:
    ``TrangThaiGD`` 3) and of ``total``; code 23 when it is already paid."""
    named = next((f for f in fees if f.get("MaThamChieu") and f.get("UrlThanhToan")), None)
    if named is None or named.get("MaDoiTac") != settings.payment_partner:
        return None  # another partner's payment cannot be asked about
    query: dict[str, Any] = {
        "LoaiBanTin": "QUERY",
        "PhienBan": "1.0.6",
        "MaDoiTac": settings.payment_partner,
        "MaThamChieu": str(named["MaThamChieu"]),
        "ThoiGianGD": wire_now,
    }
    text = "|".join(str(query[k]) for k in QUERY_ORDER)
    query["MaXacThuc"] = hmac.new(settings.payment_secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    reply = _send(settings, tenant, query)
    state = str(reply.get("TrangThaiGD"))
    if str(reply.get("error_code")) != "0" or state == "4" or rules.as_int(reply.get("SoTien")) != total:
        return None
    if state == "1":
        raise DvcqgError(
            Code.ILLEGAL_TRANSITION,
            details=[
                detail(
                    "DuocThanhToanTrucTuyen",
                    "already_paid",
                    f"Phí, lệ phí của hồ sơ đã được thanh toán (giao dịch {reply.get('MaGiaoDich')})",
                    f"The dossier's fees are already paid (transaction {reply.get('MaGiaoDich')})",
                )
            ],
        )
    return {**{k: reply.get(k) for k in PAYMENT_OUT}, "UrlThanhToan": named["UrlThanhToan"]}


def _send(settings: DossierSettings, tenant: str, message: dict[str, Any]) -> dict[str, Any]:
    """One message to the payment service as the portal's partner; its reply (success or a
    refusal in PayGov's envelope), or code 33 when it does not answer as PayGov does."""
    try:
        resp = signed_call(
            "POST",
            settings.payment_url.rstrip("/") + "/payments",
            secret=settings.gateway_secret,
            tenant=tenant,
            consumer=service_caller("dossier"),
            json=message,
            timeout_s=10.0,
            expect=PAYGOV_ANSWERS,
        )
        reply: dict[str, Any] = resp.json()
        error_code = str(reply.get("error_code"))
    except (UnexpectedReply, ValueError, AttributeError) as exc:
        raise payment_unavailable(str(exc) if isinstance(exc, UnexpectedReply) else "not a PayGov reply") from None
    if error_code.startswith("TENANT_"):  # the platform refused the portal's own call, not the payment
        raise payment_unavailable(f"answered HTTP {resp.status_code} {error_code}")
    return reply


def payment_unavailable(reason: str) -> DvcqgError:
    """Code 33: the payment platform was not reachable or did not answer as PayGov does."""
    return DvcqgError(
        Code.PAYMENT_UNAVAILABLE,
        f"The payment platform did not answer as its protocol says ({reason}); try again later",
        f"Nền tảng thanh toán không trả lời đúng giao thức ({reason}); vui lòng thử lại sau",
    )
