"""Resetting the tenant and moving its test clock, in the gateway and every service at once."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from gateway import service
from gateway.auth import Principal
from gateway.control.access import CONTROL, CONTROL_ERRORS, CONTROLLER_AUTH, Controller, in_db, state_of
from gateway.schemas import ClockIn
from gateway.state import GatewayState
from vnsandbox import clock

tenant_state = APIRouter(prefix="/_sandbox", tags=[CONTROL], responses=CONTROL_ERRORS)


@tenant_state.post(
    "/reset",
    openapi_extra=CONTROLLER_AUTH,
    summary="Wipe the tenant's data in every service, its journal, fault rules and clock",
)
async def reset(request: Request, who: Controller) -> dict[str, Any]:
    """The tenant's consumers are kept, so its credentials stay valid."""
    gw = state_of(request)
    services = await gw.fan_out("POST", "/_sandbox/reset", tenant=who.tenant, consumer=who.client_id)

    def work(session: Session) -> int:
        clock.set_offset(session, who.tenant, 0.0)
        return service.clear_faults(session, who.tenant)

    rules = await in_db(gw, work)
    cleared = await asyncio.to_thread(gw.journal.clear, who.tenant)
    await gw.reload()
    return {"tenant": who.tenant, "services": services, "fault_rules_removed": rules, "journal_cleared": cleared}


@tenant_state.get(
    "/clock", openapi_extra=CONTROLLER_AUTH, summary="The tenant's test clock in the gateway and in every service"
)
async def clock_read(request: Request, who: Controller) -> dict[str, Any]:
    gw = state_of(request)
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


@tenant_state.post(
    "/clock",
    openapi_extra=CONTROLLER_AUTH,
    summary="Advance (or set) the tenant's clock in the gateway and every service",
)
async def clock_move(body: ClockIn, request: Request, who: Controller) -> dict[str, Any]:
    """Token expiry, payment expiry, overdue dossiers and webhook retry schedules all read this clock."""
    gw = state_of(request)
    if body.advance_seconds is not None:
        current = await in_db(gw, lambda s: clock.offset_seconds(s, who.tenant))
        target = clock.checked_offset(current + body.advance_seconds)
    else:
        target = clock.checked_offset(body.offset_seconds or 0.0)
    return await _set_clock(gw, who, target)


@tenant_state.delete(
    "/clock", openapi_extra=CONTROLLER_AUTH, summary="Back to real time, in the gateway and every service"
)
async def clock_reset(request: Request, who: Controller) -> dict[str, Any]:
    return await _set_clock(state_of(request), who, 0.0)
