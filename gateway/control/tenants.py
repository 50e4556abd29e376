"""Tenants and their consumers (with their quotas) in the gateway's control plane."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from gateway import models, service
from gateway.control.access import (
    ANYONE_AUTH,
    CONTROL,
    CONTROL_ERRORS,
    CONTROLLER_AUTH,
    NOT_FOUND,
    Anyone,
    Controller,
    in_db,
    own_tenant,
    state_of,
)
from gateway.errors import AccessDenied
from gateway.schemas import (
    ConsumerCreated,
    ConsumerIn,
    ConsumerOut,
    ConsumerPatch,
    Credentials,
    Quota,
    TenantCreated,
    TenantIn,
    TenantOut,
)
from vnsandbox.openapi import error_responses
from vnsandbox.service import public_base_url


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
    gw = state_of(request)
    base = public_base_url(request) + gw.auth.link_prefix(tenant)
    return {u.api: base + u.prefix for u in gw.upstreams}


# -- tenants ---------------------------------------------------------------------------------

#: ``POST /_sandbox/tenants`` refused: the name is taken, or the gateway holds its maximum.
TENANT_CONFLICT = error_responses(409, s409="`TENANT_EXISTS`, or `TOO_MANY_TENANTS` (`GATEWAY_MAX_TENANTS`)")

tenants = APIRouter(prefix="/_sandbox", tags=[CONTROL], responses=CONTROL_ERRORS)


@tenants.post(
    "/tenants",
    responses=TENANT_CONFLICT,
    status_code=201,
    openapi_extra=ANYONE_AUTH,
    summary="Create a tenant and its first consumer",
)
async def tenant_create(body: TenantIn, request: Request, who: Anyone) -> TenantCreated:
    """A new tenant (a province, a team, a CI job) with one consumer; its credentials are in the reply.

    Everything the tenant's consumers do is invisible to every other tenant. Delete the
    tenant when done (``DELETE /_sandbox/tenants/{tenant}``): that wipes its data everywhere.
    """
    gw = state_of(request)
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


@tenants.get(
    "/tenants", openapi_extra=CONTROLLER_AUTH, summary="Tenants (every tenant for the administrator, else the caller's)"
)
async def tenant_list(request: Request, who: Controller) -> dict[str, Any]:
    gw = state_of(request)
    only = None if who.kind == "admin" and request.headers.get("x-sandbox-tenant") is None else who.tenant
    rows = await in_db(gw, lambda s: service.list_tenants(s, only))
    return {"tenants": [TenantOut(**r).model_dump(mode="json") for r in rows]}


@tenants.get("/tenants/{tenant}", responses=NOT_FOUND, openapi_extra=CONTROLLER_AUTH, summary="One tenant")
async def tenant_read(tenant: str, request: Request, who: Controller) -> TenantOut:
    own_tenant(who, tenant)
    summary = await in_db(state_of(request), lambda s: service.tenant_summary(s, service.get_tenant(s, tenant)))
    return TenantOut(**summary, links=_links(request, tenant))


@tenants.delete(
    "/tenants/{tenant}",
    responses=NOT_FOUND,
    openapi_extra=CONTROLLER_AUTH,
    summary="Delete a tenant: its data in every service, its consumers and rules",
)
async def tenant_delete(tenant: str, request: Request, who: Controller) -> dict[str, Any]:
    """Reset the tenant in every service, then remove its consumers, fault rules, clock and journal."""
    own_tenant(who, tenant)
    gw = state_of(request)
    await in_db(gw, lambda s: service.get_tenant(s, tenant))
    services = await gw.fan_out("POST", "/_sandbox/reset", tenant=tenant, consumer=who.client_id)
    deleted = await in_db(gw, lambda s: service.delete_tenant(s, tenant))
    journal_cleared = await asyncio.to_thread(gw.journal.clear, tenant)
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

consumers = APIRouter(prefix="/_sandbox/consumers", tags=[CONTROL], responses=CONTROL_ERRORS)


@consumers.post("", status_code=201, openapi_extra=CONTROLLER_AUTH, summary="Register a consumer system in the tenant")
async def consumer_create(body: ConsumerIn, request: Request, who: Controller) -> ConsumerCreated:
    """A consumer with its client id, secret and API key (the secret and key are shown only here)."""
    gw = state_of(request)
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


@consumers.get("", openapi_extra=CONTROLLER_AUTH, summary="The tenant's consumers (no secrets)")
async def consumer_list(request: Request, who: Controller) -> dict[str, Any]:
    rows = await in_db(state_of(request), lambda s: service.list_consumers(s, who.tenant))
    return {"consumers": [_consumer_out(r).model_dump(mode="json") for r in rows]}


@consumers.get("/{client_id}", responses=NOT_FOUND, openapi_extra=CONTROLLER_AUTH, summary="One consumer of the tenant")
async def consumer_read(client_id: str, request: Request, who: Controller) -> ConsumerOut:
    return _consumer_out(await in_db(state_of(request), lambda s: service.get_consumer(s, who.tenant, client_id)))


@consumers.patch(
    "/{client_id}",
    responses=NOT_FOUND,
    openapi_extra=CONTROLLER_AUTH,
    summary="Change a consumer's name or scopes (live)",
)
async def consumer_patch(client_id: str, body: ConsumerPatch, request: Request, who: Controller) -> ConsumerOut:
    gw = state_of(request)

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


@consumers.put(
    "/{client_id}/quota", responses=NOT_FOUND, openapi_extra=CONTROLLER_AUTH, summary="Set a consumer's quota (live)"
)
async def consumer_quota(client_id: str, body: Quota, request: Request, who: Controller) -> ConsumerOut:
    """Token bucket: ``burst`` calls at once, refilled at ``rate_per_second``; null rate = unlimited.

    Applies to the consumer's next call (in other gateway replicas after their next
    configuration reload); the bucket starts full.
    """
    gw = state_of(request)

    def work(session: Session) -> ConsumerOut:
        row = service.get_consumer(session, who.tenant, client_id)
        row.rate_per_s = body.rate_per_second
        row.burst = body.burst
        session.flush()
        return _consumer_out(row)

    out = await in_db(gw, work)
    await asyncio.to_thread(gw.buckets.forget, client_id)
    await gw.reload()
    return out


@consumers.delete(
    "/{client_id}",
    responses=NOT_FOUND,
    openapi_extra=CONTROLLER_AUTH,
    summary="Remove a consumer: its tokens and API key stop working",
)
async def consumer_delete(client_id: str, request: Request, who: Controller) -> dict[str, Any]:
    gw = state_of(request)
    await in_db(gw, lambda s: service.delete_consumer(s, who.tenant, client_id))
    await asyncio.to_thread(gw.buckets.forget, client_id)
    await gw.reload()
    return {"client_id": client_id, "deleted": True}
