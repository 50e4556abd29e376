"""Per-request context (request id, tenant) carried in context variables.

Set by :class:`vnsandbox.middleware.RequestContextMiddleware`; read by logging,
errors and services without threading the request object through every call.
"""

from __future__ import annotations

from contextvars import ContextVar

DEFAULT_TENANT = "default"

_request_id: ContextVar[str] = ContextVar("request_id", default="")
_tenant: ContextVar[str] = ContextVar("tenant", default=DEFAULT_TENANT)


def current_request_id() -> str:
    return _request_id.get()


def current_tenant() -> str:
    return _tenant.get()


def set_request_id(value: str) -> None:
    _request_id.set(value)


def set_tenant(value: str) -> None:
    _tenant.set(value)
