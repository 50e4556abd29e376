"""The tenant's fault rules in the gateway's control plane (applied by :mod:`gateway.proxy`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from gateway import models, service
from gateway.control.access import CONTROL, CONTROL_ERRORS, CONTROLLER_AUTH, NOT_FOUND, Controller, in_db, state_of
from gateway.schemas import FaultIn, FaultOut
from gateway.state import GatewayState
from vnsandbox.bounds import RowId


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
        fired=gw.faults.fired(row.id, row.fired),
    )


# -- fault rules -----------------------------------------------------------------------------

faults = APIRouter(prefix="/_sandbox/faults", tags=[CONTROL], responses=CONTROL_ERRORS)


@faults.post("", status_code=201, openapi_extra=CONTROLLER_AUTH, summary="Add a fault rule for the tenant")
async def fault_add(body: FaultIn, request: Request, who: Controller) -> FaultOut:
    """Inject a fault into the tenant's matching calls: latency, an error status with the
    platform's own error body, a connection reset, an empty reply, a malformed body, or a
    timeout. ``next_n`` limits it to the next N matching calls; ``probability`` with
    ``seed`` makes a reproducible random plan. Every injected fault is marked in the journal.
    """
    gw = state_of(request)

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


@faults.get("", openapi_extra=CONTROLLER_AUTH, summary="The tenant's fault rules, in the order they are checked")
async def fault_list(request: Request, who: Controller) -> dict[str, Any]:
    gw = state_of(request)
    rows = await in_db(gw, lambda s: service.list_faults(s, who.tenant))
    return {"rules": [_fault_out(gw, r).model_dump(mode="json") for r in rows]}


@faults.delete("/{rule_id}", responses=NOT_FOUND, openapi_extra=CONTROLLER_AUTH, summary="Remove one fault rule")
async def fault_delete(rule_id: RowId, request: Request, who: Controller) -> dict[str, Any]:
    gw = state_of(request)
    await in_db(gw, lambda s: service.delete_fault(s, who.tenant, rule_id))
    await gw.reload()
    return {"id": rule_id, "deleted": True}


@faults.delete("", openapi_extra=CONTROLLER_AUTH, summary="Remove every fault rule of the tenant")
async def fault_clear(request: Request, who: Controller) -> dict[str, Any]:
    gw = state_of(request)
    removed = await in_db(gw, lambda s: service.clear_faults(s, who.tenant))
    await gw.reload()
    return {"removed": removed}
