"""Who calls the control plane, and what the control endpoints share: the gateway's state
and one committed unit of work in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from gateway.auth import CONTROL_SCOPE, Principal
from gateway.errors import AccessDenied
from gateway.state import GatewayState
from vnsandbox.context import set_tenant
from vnsandbox.openapi import error_responses, secured

T = TypeVar("T")
CONTROL = "sandbox control"
#: The credentials of the tenant's control plane: a consumer's token or API key, or the admin key.
GATEWAY_CREDENTIALS = ("gatewayBearer", "gatewayApiKey", "gatewayAdminKey")
#: Operations of :data:`Controller` (on an open embedded gateway, anonymous callers too:
#: see :func:`gateway.control.app.build_control_app`).
CONTROLLER_AUTH = secured(*GATEWAY_CREDENTIALS)
#: What the control plane answers on every operation of a tenant: credentials refused (401),
#: a caller not allowed (403: a consumer without the ``sandbox`` scope, another tenant's data).
CONTROL_ERRORS = error_responses(
    401, 403, s403="Not allowed: a consumer without the `sandbox` scope, another tenant, or the administrator's only"
)
#: An operation on one record named in its path (a tenant, a consumer, a fault rule).
NOT_FOUND = error_responses(404)
#: Operations of :data:`Anyone`: credentials are optional, and checked when given.
ANYONE_AUTH = secured(*GATEWAY_CREDENTIALS, optional=True)


def state_of(request: Request) -> GatewayState:
    gw: GatewayState = request.app.state.gateway
    return gw


async def caller(request: Request) -> Principal:
    """Whoever calls, authenticated the same way as on the API paths."""
    return _authenticate(request, allow_anonymous=False)


async def anyone(request: Request) -> Principal:
    """Whoever calls, anonymous callers included (credentials given are still checked)."""
    return _authenticate(request, allow_anonymous=True)


def _authenticate(request: Request, *, allow_anonymous: bool) -> Principal:
    h = request.headers
    authorization = h.get("authorization")
    if authorization is None and "x-gateway-token" in h:
        authorization = "Bearer " + h["x-gateway-token"]
    principal = state_of(request).auth.authenticate(
        authorization,
        h.get("x-api-key") or h.get("apikey"),
        h.get("x-sandbox-admin-key"),
        h.get("x-sandbox-tenant"),
        allow_anonymous=allow_anonymous,
    )
    set_tenant(principal.tenant)
    return principal


async def tenant_controller(principal: Annotated[Principal, Depends(caller)]) -> Principal:
    """A caller allowed to run the control plane of its tenant."""
    if principal.kind == "consumer" and not ({"*", CONTROL_SCOPE} & principal.scopes):
        raise AccessDenied(
            "This consumer lacks the 'sandbox' scope needed for the tenant's control plane",
            "Ứng dụng này thiếu phạm vi 'sandbox' để dùng bảng điều khiển của tenant",
            code="SCOPE_NOT_ALLOWED",
        )
    return principal


Caller = Annotated[Principal, Depends(caller)]
Anyone = Annotated[Principal, Depends(anyone)]
Controller = Annotated[Principal, Depends(tenant_controller)]


async def in_db(gw: GatewayState, fn: Callable[[Session], T]) -> T:
    """Run ``fn`` in one committed unit of work, in a worker thread."""

    def work() -> T:
        with gw.db.session() as session:
            return fn(session)

    return await asyncio.to_thread(work)


def own_tenant(who: Principal, tenant: str) -> None:
    if who.kind != "admin" and who.tenant != tenant:
        raise AccessDenied(
            "A tenant can only see and delete itself",
            "Một tenant chỉ được xem và xoá chính nó",
            code="OTHER_TENANT",
        )
