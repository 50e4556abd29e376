"""The ``/_sandbox`` control plane every service has, in one place.

- ``GET  /_sandbox/health``: liveness, database reachability, process id.
- ``GET  /_sandbox/version``: service, sandbox and protocol versions.
- ``POST /_sandbox/reset``: wipe the calling tenant's data (and journal) in this service.
- ``GET  /_sandbox/journal``: requests and replies recorded, filtered; ``DELETE`` clears.
- ``GET/PUT/DELETE /_sandbox/switches[/{name}]``: named behaviour switches.
- ``GET/POST/DELETE /_sandbox/clock``: the tenant's test clock.

Services add their own control endpoints (seed, personas, partners, ...) on the same
prefix through their ``control.py``.
"""

from __future__ import annotations

import csv
import io
import os
import platform
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import select, text
from starlette.concurrency import run_in_threadpool

from vnsandbox import __version__, audit, clock, metrics
from vnsandbox.bounds import MAX_COUNT, ClockSeconds, Count, HttpStatus, numbers_in_range
from vnsandbox.context import current_tenant
from vnsandbox.db import Database, SessionDep, Switch, dumps
from vnsandbox.errors import SandboxError, ValidationFailed, validation_details
from vnsandbox.journal import Journal, JournalQuery
from vnsandbox.openapi import media_response

router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])


class SwitchIn(BaseModel):
    """Turn a named switch on."""

    scope: str = Field("*", max_length=128, description="`*` for all callers, or one client/partner/unit code")
    params: dict[str, Any] = Field(
        default_factory=dict, description="switch-specific parameters (numbers finite, within ±10^9)"
    )
    remaining: Count | None = Field(None, description="apply to the next N requests only (1 … 10^9)")

    @field_validator("params")
    @classmethod
    def _bounded_numbers(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not numbers_in_range(v):
            raise ValueError(f"every number in params must be finite and within ±{MAX_COUNT}")
        return v


class SwitchOut(BaseModel):
    name: str
    scope: str
    params: dict[str, Any]
    remaining: int | None
    created_at: datetime


class ClockIn(BaseModel):
    """Move the tenant's clock: advance by seconds, or set an absolute offset."""

    advance_seconds: ClockSeconds | None = Field(
        None, description="add this many seconds to the current offset (the offset stays within ±100 years)"
    )
    offset_seconds: ClockSeconds | None = Field(None, description="set the offset from real time (±100 years)")


def _switch_names(request: Request) -> dict[str, str]:
    names: dict[str, str] = request.app.state.spec.switches
    return names


#: How long a database probe's outcome answers health checks: a probe a second, however
#: often supervisors, balancers and the gateway ask (each probe takes a worker thread).
HEALTH_PROBE_SECONDS = 1.0


@dataclass
class HealthProbe:
    """The last database probe of a service and its two possible replies, encoded."""

    replies: dict[bool, bytes]
    ok: bool = False
    until: float = 0.0


def health_probe(app: FastAPI) -> HealthProbe:
    """The service's health probe (made at the first health check)."""
    probe: HealthProbe | None = getattr(app.state, "health_probe", None)
    if probe is None:
        db: Database = app.state.db
        common = {"service": app.state.spec.name, "database": db.dialect}
        replies = {
            ok: dumps({"status": "ok" if ok else "degraded", **common, "database_ok": ok, "pid": os.getpid()}).encode()
            for ok in (True, False)
        }
        probe = app.state.health_probe = HealthProbe(replies)
    return probe


def recent_health(app: FastAPI) -> bytes | None:
    """The health reply while the last probe holds (no database call), None once it is due again."""
    probe = health_probe(app)
    return probe.replies[probe.ok] if probe.until > time.monotonic() else None


def _database_answers(db: Database) -> bool:
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@router.get("/health", summary="Liveness and database reachability", response_model=dict[str, Any])
async def health(request: Request) -> Response:
    """``status`` ``ok`` while the database answers (``degraded`` otherwise), the database's kind
    and the process id. The database is probed at most once a second; checks in between get the
    last probe's outcome."""
    probe = health_probe(request.app)
    now = time.monotonic()
    if probe.until <= now:
        probe.ok = await run_in_threadpool(_database_answers, request.app.state.db)
        probe.until = now + HEALTH_PROBE_SECONDS
    return Response(probe.replies[probe.ok], media_type="application/json")


@router.get("/version", summary="Versions of the service, the sandbox and the imitated protocol")
def version(request: Request) -> dict[str, Any]:
    spec = request.app.state.spec
    return {
        "service": spec.name,
        "sandbox_version": __version__,
        "protocol": spec.protocol,
        "python": platform.python_version(),
        "mode": request.app.state.settings.mode,
    }


@router.post("/reset", summary="Wipe this tenant's data in this service")
def reset(request: Request, session: SessionDep) -> dict[str, Any]:
    tenant = current_tenant()
    db: Database = request.app.state.db
    deleted = db.wipe(session, tenant)
    journal: Journal = request.app.state.journal
    cleared = journal.clear(tenant)
    for hook in request.app.state.spec.on_reset:
        hook(request.app, session, tenant)
    return {
        "tenant": tenant,
        "deleted_rows": {k: v for k, v in deleted.items() if v},
        "journal_cleared": cleared,
    }


@router.get("/journal", summary="Requests and replies recorded by this process, newest first")
def journal_read(
    request: Request,
    method: str | None = None,
    path: str | None = None,
    path_prefix: str | None = None,
    status: Annotated[HttpStatus | None, Query(description="HTTP status (100-599)")] = None,
    request_id: str | None = None,
    since: Annotated[str | None, Query(description="ISO-8601 time; entries at or after it")] = None,
    body_contains: str | None = None,
    consumer_prefix: Annotated[
        str | None,
        Query(max_length=128, description="the caller (`X-Sandbox-Consumer`) starts with it; `service:` for services"),
    ] = None,
    limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
) -> dict[str, Any]:
    journal: Journal = request.app.state.journal
    q = JournalQuery(
        method=method,
        path=path,
        path_prefix=path_prefix,
        status=status,
        request_id=request_id,
        tenant=current_tenant(),
        since=since,
        body_contains=body_contains,
        consumer_prefix=consumer_prefix,
        limit=limit,
    )
    total, entries = journal.query(q)
    return {"total_matched": total, "capacity": journal.capacity, "entries": [e.to_dict() for e in entries]}


@router.delete("/journal", summary="Clear this tenant's journal entries")
def journal_clear(request: Request) -> dict[str, Any]:
    journal: Journal = request.app.state.journal
    return {"cleared": journal.clear(current_tenant())}


@router.get("/switches", summary="Active switches and the names this service understands")
def switches_list(request: Request, session: SessionDep) -> dict[str, Any]:
    rows = session.scalars(select(Switch).where(Switch.tenant == current_tenant()).order_by(Switch.id)).all()
    declared: dict[str, type[BaseModel]] = request.app.state.spec.switch_params
    return {
        "available": _switch_names(request),
        # What each switch taking parameters accepts, as JSON Schema properties (type, bounds, default).
        "parameters": {name: model.model_json_schema().get("properties", {}) for name, model in declared.items()},
        "active": [SwitchOut.model_validate(r, from_attributes=True).model_dump(mode="json") for r in rows],
    }


def _switch_params(request: Request, name: str, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` checked against the switch's declared parameters (only those it sets)."""
    model: type[BaseModel] | None = request.app.state.spec.switch_params.get(name)
    if model is None:
        return given
    try:
        checked = model.model_validate(given)
    except ValidationError as exc:
        raise ValidationFailed(
            f"Invalid parameters for switch {name!r}",
            f"Tham số của công tắc {name!r} không hợp lệ",
            code="INVALID_SWITCH_PARAMS",
            details=[{**d, "field": f"params.{d['field']}"} for d in validation_details(exc.errors())],
        ) from None
    return checked.model_dump(exclude_unset=True)


@router.put("/switches/{name}", summary="Turn a named switch on (replacing one with the same name and scope)")
def switch_set(name: str, body: SwitchIn, request: Request, session: SessionDep) -> dict[str, Any]:
    names = _switch_names(request)
    if name not in names:
        raise ValidationFailed(
            f"Unknown switch {name!r}; this service understands: {', '.join(sorted(names)) or 'none'}",
            f"Không có công tắc {name!r}; dịch vụ này hỗ trợ: {', '.join(sorted(names)) or 'không có'}",
            code="UNKNOWN_SWITCH",
            details=[{"field": "name", "rule": "one_of", "message": ", ".join(sorted(names))}],
        )
    params = _switch_params(request, name, body.params)
    tenant = current_tenant()
    for old in session.scalars(
        select(Switch).where(Switch.tenant == tenant, Switch.name == name, Switch.scope == body.scope)
    ):
        session.delete(old)
    row = Switch(tenant=tenant, name=name, scope=body.scope, params=params, remaining=body.remaining)
    session.add(row)
    session.flush()
    return SwitchOut.model_validate(row, from_attributes=True).model_dump(mode="json") | {"description": names[name]}


@router.delete("/switches/{name}", summary="Turn a named switch off (every scope)")
def switch_delete(name: str, session: SessionDep) -> dict[str, Any]:
    rows = session.scalars(select(Switch).where(Switch.tenant == current_tenant(), Switch.name == name)).all()
    for r in rows:
        session.delete(r)
    return {"removed": len(rows)}


@router.delete("/switches", summary="Turn every switch off")
def switches_clear(session: SessionDep) -> dict[str, Any]:
    rows = session.scalars(select(Switch).where(Switch.tenant == current_tenant())).all()
    for r in rows:
        session.delete(r)
    return {"removed": len(rows)}


@router.get("/clock", summary="The tenant's test clock")
def clock_read(session: SessionDep) -> dict[str, Any]:
    tenant = current_tenant()
    return {
        "tenant": tenant,
        "offset_seconds": clock.offset_seconds(session, tenant),
        "now": clock.now(session, tenant).isoformat(),
    }


@router.post("/clock", summary="Advance or set the tenant's test clock")
def clock_move(body: ClockIn, session: SessionDep) -> dict[str, Any]:
    tenant = current_tenant()
    if (body.advance_seconds is None) == (body.offset_seconds is None):
        raise SandboxError(
            "Give exactly one of advance_seconds or offset_seconds",
            "Cần đúng một trong hai trường advance_seconds hoặc offset_seconds",
            code="INVALID_CLOCK_CHANGE",
            status_code=422,
        )
    if body.advance_seconds is not None:
        if body.advance_seconds < 0:
            raise SandboxError(
                "The clock only moves forward",
                "Đồng hồ chỉ được tiến về phía trước",
                code="CLOCK_BACKWARDS",
                status_code=422,
            )
        target = clock.checked_offset(clock.offset_seconds(session, tenant) + body.advance_seconds)
    else:
        target = clock.checked_offset(body.offset_seconds or 0.0)
    clock.set_offset(session, tenant, target)
    return {"tenant": tenant, "offset_seconds": target, "now": clock.now(session, tenant).isoformat()}


@router.delete("/clock", summary="Back to real time")
def clock_reset(session: SessionDep) -> dict[str, Any]:
    tenant = current_tenant()
    clock.set_offset(session, tenant, 0.0)
    return {"tenant": tenant, "offset_seconds": 0.0, "now": clock.now(session, tenant).isoformat()}


@router.get(
    "/metrics",
    summary="Prometheus metrics of this process (outbox deliveries)",
    response_class=PlainTextResponse,
    responses={200: media_response("text/plain", "Prometheus text exposition format")},
)
def metrics_read() -> Response:
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/audit",
    summary="Audit trail of personal-data reads in this service",
    responses={200: media_response("text/csv", "The trail as JSON, or as CSV with `format=csv`")},
)
def audit_read(
    session: SessionDep,
    subject: Annotated[str | None, Query(description="citizen's identification number")] = None,
    client: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Any:
    rows = audit.query(session, current_tenant(), subject=subject, client=client, since=since, until=until, limit=limit)
    items = [{c: (r.at.isoformat() if c == "at" else getattr(r, c)) for c in audit.AUDIT_COLUMNS} for r in rows]
    if format == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(audit.AUDIT_COLUMNS))
        writer.writeheader()
        for item in items:
            writer.writerow(item | {"fields": ";".join(item["fields"])})
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8")
    return {"count": len(items), "records": items}
