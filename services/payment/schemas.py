"""Wire formats of the payment service, and the one place Vietnamese wire names meet code names.

Incoming messages are checked with pydantic models whose attributes have plain English
names and whose aliases are the wire names (``amount`` ↔ ``SoTien``). Replies are built
by the ``*_wire`` functions from the stored rows.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator

from services.payment import errors
from services.payment.models import CANCELLED, EXPIRED, FAILED, PENDING, SUCCESS, Payment, Refund
from services.payment.protocol import (
    DEFAULT_FIELD_ORDERS,
    DESCRIPTION_BY_CODE,
    NOTIFY,
    OUTCOMES,
    REFUND_NOTIFY,
    STATE_FAILED,
    STATE_PENDING,
    STATE_SUCCESS,
    wire_time,
)
from vnsandbox.bounds import MAX_CLOCK_OFFSET_S, MAX_VND, WaitSeconds
from vnsandbox.vn.wiretime import parse_wire_time

REFERENCE = r"^[A-Za-z0-9._:\-]{1,50}$"
VERSION = r"^\d+\.\d+(\.\d+)?$"
PROTOCOL_VERSION = "1.0.6"
M = TypeVar("M", bound=BaseModel)


#: C0 control characters (tab, line feed and carriage return allowed) and DEL: never valid in a
#: field, and NUL cannot even be stored by PostgreSQL.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def unstorable_field(value: Any, path: str = "") -> tuple[str, str] | None:
    """``(path, rule)`` of the first string (or key) with a control character, or the first
    non-finite number (``NaN``, ``Infinity``: Python's JSON reads them, no database stores them)."""
    if isinstance(value, str):
        return ((path or "body"), "no_control_characters") if CONTROL_CHARS.search(value) else None
    if isinstance(value, float):
        return None if math.isfinite(value) else ((path or "body"), "finite_number")
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if CONTROL_CHARS.search(str(key)):
                return where, "no_control_characters"
            found = unstorable_field(item, where)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = unstorable_field(item, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


def ensure_clean(value: Any, path: str = "") -> None:
    """Refuse control characters and non-finite numbers anywhere in ``value`` (``FIELD_INVALID``)."""
    found = unstorable_field(value, path)
    if found:
        field, rule = found
        raise errors.FieldInvalid(details=[{"field": field, "rule": rule, "message": f"{rule.replace('_', ' ')} only"}])


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", str_strip_whitespace=False)


def _check_time(value: str) -> str:
    try:
        parse_wire_time(value)
    except ValueError:
        raise ValueError("must be a date-time yyyyMMddHHmmss") from None
    return value


class FeeIn(_Wire):
    """One fee (``PhiLePhi`` item) of the receipt."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    #: 1 phí (fee), 2 lệ phí (charge).
    kind: Literal[1, 2] = Field(alias="LoaiPhiLePhi")
    code: StrictStr = Field(alias="MaPhiLePhi", min_length=1, max_length=50)
    name: StrictStr = Field(alias="TenPhiLePhi", min_length=1, max_length=255)
    amount: StrictInt = Field(alias="SoTien", ge=0, le=MAX_VND)


class ReceiptIn(_Wire):
    """``ThongTinBienLai``: what the receipt (biên lai) shows."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    #: 1 fines (xử phạt), 2 fees (phí, lệ phí).
    service_type: Literal[1, 2] = Field(alias="MaDichVu")
    public_service_code: StrictStr | None = Field(None, alias="MaDVC", max_length=50)
    procedure_code: StrictStr | None = Field(None, alias="MaTTHC", max_length=50)
    procedure_name: StrictStr | None = Field(None, alias="TenTTHC", max_length=500)
    unit_code: StrictStr | None = Field(None, alias="MaDonVi", max_length=50)
    dossier_code: StrictStr | None = Field(None, alias="MaHoSo", max_length=64)
    fees: list[FeeIn] = Field(default_factory=list, alias="PhiLePhi")
    payer_name: StrictStr = Field(alias="HoTenNguoiNop", min_length=1, max_length=255)
    #: CMND (9 digits), CCCD (12), or a passport / tax code when the payer is not a citizen.
    payer_id_number: StrictStr | None = Field(None, alias="SoCMNDNguoiNop", pattern=r"^[A-Za-z0-9\-]{1,20}$")
    payer_address: StrictStr | None = Field(None, alias="DiaChiNguoiNop", max_length=500)


class InitIn(_Wire):
    """INIT: open a payment."""

    message_type: Literal["INIT"] = Field(alias="LoaiBanTin")
    version: StrictStr = Field(alias="PhienBan", pattern=VERSION)
    partner_code: StrictStr = Field(alias="MaDoiTac", min_length=1, max_length=50)
    reference: StrictStr = Field(alias="MaThamChieu", pattern=REFERENCE)
    amount: StrictInt = Field(alias="SoTien", gt=0, le=10**12)
    currency: StrictStr = Field(alias="MaTienTe", min_length=1, max_length=8)
    payment_kind: Literal["PAY"] = Field(alias="LoaiHinhThanhToan")
    channel: StrictStr = Field(alias="MaKenhThanhToan", min_length=1, max_length=20)
    device: StrictStr = Field(alias="MaThietBi", min_length=1, max_length=100)
    language: Literal["vi-VN", "en-US"] = Field(alias="NgonNgu")
    bank_code: StrictStr | None = Field(None, alias="MaNganHang", max_length=32)
    time: StrictStr = Field(alias="ThoiGianGD")
    description: StrictStr = Field(alias="ThongTinGiaoDich", min_length=1, max_length=500)
    ip: StrictStr = Field(alias="Ip", max_length=45)
    receipt: ReceiptIn | None = Field(None, alias="ThongTinBienLai")
    checksum: StrictStr = Field(alias="MaXacThuc", min_length=1, max_length=256)

    _time = field_validator("time")(_check_time)

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("must be an IPv4 or IPv6 address") from None
        return value


class QueryIn(_Wire):
    """QUERY: the state of a payment by its reference."""

    message_type: Literal["QUERY"] = Field(alias="LoaiBanTin")
    version: StrictStr = Field(alias="PhienBan", pattern=VERSION)
    partner_code: StrictStr = Field(alias="MaDoiTac", min_length=1, max_length=50)
    reference: StrictStr = Field(alias="MaThamChieu", pattern=REFERENCE)
    time: StrictStr = Field(alias="ThoiGianGD")
    checksum: StrictStr = Field(alias="MaXacThuc", min_length=1, max_length=256)

    _time = field_validator("time")(_check_time)


class RefundIn(_Wire):
    """REFUND: give back all or part of a paid transaction."""

    message_type: Literal["REFUND"] = Field(alias="LoaiBanTin")
    version: StrictStr = Field(alias="PhienBan", pattern=VERSION)
    partner_code: StrictStr = Field(alias="MaDoiTac", min_length=1, max_length=50)
    reference: StrictStr = Field(alias="MaThamChieu", pattern=REFERENCE)
    refund_reference: StrictStr = Field(alias="MaThamChieuHoanTien", pattern=REFERENCE)
    amount: StrictInt = Field(alias="SoTien", gt=0, le=10**12)
    currency: StrictStr = Field(alias="MaTienTe", min_length=1, max_length=8)
    time: StrictStr = Field(alias="ThoiGianGD")
    reason: StrictStr | None = Field(None, alias="LyDo", max_length=500)
    checksum: StrictStr = Field(alias="MaXacThuc", min_length=1, max_length=256)

    _time = field_validator("time")(_check_time)


def _details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(p) for p in e["loc"]) or "body",
            "rule": e["type"],
            "message": e["msg"],
        }
        for e in exc.errors()
    ]


def parse_message(model: type[M], body: dict[str, Any]) -> M:
    """Validate ``body`` as ``model``; map pydantic's errors to the protocol's codes.

    Missing fields come first, then a bad amount, then any other malformed field; the
    currency is checked last so that ``MaTienTe`` other than ``VND`` has its own code.
    """
    try:
        msg = model.model_validate(body)
    except ValidationError as exc:
        details = _details(exc)
        if any(e["type"] == "missing" for e in exc.errors()):
            raise errors.FieldMissing(details=[d for d in details if d["rule"] == "missing"]) from None
        amount = [d for d in details if d["field"].split(".")[-1] == "SoTien"]
        if amount:
            raise errors.AmountInvalid(details=amount) from None
        raise errors.FieldInvalid(details=details) from None
    currency = getattr(msg, "currency", "VND")
    if currency != "VND":
        raise errors.CurrencyUnsupported(
            details=[{"field": "MaTienTe", "rule": "one_of", "message": f"VND, not {currency!r}"}]
        )
    return msg


# --- Replies --------------------------------------------------------------------------


def trang_thai(payment: Payment) -> int:
    """``TrangThaiGD`` of a payment: 1 success, 3 pending, 4 failed."""
    if payment.status == SUCCESS:
        return STATE_SUCCESS
    if payment.status == PENDING:
        return STATE_PENDING
    return STATE_FAILED


STATUS_VI = {
    PENDING: "Chờ thanh toán",
    SUCCESS: "Thanh toán thành công",
    FAILED: "Thanh toán không thành công",
    CANCELLED: "Đã hủy",
    EXPIRED: "Hết hạn",
}


def result_description(payment: Payment) -> str:
    if not payment.result_code:
        return "Giao dịch đang chờ thanh toán"
    return DESCRIPTION_BY_CODE.get(payment.result_code, ("", ""))[0]


def notice_fields(payment: Payment) -> dict[str, Any]:
    """The result notice (``NOTIFY``) and the browser redirect carry these fields (unsigned)."""
    return {
        "LoaiBanTin": NOTIFY,
        "PhienBan": PROTOCOL_VERSION,
        "MaDoiTac": payment.partner_code,
        "MaThamChieu": payment.reference,
        "MaGiaoDich": payment.transaction_id,
        "MaLoi": payment.result_code,
        "MoTaLoi": result_description(payment),
        "TrangThaiGD": trang_thai(payment),
        "SoTien": payment.amount,
        "MaTienTe": payment.currency,
        "MaNganHang": payment.bank_code,
        "ThoiGianGD": wire_time(payment.completed_ts),
        "ThongTinGiaoDich": payment.description,
    }


def init_reply(payment: Payment, page_url: str) -> dict[str, Any]:
    return {
        "error_code": "0",
        "message": "Khởi tạo giao dịch thành công",
        "message_en": "Payment initialised",
        "MaDoiTac": payment.partner_code,
        "MaThamChieu": payment.reference,
        "MaGiaoDich": payment.transaction_id,
        "SoTien": payment.amount,
        "UrlThanhToan": page_url,
        "ThoiHanThanhToan": wire_time(payment.expires_ts),
    }


def query_reply(payment: Payment) -> dict[str, Any]:
    return {
        "error_code": "0",
        "message": STATUS_VI[payment.status],
        "message_en": f"Payment {payment.status}",
        "LoaiBanTin": "QUERY",
        "MaDoiTac": payment.partner_code,
        "MaThamChieu": payment.reference,
        "MaGiaoDich": payment.transaction_id,
        "SoTien": payment.amount,
        "MaTienTe": payment.currency,
        "TrangThaiGD": trang_thai(payment),
        "MaLoi": payment.result_code,
        "MoTaLoi": result_description(payment),
        "MaNganHang": payment.bank_code,
        "ThoiGianGD": wire_time(payment.completed_ts),
        "ThoiGianKhoiTao": wire_time(payment.created_ts),
        "ThoiHanThanhToan": wire_time(payment.expires_ts),
        "ThongTinGiaoDich": payment.description,
        "SoTienDaHoan": payment.refunded_amount,
        "MaHoSo": payment.dossier_code,
    }


def refund_reply(payment: Payment, refund: Refund) -> dict[str, Any]:
    return {
        "error_code": "0",
        "message": "Hoàn tiền thành công",
        "message_en": "Refunded",
        "MaDoiTac": payment.partner_code,
        "MaThamChieu": payment.reference,
        "MaThamChieuHoanTien": refund.reference,
        "MaHoanTien": refund.refund_id,
        "MaGiaoDich": payment.transaction_id,
        "SoTien": refund.amount,
        "SoTienDaHoan": payment.refunded_amount,
        "ThoiGianGD": wire_time(refund.created_ts),
    }


def refund_notice_fields(payment: Payment, refund: Refund) -> dict[str, Any]:
    return {
        "LoaiBanTin": REFUND_NOTIFY,
        "PhienBan": PROTOCOL_VERSION,
        "MaDoiTac": payment.partner_code,
        "MaThamChieu": payment.reference,
        "MaThamChieuHoanTien": refund.reference,
        "MaGiaoDich": payment.transaction_id,
        "MaHoanTien": refund.refund_id,
        "MaLoi": "00",
        "MoTaLoi": "Hoàn tiền thành công",
        "SoTien": refund.amount,
        "SoTienDaHoan": payment.refunded_amount,
        "MaTienTe": payment.currency,
        "ThoiGianGD": wire_time(refund.created_ts),
        "LyDo": refund.reason,
    }


# --- Control plane --------------------------------------------------------------------


class PartnerIn(BaseModel):
    """Register or replace a partner (a province's system)."""

    name: str = Field("", max_length=255, description="display name of the partner")
    secret: str = Field(min_length=8, max_length=256, description="shared secret of the checksum")
    algorithm: Literal["sha256", "sha512"] = Field("sha256", description="HMAC algorithm of MaXacThuc")
    field_orders: dict[str, list[str]] = Field(
        default_factory=dict,
        description="message type → checksum field order, overriding the defaults (see GET /_sandbox/protocol)",
    )
    notice_url: str = Field(
        "", max_length=2048, description="where result notices are POSTed (http/https; outbound-URL policy applies)"
    )
    return_url: str = Field(
        "", max_length=2048, description="where the payer's browser is sent back (http/https; same policy)"
    )
    signature_scheme: Literal["sandbox", "standard-webhooks"] = Field(
        "sandbox",
        description="HTTP signature of result notices besides MaXacThuc: X-Sandbox-Signature (sandbox) or the "
        "Standard Webhooks headers webhook-id, webhook-timestamp, webhook-signature (key: standard_webhooks_secret)",
    )

    @field_validator("field_orders")
    @classmethod
    def _orders(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, fields in value.items():
            if key not in DEFAULT_FIELD_ORDERS:
                raise ValueError(f"unknown message type {key!r}; use one of {sorted(DEFAULT_FIELD_ORDERS)}")
            if not fields or any(not f or f == "MaXacThuc" for f in fields):
                raise ValueError(f"{key}: give a non-empty list of field names (MaXacThuc excluded)")
        return value

    @field_validator("name", "secret", "notice_url", "return_url")
    @classmethod
    def _clean(cls, value: str) -> str:
        if CONTROL_CHARS.search(value):
            raise ValueError("control characters are not allowed")
        return value


class CompleteIn(BaseModel):
    """Complete a pending payment without a browser."""

    outcome: Literal["success", "insufficient_funds", "card_locked", "cancelled", "timeout"] = Field(
        description="what the payer did: " + ", ".join(OUTCOMES)
    )
    bank_code: str = Field(
        "NCB", alias="MaNganHang", max_length=32, pattern=r"^[A-Za-z0-9_.\-]*$", description="bank or wallet used"
    )

    model_config = ConfigDict(populate_by_name=True)


# -- switch parameters ---------------------------------------------------------------------


class InitSlowParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay_s: WaitSeconds = 5.0


class DuplicateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    copies: int = Field(2, ge=2, le=10)


class OutOfOrderParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay_s: float = Field(30.0, ge=0, le=MAX_CLOCK_OFFSET_S, allow_inf_nan=False, description="test-clock seconds")


#: The parameters each switch takes (checked when it is set; the others take none). Only the
#: parameters given are stored; the code applying a switch supplies the same defaults.
SWITCH_PARAMS: dict[str, type[BaseModel]] = {
    "init_slow": InitSlowParams,
    "notice_duplicate": DuplicateParams,
    "notice_out_of_order": OutOfOrderParams,
}
