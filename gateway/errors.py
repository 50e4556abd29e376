"""Errors the gateway answers itself.

They keep the sandbox envelope (``error_code``, Vietnamese ``message``, ``message_en``,
``request_id``) and add the X-Road style ``type`` and ``detail`` that integrators of
neighbouring data-exchange platforms know.
"""

from __future__ import annotations

from typing import Any

from vnsandbox.errors import SandboxError


class GatewayError(SandboxError):
    xroad_type = "Server.ServerProxy"

    def body(self) -> dict[str, Any]:
        out = super().body()
        out["type"] = self.xroad_type
        out["detail"] = self.message_en
        return out


class UpstreamUnreachable(GatewayError):
    status_code = 502
    code = "UPSTREAM_UNREACHABLE"
    xroad_type = "Server.ServerProxy.NetworkError"
    message_vi = "Không kết nối được tới dịch vụ phía sau cổng kết nối"
    message_en = "The upstream service could not be reached"


class UpstreamBadReply(GatewayError):
    """502: the service answered, but not with HTTP the gateway can relay (a header line
    over ``GATEWAY_MAX_UPSTREAM_HEADER_BYTES``, a malformed status line or body framing)."""

    status_code = 502
    code = "UPSTREAM_BAD_REPLY"
    xroad_type = "Server.ServerProxy.InvalidResponse"
    message_vi = "Dịch vụ phía sau cổng kết nối trả lời không hợp lệ"
    message_en = "The upstream service answered with an invalid reply"


class UpstreamsNotReady(GatewayError):
    """503 from ``/_sandbox/ready``: some upstream does not answer its ``/_sandbox/health``."""

    status_code = 503
    code = "UPSTREAMS_NOT_READY"
    xroad_type = "Server.ServerProxy.ServiceUnavailable"

    def __init__(self, down: list[str], services: dict[str, Any]) -> None:
        names = ", ".join(down)
        super().__init__(
            f"Not ready: these upstream services do not answer their health check: {names}",
            f"Chưa sẵn sàng: các dịch vụ sau chưa trả lời kiểm tra sức khoẻ: {names}",
            headers={"Retry-After": "1"},
        )
        self.down = down
        self.services = services

    def body(self) -> dict[str, Any]:
        return {**super().body(), "status": "not_ready", "down": self.down, "services": self.services}


class UpstreamTimeout(GatewayError):
    status_code = 504
    code = "UPSTREAM_TIMEOUT"
    xroad_type = "Server.ServerProxy.Timeout"
    message_vi = "Dịch vụ phía sau cổng kết nối không trả lời kịp thời"
    message_en = "The upstream service did not answer in time"


def upstream_timeout(service: str, timeout_s: float) -> UpstreamTimeout:
    """504 for a service that did not answer within ``GATEWAY_UPSTREAM_TIMEOUT_S``."""
    return UpstreamTimeout(
        f"The {service} service did not answer within {timeout_s} s",
        f"Dịch vụ {service} không trả lời trong {timeout_s} giây",
    )


class BadProxyPath(GatewayError):
    status_code = 400
    code = "INVALID_PATH"
    xroad_type = "Client.InvalidPath"
    message_vi = "Đường dẫn không hợp lệ"
    message_en = "Invalid path"


class AuthError(GatewayError):
    """401: no credentials, or credentials the gateway does not accept."""

    status_code = 401
    code = "UNAUTHORIZED"
    xroad_type = "Client.Unauthorized"
    message_vi = "Chưa xác thực hoặc thông tin xác thực không hợp lệ"
    message_en = "Missing or invalid credentials"

    def __init__(self, message_en: str | None = None, message_vi: str | None = None, **kw: Any) -> None:
        super().__init__(message_en, message_vi, **kw)
        if self.status_code == 401 and "WWW-Authenticate" not in self.headers:
            self.headers["WWW-Authenticate"] = f'Bearer realm="vnsandbox", error="{_bearer_error(self.code)}"'


def _bearer_error(code: str) -> str:
    return "invalid_request" if code == "UNAUTHORIZED" else "invalid_token"


class AccessDenied(GatewayError):
    """403: authenticated, but not allowed to do this."""

    status_code = 403
    code = "FORBIDDEN"
    xroad_type = "Client.AccessDenied"
    message_vi = "Không có quyền thực hiện yêu cầu này"
    message_en = "Not allowed"


class RateLimited(GatewayError):
    status_code = 429
    code = "RATE_LIMITED"
    xroad_type = "Client.RateLimited"
    message_vi = "Vượt quá hạn mức gọi; vui lòng thử lại sau"
    message_en = "Rate limit exceeded; retry later"
