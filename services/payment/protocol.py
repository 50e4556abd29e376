"""The PayGov checksum (``MaXacThuc``), message types, result codes and wire times.

``MaXacThuc`` = hex HMAC (SHA-256 by default, SHA-512 per partner) with the partner's
secret over the message's fields joined with ``|`` in the order configured for that
message type (defaults below; a partner may override any of them). A missing field
counts as the empty string; numbers are written in decimal (``150000``); an object or
list (only if a partner puts one in its order) as compact JSON with UTF-8 characters.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from vnsandbox.signing import constant_time_equal, hmac_hex
from vnsandbox.vn.wiretime import parse_wire_day, wire_time_of_epoch

ALGORITHMS = ("sha256", "sha512")

#: Messages partners send (``LoaiBanTin``).
INIT, QUERY, REFUND = "INIT", "QUERY", "REFUND"
REQUEST_TYPES = (INIT, QUERY, REFUND)
#: Messages the platform sends.
NOTIFY, REFUND_NOTIFY = "NOTIFY", "REFUND_NOTIFY"

#: Default checksum field order per message type (replies are signed too).
DEFAULT_FIELD_ORDERS: dict[str, list[str]] = {
    "INIT": [
        "LoaiBanTin",
        "PhienBan",
        "MaDoiTac",
        "MaThamChieu",
        "SoTien",
        "MaTienTe",
        "LoaiHinhThanhToan",
        "MaKenhThanhToan",
        "MaThietBi",
        "NgonNgu",
        "MaNganHang",
        "ThoiGianGD",
        "ThongTinGiaoDich",
        "Ip",
    ],
    "INIT_REPLY": ["error_code", "MaDoiTac", "MaThamChieu", "MaGiaoDich", "SoTien", "UrlThanhToan"],
    "QUERY": ["LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD"],
    "QUERY_REPLY": [
        "error_code",
        "MaDoiTac",
        "MaThamChieu",
        "MaGiaoDich",
        "SoTien",
        "MaTienTe",
        "TrangThaiGD",
        "MaLoi",
        "MaNganHang",
        "ThoiGianGD",
    ],
    "NOTIFY": [
        "LoaiBanTin",
        "PhienBan",
        "MaDoiTac",
        "MaThamChieu",
        "MaGiaoDich",
        "MaLoi",
        "SoTien",
        "MaTienTe",
        "MaNganHang",
        "ThoiGianGD",
        "ThongTinGiaoDich",
    ],
    "REFUND": [
        "LoaiBanTin",
        "PhienBan",
        "MaDoiTac",
        "MaThamChieu",
        "MaThamChieuHoanTien",
        "SoTien",
        "MaTienTe",
        "ThoiGianGD",
    ],
    "REFUND_REPLY": [
        "error_code",
        "MaDoiTac",
        "MaThamChieu",
        "MaThamChieuHoanTien",
        "MaHoanTien",
        "SoTien",
        "SoTienDaHoan",
    ],
    "REFUND_NOTIFY": [
        "LoaiBanTin",
        "PhienBan",
        "MaDoiTac",
        "MaThamChieu",
        "MaThamChieuHoanTien",
        "MaGiaoDich",
        "MaHoanTien",
        "MaLoi",
        "SoTien",
        "MaTienTe",
        "ThoiGianGD",
    ],
    "RECONCILE": ["MaDoiTac", "Ngay"],
}

#: Outcome of a payment → ``MaLoi`` (codes borrowed from the VNPay convention provinces know).
RESULT_CODES: dict[str, tuple[str, str, str]] = {
    # outcome: (MaLoi, Vietnamese, English)
    "success": ("00", "Giao dịch thành công", "Successful"),
    "insufficient_funds": ("51", "Tài khoản không đủ số dư", "Insufficient funds"),
    "card_locked": ("12", "Thẻ/Tài khoản bị khóa", "Card or account locked"),
    "cancelled": ("24", "Khách hàng hủy giao dịch", "Cancelled by the payer"),
    "timeout": ("11", "Hết thời gian chờ thanh toán", "Payment timed out"),
}
OUTCOMES = tuple(RESULT_CODES)
DESCRIPTION_BY_CODE = {code: (vi, en) for code, vi, en in RESULT_CODES.values()}

#: ``TrangThaiGD`` of the wire: 1 success, 3 pending, 4 failed (any unsuccessful end).
STATE_SUCCESS, STATE_PENDING, STATE_FAILED = 1, 3, 4

#: ``MaNganHang`` values that complete a payment at INIT without a browser (CI).
MAGIC_BANKS: dict[str, str] = {
    "SANDBOX_OK": "success",
    "SANDBOX_NOFUNDS": "insufficient_funds",
    "SANDBOX_LOCKED": "card_locked",
    "SANDBOX_CANCEL": "cancelled",
    "SANDBOX_TIMEOUT": "timeout",
}
#: Last two digits of ``SoTien`` that turn a successful payment into a failure.
MAGIC_AMOUNT_ENDINGS: dict[int, str] = {51: "insufficient_funds", 12: "card_locked"}


def field_text(value: Any) -> str:
    """How one field's value is written into the checksum string."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


@dataclass(frozen=True)
class PartnerKey:
    """What the checksum needs from a partner."""

    code: str
    secret: str
    algorithm: str = "sha256"
    field_orders: Mapping[str, list[str]] = field(default_factory=dict)

    def order(self, message_type: str) -> list[str]:
        return list(self.field_orders.get(message_type) or DEFAULT_FIELD_ORDERS[message_type])

    def signing_string(self, message_type: str, values: Mapping[str, Any]) -> str:
        order = self.field_orders.get(message_type) or DEFAULT_FIELD_ORDERS[message_type]
        return "|".join([field_text(values.get(f)) for f in order])

    def checksum(self, message_type: str, values: Mapping[str, Any]) -> str:
        text = self.signing_string(message_type, values)
        if self.algorithm in ALGORITHMS:  # OpenSSL's one-shot HMAC (what hmac_hex computes, faster)
            return hmac.digest(self.secret.encode(), text.encode(), self.algorithm).hex()
        return hmac_hex(self.secret, text, self.algorithm)

    def verify(self, message_type: str, values: Mapping[str, Any], given: str) -> bool:
        return constant_time_equal(self.checksum(message_type, values), given.strip().lower())

    def sign(self, message_type: str, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` with its ``MaXacThuc`` added (last)."""
        out = {k: v for k, v in values.items() if k != "MaXacThuc"}
        out["MaXacThuc"] = self.checksum(message_type, out)
        return out


def wire_time(ts: float | None) -> str:
    """Epoch seconds → ``yyyyMMddHHmmss`` in Vietnam time (empty for ``None``)."""
    return "" if ts is None else wire_time_of_epoch(ts)


def vn_day_bounds(day: str) -> tuple[float, float]:
    """``yyyyMMdd`` → [start, end) epoch seconds of that day in Vietnam time."""
    start = parse_wire_day(day)
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def outcome_for(requested: str, bank_code: str, amount: int) -> str:
    """The outcome a payment gets: magic banks and amount endings turn success into failure.

    Precedence (docs/payment.md): a failing magic bank decides first; a payment that is still a
    success after that (``SANDBOX_OK`` included) fails when its amount ends in 51 or 12.
    """
    if requested != "success":
        return requested
    by_bank = MAGIC_BANKS.get(bank_code, "success")
    if by_bank != "success":
        return by_bank
    return MAGIC_AMOUNT_ENDINGS.get(amount % 100, "success")
