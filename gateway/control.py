"""The gateway's control plane: tokens, tenants, consumers, quotas, faults, journal,
audit, test clock, metrics, plus the index and the aggregated documentation.

Who may call what:

- ``POST /oauth2/token``, ``/``, ``/docs``, ``/apis``, ``/metrics``, ``/_sandbox/health``,
  ``/_sandbox/ready``, ``/_sandbox/version``: anyone.
- ``POST /_sandbox/tenants``: anyone when ``GATEWAY_SELF_SERVICE_TENANTS`` is true (the
  default), else the administrator.
- Everything about one tenant (reset, journal, faults, clock, audit, consumers, deleting
  the tenant): a consumer of that tenant holding the ``sandbox`` scope, or the
  administrator (``X-Sandbox-Admin-Key``, tenant named by ``X-Sandbox-Tenant``), or, on an
  open embedded gateway, an anonymous caller (``default`` tenant, or the one its
  ``X-Sandbox-Tenant`` names).
- ``GET /_sandbox/tenants`` lists every tenant for the administrator, the caller's own otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import csv
import io
import os
from collections.abc import Callable
from html import escape
from typing import Annotated, Any, TypeVar
from urllib.parse import unquote

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.orm import Session

from gateway import models, service
from gateway.auth import CONTROL_SCOPE, KNOWN_SCOPES, Principal
from gateway.errors import AccessDenied, OAuthError, UpstreamsNotReady
from gateway.journal import GatewayQuery
from gateway.schemas import (
    ClockIn,
    ConsumerCreated,
    ConsumerIn,
    ConsumerOut,
    ConsumerPatch,
    Credentials,
    FaultIn,
    FaultOut,
    Quota,
    TenantCreated,
    TenantIn,
    TenantOut,
    VerifyIn,
)
from gateway.state import GatewayState
from vnsandbox import __version__, clock
from vnsandbox.audit import AUDIT_COLUMNS
from vnsandbox.bounds import HttpStatus, RowId
from vnsandbox.context import set_tenant
from vnsandbox.errors import install_error_handlers
from vnsandbox.journal import Journal
from vnsandbox.middleware import RequestContextMiddleware
from vnsandbox.service import offline_docs_app, public_base_url

T = TypeVar("T")
CONTROL = "sandbox control"


def _gw(request: Request) -> GatewayState:
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
    principal = _gw(request).auth.authenticate(
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


def _quota(row: models.Consumer) -> Quota:
    return Quota(rate_per_second=row.rate_per_s, burst=row.burst)


def _consumer_out(row: models.Consumer) -> ConsumerOut:
    return ConsumerOut(
        client_id=row.client_id,
        tenant=row.tenant,
        name=row.name,
        scopes=list(row.scopes),
        quota=_quota(row),
        created_at=row.created_at,
    )


def _created(request: Request, row: models.Consumer, secret: str, api_key: str) -> ConsumerCreated:
    return ConsumerCreated(
        **_consumer_out(row).model_dump(),
        credentials=Credentials(
            client_id=row.client_id,
            client_secret=secret,
            api_key=api_key,
            token_url=f"{public_base_url(request)}/oauth2/token",
            scopes=list(row.scopes),
        ),
    )


def _links(request: Request, tenant: str) -> dict[str, str]:
    gw = _gw(request)
    base = public_base_url(request) + gw.auth.link_prefix(tenant)
    return {u.api: base + u.prefix for u in gw.upstreams}


def _fault_out(gw: GatewayState, row: models.FaultRule) -> FaultOut:
    return FaultOut(
        id=row.id,
        kind=row.kind,
        api=row.api,
        path=row.path,
        method=row.method,
        consumer=row.consumer,
        next_n=row.remaining,
        probability=row.probability,
        seed=row.seed,
        params=dict(row.params),
        created_at=row.created_at,
        fired=gw.faults.fired(row.id),
    )


# -- OAuth2 token endpoint -------------------------------------------------------------------

token_router = APIRouter(tags=["oauth2"])


@token_router.post("/oauth2/token", summary="OAuth 2.0 client_credentials token endpoint")
@token_router.post("/token", include_in_schema=False)
async def token(request: Request) -> JSONResponse:
    """Exchange a consumer's client id and secret for an access token (RFC 6749 §4.4).

    Send ``grant_type=client_credentials`` form-encoded, with ``client_id`` and
    ``client_secret`` in the form or in HTTP Basic auth, and optionally ``scope``
    (space-separated, a subset of the consumer's scopes). The token is a JWT signed by
    the gateway; send it as ``Authorization: Bearer <token>`` (or ``X-Gateway-Token``
    when the ``Authorization`` header is needed for the upstream API itself).
    """
    gw = _gw(request)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    client_id, client_secret = fields.get("client_id"), fields.get("client_secret")
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(basic[6:].strip(), validate=True).decode()
            user, _, password = decoded.partition(":")
            client_id, client_secret = unquote(user), unquote(password)
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Malformed HTTP Basic credentials", 401) from None
    if fields.get("grant_type") != "client_credentials":
        raise OAuthError("unsupported_grant_type", "Only grant_type=client_credentials is supported")
    if not client_id or not client_secret:
        raise OAuthError("invalid_client", "client_id and client_secret are required", 401)
    consumer = gw.auth.check_client_secret(client_id, client_secret)
    if consumer is None:
        raise OAuthError("invalid_client", "Unknown client or wrong secret", 401)
    requested = set(fields.get("scope", "").split())
    if not requested:
        granted = set(consumer.scopes)
    elif requested - KNOWN_SCOPES:
        raise OAuthError("invalid_scope", f"Unknown scopes: {' '.join(sorted(requested - KNOWN_SCOPES))}")
    elif "*" not in consumer.scopes and not requested <= consumer.scopes:
        raise OAuthError(
            "invalid_scope", f"Scopes not granted to this client: {' '.join(sorted(requested - consumer.scopes))}"
        )
    else:
        granted = requested
    access_token, ttl = gw.auth.issue(consumer, frozenset(granted), gw.settings.token_ttl_s)
    return JSONResponse(
        {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl, "scope": " ".join(sorted(granted))},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


# -- tenants ---------------------------------------------------------------------------------

tenants = APIRouter(prefix="/_sandbox", tags=[CONTROL])


@tenants.post("/tenants", status_code=201, summary="Create a tenant and its first consumer")
async def tenant_create(body: TenantIn, request: Request, who: Anyone) -> TenantCreated:
    """A new tenant (a province, a team, a CI job) with one consumer; its credentials are in the reply.

    Everything the tenant's consumers do is invisible to every other tenant. Delete the
    tenant when done (``DELETE /_sandbox/tenants/{tenant}``): that wipes its data everywhere.
    """
    gw = _gw(request)
    if who.kind != "admin" and not gw.settings.self_service_tenants:
        raise AccessDenied(
            "Only the administrator may create tenants on this gateway",
            "Chỉ quản trị viên được tạo tenant trên cổng kết nối này",
            code="ADMIN_ONLY",
        )

    def work(session: Session) -> TenantCreated:
        row = service.create_tenant(session, body.tenant, body.description, gw.settings.max_tenants)
        consumer, secret, api_key = service.create_consumer(
            session,
            row.tenant,
            name=f"{row.tenant} (first consumer)",
            scopes=body.scopes,
            rate_per_s=body.quota.rate_per_second,
            burst=body.quota.burst,
        )
        summary = service.tenant_summary(session, row)
        return TenantCreated(
            **summary, links=_links(request, row.tenant), consumer=_created(request, consumer, secret, api_key)
        )

    created = await in_db(gw, work)
    await gw.reload()
    return created


@tenants.get("/tenants", summary="Tenants (every tenant for the administrator, else the caller's)")
async def tenant_list(request: Request, who: Controller) -> dict[str, Any]:
    gw = _gw(request)
    only = None if who.kind == "admin" and request.headers.get("x-sandbox-tenant") is None else who.tenant
    rows = await in_db(gw, lambda s: service.list_tenants(s, only))
    return {"tenants": [TenantOut(**r).model_dump(mode="json") for r in rows]}


def _own_tenant(who: Principal, tenant: str) -> None:
    if who.kind != "admin" and who.tenant != tenant:
        raise AccessDenied(
            "A tenant can only see and delete itself",
            "Một tenant chỉ được xem và xoá chính nó",
            code="OTHER_TENANT",
        )


@tenants.get("/tenants/{tenant}", summary="One tenant")
async def tenant_read(tenant: str, request: Request, who: Controller) -> TenantOut:
    _own_tenant(who, tenant)
    summary = await in_db(_gw(request), lambda s: service.tenant_summary(s, service.get_tenant(s, tenant)))
    return TenantOut(**summary, links=_links(request, tenant))


@tenants.delete("/tenants/{tenant}", summary="Delete a tenant: its data in every service, its consumers and rules")
async def tenant_delete(tenant: str, request: Request, who: Controller) -> dict[str, Any]:
    """Reset the tenant in every service, then remove its consumers, fault rules, clock and journal."""
    _own_tenant(who, tenant)
    gw = _gw(request)
    await in_db(gw, lambda s: service.get_tenant(s, tenant))
    services = await gw.fan_out("POST", "/_sandbox/reset", tenant=tenant, consumer=who.client_id)
    deleted = await in_db(gw, lambda s: service.delete_tenant(s, tenant))
    journal_cleared = gw.journal.clear(tenant)
    await gw.reload()
    complete = all(v["status"] == 200 for v in services.values())
    return {
        "tenant": tenant,
        "deleted": True,
        "services_reset": complete,
        "services": services,
        "gateway_rows": deleted,
        "journal_cleared": journal_cleared,
    }


# -- consumers and quotas --------------------------------------------------------------------

consumers = APIRouter(prefix="/_sandbox/consumers", tags=[CONTROL])


@consumers.post("", status_code=201, summary="Register a consumer system in the tenant")
async def consumer_create(body: ConsumerIn, request: Request, who: Controller) -> ConsumerCreated:
    """A consumer with its client id, secret and API key (the secret and key are shown only here)."""
    gw = _gw(request)
    tenant = who.tenant
    if body.tenant is not None and body.tenant != who.tenant:
        if who.kind != "admin":
            raise AccessDenied(
                "Consumers can only be registered in the caller's own tenant",
                "Chỉ được đăng ký ứng dụng trong tenant của chính mình",
                code="OTHER_TENANT",
            )
        tenant = body.tenant

    def work(session: Session) -> ConsumerCreated:
        row, secret, api_key = service.create_consumer(
            session,
            tenant,
            name=body.name,
            scopes=body.scopes,
            rate_per_s=body.quota.rate_per_second,
            burst=body.quota.burst,
        )
        return _created(request, row, secret, api_key)

    created = await in_db(gw, work)
    await gw.reload()
    return created


@consumers.get("", summary="The tenant's consumers (no secrets)")
async def consumer_list(request: Request, who: Controller) -> dict[str, Any]:
    rows = await in_db(_gw(request), lambda s: service.list_consumers(s, who.tenant))
    return {"consumers": [_consumer_out(r).model_dump(mode="json") for r in rows]}


@consumers.get("/{client_id}", summary="One consumer of the tenant")
async def consumer_read(client_id: str, request: Request, who: Controller) -> ConsumerOut:
    return _consumer_out(await in_db(_gw(request), lambda s: service.get_consumer(s, who.tenant, client_id)))


@consumers.patch("/{client_id}", summary="Change a consumer's name or scopes (live)")
async def consumer_patch(client_id: str, body: ConsumerPatch, request: Request, who: Controller) -> ConsumerOut:
    gw = _gw(request)

    def work(session: Session) -> ConsumerOut:
        row = service.get_consumer(session, who.tenant, client_id)
        if body.name is not None:
            row.name = body.name
        if body.scopes is not None:
            row.scopes = body.scopes
        session.flush()
        return _consumer_out(row)

    out = await in_db(gw, work)
    await gw.reload()
    return out


@consumers.put("/{client_id}/quota", summary="Set a consumer's quota (live)")
async def consumer_quota(client_id: str, body: Quota, request: Request, who: Controller) -> ConsumerOut:
    """Token bucket: ``burst`` calls at once, refilled at ``rate_per_second``; null rate = unlimited.

    Applies to the consumer's next call (in other gateway replicas after their next
    configuration reload); the bucket starts full.
    """
    gw = _gw(request)

    def work(session: Session) -> ConsumerOut:
        row = service.get_consumer(session, who.tenant, client_id)
        row.rate_per_s = body.rate_per_second
        row.burst = body.burst
        session.flush()
        return _consumer_out(row)

    out = await in_db(gw, work)
    gw.buckets.forget(client_id)
    await gw.reload()
    return out


@consumers.delete("/{client_id}", summary="Remove a consumer: its tokens and API key stop working")
async def consumer_delete(client_id: str, request: Request, who: Controller) -> dict[str, Any]:
    gw = _gw(request)
    await in_db(gw, lambda s: service.delete_consumer(s, who.tenant, client_id))
    gw.buckets.forget(client_id)
    await gw.reload()
    return {"client_id": client_id, "deleted": True}


# -- fault rules -----------------------------------------------------------------------------

faults = APIRouter(prefix="/_sandbox/faults", tags=[CONTROL])


@faults.post("", status_code=201, summary="Add a fault rule for the tenant")
async def fault_add(body: FaultIn, request: Request, who: Controller) -> FaultOut:
    """Inject a fault into the tenant's matching calls: latency, an error status with the
    platform's own error body, a connection reset, an empty reply, a malformed body, or a
    timeout. ``next_n`` limits it to the next N matching calls; ``probability`` with
    ``seed`` makes a reproducible random plan. Every injected fault is marked in the journal.
    """
    gw = _gw(request)

    def work(session: Session) -> FaultOut:
        row = service.add_fault(
            session,
            who.tenant,
            kind=body.kind,
            api=body.api,
            path=body.path,
            method=body.method,
            consumer=body.consumer,
            remaining=body.next_n,
            probability=body.probability,
            seed=body.seed,
            params=body.params,
        )
        return _fault_out(gw, row)

    out = await in_db(gw, work)
    await gw.reload()
    return out


@faults.get("", summary="The tenant's fault rules, in the order they are checked")
async def fault_list(request: Request, who: Controller) -> dict[str, Any]:
    gw = _gw(request)
    rows = await in_db(gw, lambda s: service.list_faults(s, who.tenant))
    return {"rules": [_fault_out(gw, r).model_dump(mode="json") for r in rows]}


@faults.delete("/{rule_id}", summary="Remove one fault rule")
async def fault_delete(rule_id: RowId, request: Request, who: Controller) -> dict[str, Any]:
    gw = _gw(request)
    await in_db(gw, lambda s: service.delete_fault(s, who.tenant, rule_id))
    await gw.reload()
    return {"id": rule_id, "deleted": True}


@faults.delete("", summary="Remove every fault rule of the tenant")
async def fault_clear(request: Request, who: Controller) -> dict[str, Any]:
    gw = _gw(request)
    removed = await in_db(gw, lambda s: service.clear_faults(s, who.tenant))
    await gw.reload()
    return {"removed": removed}


# -- journal, reset, clock, audit ------------------------------------------------------------

sandbox = APIRouter(prefix="/_sandbox", tags=[CONTROL])


@sandbox.get("/journal", summary="The tenant's calls relayed by the gateway, newest first")
def journal_read(
    request: Request,
    who: Controller,
    method: str | None = None,
    path: str | None = None,
    path_prefix: str | None = None,
    path_glob: str | None = None,
    status: Annotated[HttpStatus | None, Query(description="HTTP status (100-599)")] = None,
    request_id: str | None = None,
    consumer: str | None = None,
    api: str | None = None,
    fault: Annotated[str | None, Query(description="a fault kind, 'any' or 'none'")] = None,
    since: Annotated[str | None, Query(description="ISO-8601 time; entries at or after it")] = None,
    body_contains: str | None = None,
    response_contains: str | None = None,
    limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
) -> dict[str, Any]:
    """Every call with its consumer, request id, upstream, status, latency and injected fault.

    Retention: the newest ``GATEWAY_JOURNAL_SIZE`` calls per tenant, in this replica.
    """
    gw = _gw(request)
    q = GatewayQuery(
        method=method,
        path=path,
        path_prefix=path_prefix,
        path_glob=path_glob,
        status=status,
        request_id=request_id,
        consumer=consumer,
        api=api,
        fault=fault,
        since=since,
        body_contains=body_contains,
        response_contains=response_contains,
        limit=limit,
    )
    total, entries = gw.journal.query(who.tenant, q)
    return {
        "total_matched": total,
        "retention_per_tenant": gw.journal.per_tenant,
        "entries": [e.to_dict() for e in entries],
    }


@sandbox.post("/journal/verify", summary="Count the tenant's calls matching filters")
def journal_verify(body: VerifyIn, request: Request, who: Controller) -> dict[str, Any]:
    """How many calls matched, e.g. "exactly one status update for this dossier":
    ``{"method": "POST", "path": "/dvcqg/v1/...", "body_contains": "000.00.01.H22-240915-12345",
    "expected": 1}``. With ``expected``, ``ok`` tells whether the count is exactly that.
    """
    q = GatewayQuery(**body.model_dump(exclude={"expected"}), limit=0)
    count, _ = _gw(request).journal.query(who.tenant, q)
    out: dict[str, Any] = {"count": count}
    if body.expected is not None:
        out["expected"] = body.expected
        out["ok"] = count == body.expected
    return out


@sandbox.delete("/journal", summary="Clear the tenant's journal")
def journal_clear(request: Request, who: Controller) -> dict[str, Any]:
    return {"cleared": _gw(request).journal.clear(who.tenant)}


@sandbox.post("/reset", summary="Wipe the tenant's data in every service, its journal, fault rules and clock")
async def reset(request: Request, who: Controller) -> dict[str, Any]:
    """The tenant's consumers are kept, so its credentials stay valid."""
    gw = _gw(request)
    services = await gw.fan_out("POST", "/_sandbox/reset", tenant=who.tenant, consumer=who.client_id)

    def work(session: Session) -> int:
        clock.set_offset(session, who.tenant, 0.0)
        return service.clear_faults(session, who.tenant)

    rules = await in_db(gw, work)
    cleared = gw.journal.clear(who.tenant)
    await gw.reload()
    return {"tenant": who.tenant, "services": services, "fault_rules_removed": rules, "journal_cleared": cleared}


@sandbox.get("/clock", summary="The tenant's test clock in the gateway and in every service")
async def clock_read(request: Request, who: Controller) -> dict[str, Any]:
    gw = _gw(request)
    offset = await in_db(gw, lambda s: clock.offset_seconds(s, who.tenant))
    services = await gw.fan_out("GET", "/_sandbox/clock", tenant=who.tenant, consumer=who.client_id)
    return {"tenant": who.tenant, "offset_seconds": offset, "services": services}


async def _set_clock(gw: GatewayState, who: Principal, target: float) -> dict[str, Any]:
    await in_db(gw, lambda s: clock.set_offset(s, who.tenant, target))
    await gw.reload()
    services = await gw.fan_out(
        "POST", "/_sandbox/clock", tenant=who.tenant, consumer=who.client_id, json={"offset_seconds": target}
    )
    now = await in_db(gw, lambda s: clock.now(s, who.tenant))
    return {
        "tenant": who.tenant,
        "offset_seconds": target,
        "now": now.isoformat(),
        "in_sync": all(v["status"] == 200 for v in services.values()),
        "services": services,
    }


@sandbox.post("/clock", summary="Advance (or set) the tenant's clock in the gateway and every service")
async def clock_move(body: ClockIn, request: Request, who: Controller) -> dict[str, Any]:
    """Token expiry, payment expiry, overdue dossiers and webhook retry schedules all read this clock."""
    gw = _gw(request)
    if body.advance_seconds is not None:
        current = await in_db(gw, lambda s: clock.offset_seconds(s, who.tenant))
        target = clock.checked_offset(current + body.advance_seconds)
    else:
        target = clock.checked_offset(body.offset_seconds or 0.0)
    return await _set_clock(gw, who, target)


@sandbox.delete("/clock", summary="Back to real time, in the gateway and every service")
async def clock_reset(request: Request, who: Controller) -> dict[str, Any]:
    return await _set_clock(_gw(request), who, 0.0)


@sandbox.get("/audit", summary="Personal-data access across every service (merged audit trail)")
async def audit_read(
    request: Request,
    who: Controller,
    subject: Annotated[str | None, Query(description="citizen's identification number")] = None,
    client: Annotated[str | None, Query(description="consumer that read the data")] = None,
    service_name: Annotated[str | None, Query(alias="service", description="identity, dossier or payment")] = None,
    since: Annotated[str | None, Query(description="ISO-8601 time")] = None,
    until: Annotated[str | None, Query(description="ISO-8601 time")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Any:
    """Who read which citizen's data, which fields, why and when, newest first; ``format=csv`` to export."""
    gw = _gw(request)
    params = {"limit": str(limit)}
    for key, value in (("subject", subject), ("client", client), ("since", since), ("until", until)):
        if value:
            params[key] = value
    replies = await gw.fan_out("GET", "/_sandbox/audit", tenant=who.tenant, consumer=who.client_id, params=params)
    records: list[dict[str, Any]] = []
    unavailable: dict[str, Any] = {}
    for name, reply in replies.items():
        if service_name and name != service_name:
            continue
        if reply["status"] != 200 or not isinstance(reply["body"], dict):
            unavailable[name] = reply
            continue
        records.extend(reply["body"].get("records", []))
    records.sort(key=lambda r: str(r.get("at", "")), reverse=True)
    records = records[:limit]
    if format == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(AUDIT_COLUMNS), extrasaction="ignore")
        writer.writeheader()
        for item in records:
            writer.writerow(item | {"fields": ";".join(item.get("fields") or [])})
        return Response(
            buf.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
    return {"count": len(records), "records": records, "unavailable": unavailable}


@sandbox.get("/deliveries", summary="Webhook and notice deliveries of every service (merged outboxes)")
async def deliveries_read(
    request: Request,
    who: Controller,
    kind: str | None = None,
    ref: str | None = None,
    status: Annotated[str | None, Query(pattern="^(pending|delivering|delivered|dead)$")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> dict[str, Any]:
    """The tenant's outgoing deliveries (DVCQG webhooks, PayGov result notices) with their
    attempts, newest first, and counts by service and status. Services without an outbox
    are left out."""
    gw = _gw(request)
    params = {"limit": str(limit)} | {k: v for k, v in (("kind", kind), ("ref", ref), ("status", status)) if v}
    replies = await gw.fan_out("GET", "/_sandbox/deliveries", tenant=who.tenant, consumer=who.client_id, params=params)
    items: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = {}
    unavailable: dict[str, Any] = {}
    for name, reply in replies.items():
        if reply["status"] == 404:
            continue  # no outbox in this service
        if reply["status"] != 200 or not isinstance(reply["body"], dict):
            unavailable[name] = reply
            continue
        per_status = counts.setdefault(name, {})
        for item in reply["body"].get("deliveries", []):
            items.append({"service": name, **item})
            state = str(item.get("status", "unknown"))
            per_status[state] = per_status.get(state, 0) + 1
    items.sort(key=lambda d: float(d.get("created_ts") or 0), reverse=True)
    return {"count": len(items), "counts": counts, "deliveries": items[:limit], "unavailable": unavailable}


# -- the app ---------------------------------------------------------------------------------


#: Vietnamese names of the APIs for the documentation index.
VI_TITLES = {
    "identity": "Đăng nhập VNeID và Cơ sở dữ liệu quốc gia về dân cư",
    "dossier": "Đồng bộ hồ sơ với Cổng Dịch vụ công quốc gia",
    "payment": "Nền tảng thanh toán trực tuyến (PayGov)",
}
DOCS_PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Tài liệu API — vnsandbox</title>
<style>
body{{margin:0;font-family:system-ui,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;background:#f3f4f6;color:#1f2937}}
header{{background:#a51c1c;color:#fff;padding:18px 24px}} header h1{{margin:0;font-size:20px}}
header p{{margin:4px 0 0;font-size:14px;opacity:.9}}
.banner{{background:#f6c90e;text-align:center;font-size:13px;padding:6px}}
main{{max-width:820px;margin:24px auto;background:#fff;border-radius:8px;padding:8px 24px 24px;
box-shadow:0 1px 3px rgba(0,0,0,.1)}} ul{{list-style:none;padding:0}}
li{{padding:14px 0;border-bottom:1px solid #e5e7eb}} a{{color:#a51c1c}} .name{{font-weight:600;font-size:17px}}
.en{{display:block;color:#6b7280;font-size:13px;margin:2px 0 6px}}
code{{background:#f3f4f6;padding:1px 6px;border-radius:4px}}
</style></head><body>
<header><h1>Tài liệu API của môi trường thử nghiệm</h1>
<p>Cổng kết nối, chia sẻ dữ liệu (LGSP/NGSP) — vnsandbox</p></header>
<div class="banner">MÔI TRƯỜNG THỬ NGHIỆM — dữ liệu tổng hợp, không có dữ liệu công dân thật (sandbox)</div>
<main><ul>{rows}</ul>
<p><a href="/_sandbox/docs">Điều khiển cổng kết nối</a> (gateway control plane: tenants, consumers, faults, journal)</p>
</main></body></html>"""


def build_control_app(gw: GatewayState) -> FastAPI:
    settings = gw.settings
    app = offline_docs_app(
        title="VN e-government sandbox gateway (LGSP/NGSP-style)",
        description="Routes `/{api}/{version}/...` to the mock national platforms. "
        "This page documents the gateway's own control plane; `/docs` lists every API's documentation.",
        version=__version__,
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.gateway = gw
    app.state.settings = settings
    install_error_handlers(app)

    def api_index(request: Request) -> list[dict[str, str]]:
        base = public_base_url(request)
        return [
            {
                "api": u.api,
                "version": u.version,
                "prefix": u.prefix,
                "service": u.service,
                "title": u.title,
                "url": f"{base}{u.prefix}",
                "docs": f"{base}{u.prefix}/docs",
                "openapi": f"{base}{u.prefix}/openapi.json",
            }
            for u in gw.upstreams
        ]

    @app.get("/", summary="Gateway index", tags=["index"])
    def index(request: Request) -> dict[str, Any]:
        """The APIs behind this gateway, with their base URLs and documentation."""
        base = public_base_url(request)
        return {
            "gateway": "vnsandbox",
            "version": __version__,
            "auth_required": settings.auth_required,
            "token_url": f"{base}/oauth2/token",
            "apis": api_index(request),
            "docs": f"{base}/docs",
            "control": f"{base}/_sandbox/docs",
        }

    @app.get("/apis", summary="Aggregated OpenAPI index", tags=["index"])
    def apis(request: Request) -> list[dict[str, str]]:
        """Every API's OpenAPI document and docs page, reached through the gateway."""
        return api_index(request)

    @app.get("/docs", response_class=HTMLResponse, summary="Aggregated documentation index", tags=["index"])
    def docs(request: Request) -> str:
        """A page listing every API behind the gateway with its Swagger UI and OpenAPI document."""
        rows = "".join(
            f'<li><a class="name" href="{escape(a["docs"])}">{escape(VI_TITLES.get(a["service"], a["title"]))}</a>'
            f'<span class="en">{escape(a["title"])}</span>'
            f'<code>{escape(a["prefix"])}</code> · <a href="{escape(a["openapi"])}">OpenAPI</a></li>'
            for a in api_index(request)
        )
        return DOCS_PAGE.format(rows=rows)

    @app.get("/metrics", summary="Prometheus metrics", tags=["index"])
    @app.get("/_sandbox/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """The gateway's metrics and every service's own (outbox deliveries), labelled by service."""
        texts = await asyncio.gather(*(gw.fetch_text(u, "/_sandbox/metrics") for u in gw.upstreams))
        gw.metrics.services.update({u.service: t for u, t in zip(gw.upstreams, texts, strict=True) if t})
        return Response(generate_latest(gw.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/_sandbox/health", summary="Gateway liveness, with each upstream's health", tags=[CONTROL])
    async def health() -> dict[str, Any]:
        """Liveness: 200 while the gateway runs, even with upstreams down (``"status": "degraded"``).
        Use ``/_sandbox/ready`` to wait until the sandbox can serve."""
        services = await gw.fan_out("GET", "/_sandbox/health", tenant="default")
        ok = all(v["status"] == 200 for v in services.values())
        return {"status": "ok" if ok else "degraded", "service": "gateway", "pid": _pid(), "services": services}

    @app.get(
        "/_sandbox/ready",
        summary="Readiness: 200 once every upstream answers its health check, else 503",
        tags=[CONTROL],
        responses={503: {"description": "`UPSTREAMS_NOT_READY`; `down` names the upstreams that do not answer"}},
    )
    async def ready() -> dict[str, Any]:
        """For health checks and start-up loops (``curl -f``): ``503 UPSTREAMS_NOT_READY`` with
        ``down`` (the upstreams whose ``/_sandbox/health`` does not answer 200) until all answer."""
        services = await gw.fan_out("GET", "/_sandbox/health", tenant="default")
        down = [name for name, reply in services.items() if reply["status"] != 200]
        if down:
            raise UpstreamsNotReady(down, services)
        return {"status": "ready", "service": "gateway", "pid": _pid(), "services": services}

    @app.get("/_sandbox/version", tags=[CONTROL])
    def version() -> dict[str, Any]:
        return {
            "service": "gateway",
            "sandbox_version": __version__,
            "protocol": "LGSP/NGSP-style REST gateway",
            "mode": settings.mode,
            "auth_required": settings.auth_required,
        }

    for router in (token_router, tenants, consumers, faults, sandbox):
        app.include_router(router)
    app.add_middleware(
        RequestContextMiddleware,
        journal=Journal(1),  # control calls are not part of the relayed-traffic journal
        max_body_bytes=settings.max_body_bytes,
        journal_body_bytes=0,
        gateway_secret=settings.gateway_secret,
        require_tenant_signature=False,
        log_requests=settings.log_requests,
        max_json_depth=settings.max_json_depth,
        body_read_timeout_s=settings.body_read_timeout_s,
        trust_client_forwarding=settings.mode == "embedded",
    )
    return app


def _pid() -> int:
    return os.getpid()
