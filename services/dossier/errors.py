"""The DVCQG reply envelope ``{"error_code": <int>, "message": ...}`` and its codes.

The real sync API answers every call with a numeric ``error_code`` (0 is success) and a
Vietnamese ``message``. The sandbox keeps that envelope and adds ``message_en``,
``details`` (each ``{"field", "rule", "message", "message_en"}``) and ``request_id``.
Each failure has its own code; the HTTP status follows the code (table in
``docs/dossier.md``), so a client may look at either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vnsandbox.context import current_request_id
from vnsandbox.errors import ErrorDetail, SandboxError
from vnsandbox.openapi import Responses, error_responses


class Code(IntEnum):
    OK = 0
    MALFORMED = 1
    UNKNOWN_SERVICE = 2
    WRONG_CREDENTIALS = 10
    SESSION_MISSING = 11
    SESSION_EXPIRED = 12
    SESSION_INVALID = 13
    UNIT_MISSING = 14
    UNIT_MISMATCH = 15
    TOKEN_INVALID = 16
    FORBIDDEN_UNIT = 17
    TOKEN_EXPIRED = 18
    VALIDATION = 20
    ALREADY_EXISTS = 21
    NOT_FOUND = 22
    ILLEGAL_TRANSITION = 23
    REPLAY = 24
    OUT_OF_ORDER = 25
    BATCH_TOO_LARGE = 26
    PARTIAL = 27
    IMPLAUSIBLE_TIME = 28
    TRANSIENT = 30
    TIMEOUT = 31
    POPULATION_UNAVAILABLE = 32
    PAYMENT_UNAVAILABLE = 33
    INTERNAL = 99


#: code → (HTTP status, Vietnamese message, English message)
MESSAGES: dict[Code, tuple[int, str, str]] = {
    Code.OK: (200, "Thành công", "Success"),
    Code.MALFORMED: (400, "Yêu cầu không đúng định dạng", "Malformed request"),
    Code.UNKNOWN_SERVICE: (400, "Không hỗ trợ dịch vụ này", "Unknown service"),
    Code.WRONG_CREDENTIALS: (401, "Sai tên đăng nhập hoặc mật khẩu", "Wrong username or password"),
    Code.SESSION_MISSING: (401, "Thiếu mã phiên làm việc (session)", "No session given"),
    Code.SESSION_EXPIRED: (401, "Phiên làm việc đã hết hạn, vui lòng đăng nhập lại", "The session has expired"),
    Code.SESSION_INVALID: (401, "Phiên làm việc không hợp lệ", "Unknown session"),
    Code.UNIT_MISSING: (400, "Thiếu hoặc sai mã đơn vị gửi", "Missing or unknown sending unit"),
    Code.UNIT_MISMATCH: (401, "Tài khoản không thuộc đơn vị gửi", "The account does not belong to the sending unit"),
    Code.TOKEN_INVALID: (401, "Mã truy cập không hợp lệ", "Invalid bearer token"),
    Code.TOKEN_EXPIRED: (401, "Mã truy cập đã hết hạn", "The access token has expired"),
    Code.FORBIDDEN_UNIT: (403, "Đơn vị không có quyền với hồ sơ này", "The unit may not act on this dossier"),
    Code.VALIDATION: (422, "Dữ liệu không hợp lệ", "The record did not pass validation"),
    Code.ALREADY_EXISTS: (409, "Hồ sơ đã tồn tại", "Already exists"),
    Code.NOT_FOUND: (404, "Không tìm thấy hồ sơ", "Not found"),
    Code.ILLEGAL_TRANSITION: (422, "Chuyển trạng thái không hợp lệ", "Illegal status transition"),
    Code.REPLAY: (200, "Bản ghi đã được nhận trước đó; không áp dụng lại", "Already received; applied once"),
    Code.OUT_OF_ORDER: (
        422,
        "Bản ghi cũ hơn bản ghi đã áp dụng; không áp dụng",
        "Older than the newest applied record; not applied",
    ),
    Code.BATCH_TOO_LARGE: (413, "Số bản ghi vượt quá giới hạn một lần gửi", "Too many records in one call"),
    Code.PARTIAL: (200, "Một số bản ghi bị từ chối; xem từng kết quả", "Some records were rejected; see each result"),
    Code.IMPLAUSIBLE_TIME: (
        422,
        "Thời điểm không hợp lý: sau thời điểm hiện tại hoặc trước khi tiếp nhận hồ sơ",
        "Implausible time: later than now or before the dossier was received",
    ),
    Code.TRANSIENT: (503, "Hệ thống đang bận, vui lòng thử lại sau", "Temporarily unavailable; retry later"),
    Code.TIMEOUT: (504, "Hết thời gian xử lý", "Timed out"),
    Code.POPULATION_UNAVAILABLE: (
        503,
        "Không kiểm tra được CSDL quốc gia về dân cư; hồ sơ chưa được nhận, vui lòng gửi lại sau",
        "The population database could not be checked; the record was not accepted, send it again later",
    ),
    Code.PAYMENT_UNAVAILABLE: (
        502,
        "Nền tảng thanh toán không trả lời đúng giao thức; vui lòng thử lại sau",
        "The payment platform did not answer as its protocol says; try again later",
    ),
    Code.INTERNAL: (500, "Lỗi hệ thống", "Internal error"),
}


def http_status(code: Code) -> int:
    return MESSAGES[code][0]


def envelope(code: Code, message_vi: str | None = None, message_en: str | None = None) -> dict[str, Any]:
    _, vi, en = MESSAGES[code]
    return {"error_code": int(code), "message": message_vi or vi, "message_en": message_en or en}


def detail(field: str, rule: str, message_vi: str, message_en: str) -> dict[str, str]:
    """One reason a record was refused: the field, the rule, both languages."""
    return {"field": field, "rule": rule, "message": message_vi, "message_en": message_en}


class DvcqgError(SandboxError):
    """An error answered in the DVCQG envelope with its numeric code."""

    def __init__(
        self,
        dvcqg_code: Code,
        message_en: str | None = None,
        message_vi: str | None = None,
        *,
        details: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        status, vi, en = MESSAGES[dvcqg_code]
        self.dvcqg_code = dvcqg_code
        super().__init__(
            message_en or en,
            message_vi or vi,
            code=dvcqg_code.name,
            status_code=status,
            details=details,
            headers=headers,
        )

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "error_code": int(self.dvcqg_code),
            "message": self.message_vi,
            "message_en": self.message_en,
        }
        if self.details:
            out["details"] = self.details
        out["request_id"] = current_request_id()
        return out


class DvcqgErrorBody(BaseModel):
    """The DVCQG envelope of a refused call (documentation model of :meth:`DvcqgError.body`)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "error_code": 11,
                "message": "Thiếu mã phiên làm việc (session)",
                "message_en": "No session given",
                "request_id": "4f6c0d2e9b7a4c1e8d3f5a6b7c8d9e0f",
            }
        },
    )
    error_code: int = Field(description="the numeric DVCQG code (table in docs/dossier.md); 0 is success")
    message: str = Field(description="Vietnamese message")
    message_en: str | None = Field(None, description="English message")
    details: list[ErrorDetail] = Field(default_factory=list)
    request_id: str | None = None


def dvcqg_errors(*statuses: int, **descriptions: str) -> Responses:
    """``responses=`` declaring error replies in the DVCQG envelope."""
    return error_responses(*statuses, envelope=DvcqgErrorBody, **descriptions)
