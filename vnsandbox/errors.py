"""One typed error hierarchy and the one handler that turns it into replies.

Every error reply of the sandbox's own envelope has the same shape::

    {"error_code": "MALFORMED_JSON", "message": "<Vietnamese>", "message_en": "<English>",
     "details": [...], "request_id": "..."}

``error_code`` is machine-readable; ``message`` is Vietnamese because the real
platforms speak Vietnamese, ``message_en`` is for everyone else. Services whose real
counterpart uses another envelope (OAuth2 errors, the DVCQG numeric codes, PayGov)
subclass :class:`SandboxError` and override :meth:`SandboxError.body`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from vnsandbox.context import current_request_id

log = logging.getLogger("vnsandbox.errors")


class ErrorDetail(BaseModel):
    """One reason a request was refused: the field, the rule it broke, a message."""

    model_config = ConfigDict(extra="allow")
    field: str = Field(description="the field (dotted path), or `body`")
    rule: str = Field(description="machine-readable rule, e.g. `missing`, `no_nul`, `int_parsing`")
    message: str


class ErrorBody(BaseModel):
    """The sandbox's error envelope (documentation model of :meth:`SandboxError.body`)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "error_code": "MALFORMED_JSON",
                "message": "Nội dung yêu cầu không phải JSON hợp lệ",
                "message_en": "The request body is not valid JSON",
                "request_id": "4f6c0d2e9b7a4c1e8d3f5a6b7c8d9e0f",
            }
        },
    )
    error_code: str = Field(description="machine-readable code, e.g. `VALIDATION_ERROR`")
    message: str = Field(description="Vietnamese message")
    message_en: str = Field(description="English message")
    details: list[ErrorDetail] = Field(default_factory=list, description="one item per refused field")
    request_id: str | None = Field(None, description="the request id, as in `X-Request-ID` and the logs")


class SandboxError(Exception):
    """Base of every error the sandbox answers on purpose."""

    status_code: int = 400
    code: str = "BAD_REQUEST"
    message_vi: str = "Yêu cầu không hợp lệ"
    message_en: str = "Bad request"
    #: When true, the unit of work the error leaves is committed, not rolled back
    #: (:meth:`vnsandbox.db.Database.session`): a spent authorization code, a revoked token
    #: family, the counted use of a failure switch must stay although the request fails.
    keep_changes: bool = False

    def __init__(
        self,
        message_en: str | None = None,
        message_vi: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
        details: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        keep_changes: bool | None = None,
    ) -> None:
        if message_en is not None:
            self.message_en = message_en
        if message_vi is not None:
            self.message_vi = message_vi
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.details = [dict(d) for d in details] if details else []
        self.headers = dict(headers) if headers else {}
        if keep_changes is not None:
            self.keep_changes = keep_changes
        super().__init__(self.message_en)

    def body(self) -> dict[str, Any]:
        """The JSON body of the reply. Overridden where the real platform differs."""
        body: dict[str, Any] = {
            "error_code": self.code,
            "message": self.message_vi,
            "message_en": self.message_en,
        }
        if self.details:
            body["details"] = self.details
        body["request_id"] = current_request_id()
        return body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status_code, headers=self.headers or None)


class BadRequest(SandboxError):
    pass


class MalformedJSON(SandboxError):
    code = "MALFORMED_JSON"
    message_vi = "Nội dung yêu cầu không phải JSON hợp lệ"
    message_en = "The request body is not valid JSON"


class MalformedBody(SandboxError):
    code = "MALFORMED_BODY"
    message_vi = "Không đọc được nội dung yêu cầu (biểu mẫu hoặc dữ liệu sai định dạng)"
    message_en = "The request body could not be parsed"


class JSONTooDeep(SandboxError):
    code = "JSON_TOO_DEEP"

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        super().__init__(
            f"The JSON body is nested deeper than {max_depth} levels",
            f"Nội dung JSON lồng nhau sâu quá {max_depth} cấp",
            details=[{"field": "body", "rule": "max_depth", "message": str(max_depth)}],
        )


class RequestTimeout(SandboxError):
    status_code = 408
    code = "REQUEST_TIMEOUT"
    message_vi = "Không nhận đủ nội dung yêu cầu trong thời gian cho phép"
    message_en = "The request body did not arrive in time"


class NotAcceptable(SandboxError):
    status_code = 406
    code = "NOT_ACCEPTABLE"
    message_vi = "Không có định dạng trả lời phù hợp với tiêu đề Accept"
    message_en = "No representation matches the Accept header"


class UnsupportedMediaType(SandboxError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    message_vi = "Kiểu nội dung không được hỗ trợ; hãy gửi application/json"
    message_en = "Unsupported content type; send application/json"


class ValidationFailed(SandboxError):
    status_code = 422
    code = "VALIDATION_ERROR"
    message_vi = "Dữ liệu không hợp lệ"
    message_en = "The request did not pass validation"


class Unauthorized(SandboxError):
    status_code = 401
    code = "UNAUTHORIZED"
    message_vi = "Chưa xác thực hoặc thông tin xác thực không hợp lệ"
    message_en = "Missing or invalid credentials"


class Forbidden(SandboxError):
    status_code = 403
    code = "FORBIDDEN"
    message_vi = "Không có quyền thực hiện yêu cầu này"
    message_en = "Not allowed"


class NotFound(SandboxError):
    status_code = 404
    code = "NOT_FOUND"
    message_vi = "Không tìm thấy tài nguyên"
    message_en = "Not found"


class MethodNotAllowed(SandboxError):
    status_code = 405
    code = "METHOD_NOT_ALLOWED"
    message_vi = "Phương thức HTTP không được hỗ trợ cho đường dẫn này"
    message_en = "HTTP method not allowed on this path"


class Conflict(SandboxError):
    status_code = 409
    code = "CONFLICT"
    message_vi = "Xung đột với dữ liệu hiện có"
    message_en = "Conflicts with existing data"


class PayloadTooLarge(SandboxError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    message_vi = "Nội dung yêu cầu vượt quá kích thước cho phép"
    message_en = "The request body is larger than allowed"


class TooManyRequests(SandboxError):
    status_code = 429
    code = "RATE_LIMITED"
    message_vi = "Vượt quá hạn mức gọi; vui lòng thử lại sau"
    message_en = "Rate limit exceeded; retry later"


class ServiceUnavailable(SandboxError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    message_vi = "Dịch vụ tạm thời không khả dụng"
    message_en = "Service temporarily unavailable"


class OAuthError(SandboxError):
    """An OAuth 2.0 error reply (RFC 6749 §5.2): ``{"error", "error_description"}``.

    ``error`` is the RFC code; the description carries both languages, Vietnamese first. Used by
    every OAuth 2.0 endpoint of the sandbox (the identity provider's, the gateway's token endpoint).
    """

    status_code = 400

    def __init__(
        self,
        error: str,
        message_en: str,
        message_vi: str,
        *,
        status_code: int = 400,
        headers: Mapping[str, str] | None = None,
        keep_changes: bool = False,
    ) -> None:
        super().__init__(
            message_en, message_vi, code=error, status_code=status_code, headers=headers, keep_changes=keep_changes
        )
        self.headers.setdefault("Cache-Control", "no-store")

    @property
    def error(self) -> str:
        return self.code

    def description(self) -> str:
        return f"{self.message_vi} ({self.message_en})"

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.description()}


class OAuthErrorBody(BaseModel):
    """An OAuth 2.0 error reply (RFC 6749 §5.2; documentation model of :meth:`OAuthError.body`),
    of the identity provider's endpoints and the gateway's token endpoint alike."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "error": "invalid_client",
                "error_description": "Xác thực ứng dụng không thành công (Client authentication failed)",
            }
        },
    )
    error: str = Field(description="the RFC code: `invalid_request`, `invalid_client`, `invalid_grant`, …")
    error_description: str = Field(description="Vietnamese, then English in parentheses")


def internal_error() -> SandboxError:
    """The reply for a defect of the sandbox itself (never for bad input)."""
    return SandboxError(
        "Internal error in the sandbox; the request id identifies it in the logs",
        "Lỗi nội bộ của môi trường thử nghiệm; mã yêu cầu giúp tra cứu nhật ký",
        code="INTERNAL_ERROR",
        status_code=500,
    )


class RangeNotSatisfiable(SandboxError):
    status_code = 416
    code = "RANGE_NOT_SATISFIABLE"
    message_vi = "Khoảng dữ liệu yêu cầu (Range) không hợp lệ"
    message_en = "The requested range cannot be served"


#: The reply of every status the framework itself may raise (routing, body parsing, ...).
_HTTP_STATUS_ERRORS: dict[int, type[SandboxError]] = {
    400: MalformedBody,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    406: NotAcceptable,
    408: RequestTimeout,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    416: RangeNotSatisfiable,
    422: ValidationFailed,
    429: TooManyRequests,
    503: ServiceUnavailable,
}


def framework_error(status_code: int, content_type: str = "") -> SandboxError:
    """The documented error for a status the framework raised: never an ``HTTP_<n>`` code.

    A body the framework could not parse is ``MALFORMED_JSON`` when it was sent as JSON,
    ``MALFORMED_BODY`` otherwise (forms). A status without its own class keeps its number
    with the generic ``BAD_REQUEST`` (4xx) or ``INTERNAL_ERROR`` (5xx) code.
    """
    if status_code == 400 and _is_json_content_type(content_type):
        return MalformedJSON()
    cls = _HTTP_STATUS_ERRORS.get(status_code)
    if cls is not None:
        return cls()
    if status_code >= 500:
        err = internal_error()
        err.status_code = status_code
        return err
    return BadRequest(status_code=status_code)


def allowed_methods(app: Any, scope: Mapping[str, Any]) -> list[str]:
    """Every method some route of ``app`` answers on the request's path (for ``Allow``)."""
    probe = {
        "type": "http",
        "path": scope.get("path", "/"),
        "root_path": scope.get("root_path", ""),
        "method": "GET",
        "headers": [],
        "query_string": b"",
    }
    methods: set[str] = set()
    for route in iter_route_contexts(app.routes):
        match, _ = route.matches(dict(probe))
        if match != Match.NONE:
            methods |= set(route.methods or ())
    return sorted(methods)


def _is_json_content_type(value: str) -> bool:
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Turn pydantic errors into ``{"field", "rule", "message"}`` items."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        if err.get("type") == "json_invalid":
            loc = []  # pydantic reports the byte offset here, not a field
        out.append(
            {
                "field": ".".join(loc) or "body",
                "rule": err.get("type", "invalid"),
                "message": err.get("msg", ""),
            }
        )
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Register the one exception handler family on ``app``."""

    async def sandbox_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SandboxError)
        return exc.response()

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        error = framework_error(exc.status_code, request.headers.get("content-type", ""))
        error.headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route that matched the path; list them all.
            error.headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
        return error.response()

    async def request_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = list(exc.errors())
        body_errors = [e for e in errors if e.get("loc", ("",))[0] == "body"]
        content_type = request.headers.get("content-type", "")
        if (
            body_errors
            and content_type
            and not _is_json_content_type(content_type)
            and request.method in ("POST", "PUT", "PATCH")
        ):
            return UnsupportedMediaType(
                details=[{"field": "content-type", "rule": "media_type", "message": content_type}]
            ).response()
        if any(e.get("type") == "json_invalid" for e in errors):
            return MalformedJSON(details=validation_details(errors)).response()
        return ValidationFailed(details=validation_details(errors)).response()

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return internal_error().response()

    app.add_exception_handler(SandboxError, sandbox_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, request_validation)
    app.add_exception_handler(Exception, unexpected)
