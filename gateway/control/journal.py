"""The tenant's records in the gateway's control plane: the journal of relayed calls, and the
merged audit trail and deliveries of every service."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from gateway import verify
from gateway.control.access import CONTROL, CONTROL_ERRORS, CONTROLLER_AUTH, Controller, state_of
from gateway.journal import GatewayQuery
from gateway.schemas import VerifyIn, VerifyOut
from vnsandbox.audit import AUDIT_COLUMNS
from vnsandbox.bounds import HttpStatus
from vnsandbox.context import current_request_id
from vnsandbox.openapi import error_responses

records = APIRouter(prefix="/_sandbox", tags=[CONTROL], responses=CONTROL_ERRORS)


@records.get(
    "/journal", openapi_extra=CONTROLLER_AUTH, summary="The tenant's calls relayed by the gateway, newest first"
)
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

    Retention: the newest ``GATEWAY_JOURNAL_SIZE`` calls per tenant; on PostgreSQL shared by
    every replica (the same answer whichever replica reads it).
    """
    gw = state_of(request)
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


@records.post(
    "/journal/verify",
    openapi_extra=CONTROLLER_AUTH,
    summary="Count the tenant's calls matching filters; 409 with near misses when not as expected",
    responses=error_responses(
        409, envelope=VerifyOut, s409="`VERIFY_MISMATCH`: not `expected` calls matched; the closest in `near_misses`"
    ),
)
def journal_verify(body: VerifyIn, request: Request, who: Controller) -> JSONResponse:
    """How many calls matched, e.g. "exactly one status update for this dossier":
    ``{"method": "POST", "path": "/dvcqg/v1/...", "body_contains": "000.00.01.H22-240915-12345",
    "expected": 1}``. With ``expected``, ``ok`` tells whether the count is exactly that; when it
    is not, the reply is ``409`` (same body, plus ``near_misses``: the closest calls and how they differ).
    """
    journal = state_of(request).journal
    _, entries = journal.query(who.tenant, GatewayQuery(limit=journal.per_tenant))
    criteria = verify.Criteria.of(body.model_dump(exclude={"expected", "max_near_misses"}))
    verdict = verify.verify(criteria, (e.to_dict() for e in entries), body.max_near_misses)
    out = verdict.reply(body.expected)
    if out.get("ok", True):
        return JSONResponse(out)
    return JSONResponse(out | {"request_id": current_request_id()}, status_code=409)


@records.delete("/journal", openapi_extra=CONTROLLER_AUTH, summary="Clear the tenant's journal")
def journal_clear(request: Request, who: Controller) -> dict[str, Any]:
    return {"cleared": state_of(request).journal.clear(who.tenant)}


@records.get(
    "/audit", openapi_extra=CONTROLLER_AUTH, summary="Personal-data access across every service (merged audit trail)"
)
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
    gw = state_of(request)
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


@records.get(
    "/deliveries",
    openapi_extra=CONTROLLER_AUTH,
    summary="Webhook and notice deliveries of every service (merged outboxes)",
)
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
    gw = state_of(request)
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
