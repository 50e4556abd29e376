"""Errors of the PayGov wire protocol: one class per documented ``error_code``.

Replies keep the sandbox envelope ``{"error_code", "message", "message_en", "details",
"request_id"}``; ``error_code`` is always a string (``"0"`` on success), so a partner
compares strings everywhere.
"""

from __future__ import annotations

from vnsandbox.errors import SandboxError


class PayGovError(SandboxError):
    """Base of the payment platform's own errors."""


class MessageTypeUnknown(PayGovError):
    status_code = 400
    code = "MESSAGE_TYPE_UNKNOWN"
    message_vi = "Loại bản tin (LoaiBanTin) không được hỗ trợ"
    message_en = "Unknown message type (LoaiBanTin)"


class PartnerUnknown(PayGovError):
    status_code = 401
    code = "PARTNER_UNKNOWN"
    message_vi = "Mã đối tác (MaDoiTac) chưa được đăng ký"
    message_en = "Unknown partner code (MaDoiTac)"


class ChecksumInvalid(PayGovError):
    status_code = 401
    code = "CHECKSUM_INVALID"
    message_vi = "Mã xác thực (MaXacThuc) không đúng"
    message_en = "Wrong checksum (MaXacThuc)"


class FieldMissing(PayGovError):
    status_code = 422
    code = "FIELD_MISSING"
    message_vi = "Thiếu trường bắt buộc"
    message_en = "A required field is missing"


class FieldInvalid(PayGovError):
    status_code = 422
    code = "FIELD_INVALID"
    message_vi = "Trường dữ liệu sai định dạng"
    message_en = "A field is malformed"


class AmountInvalid(PayGovError):
    status_code = 422
    code = "AMOUNT_INVALID"
    message_vi = "Số tiền (SoTien) phải là số nguyên dương, đơn vị đồng"
    message_en = "The amount (SoTien) must be a positive integer number of VND"


class CurrencyUnsupported(PayGovError):
    status_code = 422
    code = "CURRENCY_UNSUPPORTED"
    message_vi = "Mã tiền tệ (MaTienTe) chỉ được là VND"
    message_en = "The currency (MaTienTe) must be VND"


class AmountMismatch(PayGovError):
    status_code = 422
    code = "AMOUNT_MISMATCH"
    message_vi = "Số tiền (SoTien) không bằng tổng các khoản phí, lệ phí (PhiLePhi)"
    message_en = "The amount (SoTien) is not the sum of the fees (PhiLePhi)"


class ReferenceConflict(PayGovError):
    status_code = 409
    code = "REFERENCE_CONFLICT"
    message_vi = "Mã tham chiếu (MaThamChieu) đã được dùng cho một giao dịch có nội dung khác"
    message_en = "The reference (MaThamChieu) was already used for a different transaction"


class PaymentNotFound(PayGovError):
    status_code = 404
    code = "PAYMENT_NOT_FOUND"
    message_vi = "Không tìm thấy giao dịch"
    message_en = "No such payment"


class PaymentNotPending(PayGovError):
    status_code = 409
    code = "PAYMENT_NOT_PENDING"
    message_vi = "Giao dịch đã kết thúc, không thể thay đổi kết quả"
    message_en = "The payment already has its outcome"


class PaymentNotRefundable(PayGovError):
    status_code = 409
    code = "PAYMENT_NOT_REFUNDABLE"
    message_vi = "Chỉ hoàn tiền được cho giao dịch đã thanh toán thành công"
    message_en = "Only a successfully paid transaction can be refunded"


class RefundAmountExceeded(PayGovError):
    status_code = 422
    code = "REFUND_AMOUNT_EXCEEDED"
    message_vi = "Số tiền hoàn vượt quá số tiền còn lại của giao dịch"
    message_en = "The refund is larger than what remains of the payment"


class PlatformUnavailable(PayGovError):
    status_code = 503
    code = "PLATFORM_UNAVAILABLE"
    message_vi = "Nền tảng thanh toán tạm thời không xử lý được yêu cầu"
    message_en = "The payment platform could not process the request (fail switch)"


class PartnerInvalid(PayGovError):
    status_code = 422
    code = "PARTNER_INVALID"
    message_vi = "Cấu hình đối tác không hợp lệ"
    message_en = "Invalid partner configuration"


class CallbackUrlRefused(PayGovError):
    status_code = 422
    code = "OUTBOUND_URL_REFUSED"
    message_vi = "URL gọi lại không được phép (địa chỉ nội bộ, link-local hoặc metadata)"
    message_en = "Callback URL not allowed (internal, link-local or metadata address)"


#: Every error code of the wire protocol, for the documentation and the tests.
ERROR_CODES: dict[str, type[PayGovError]] = {
    cls.code: cls
    for cls in (
        MessageTypeUnknown,
        PartnerUnknown,
        ChecksumInvalid,
        FieldMissing,
        FieldInvalid,
        AmountInvalid,
        CurrencyUnsupported,
        AmountMismatch,
        ReferenceConflict,
        PaymentNotFound,
        PaymentNotPending,
        PaymentNotRefundable,
        RefundAmountExceeded,
        PlatformUnavailable,
        PartnerInvalid,
        CallbackUrlRefused,
    )
}


class ReceiptUnavailable(PayGovError):
    status_code = 409
    code = "RECEIPT_NOT_AVAILABLE"
    message_vi = "Chỉ giao dịch đã thanh toán thành công mới có biên lai"
    message_en = "Only a successfully paid transaction has a receipt"


ERROR_CODES[ReceiptUnavailable.code] = ReceiptUnavailable
