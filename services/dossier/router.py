"""Wire routes of the dossier service (thin: parse, call the service layer, shape the reply).

- ``POST /api/login``: session login → ``{"error_code": 0, "session", "expiry"}``.
- ``POST /api/service`` (and ``POST /api/{service}``): one endpoint dispatching on
  ``service``, as on the real platform: DongBoHoSoMC, CapNhatTienDoHoSoMC, TraCuuHoSo,
  LayHoSoTuCongDVCQG / XacNhanHoSoTuCongDVCQG (polling), DoiSoatHoSo (reconciliation).
- ``GET /api/doisoat``: reconciliation as JSON or CSV.
- ``GET /api/tthc``, ``GET /api/tthc/{MaTTHC}``: the procedure catalogue.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from services.dossier import accounts, catalogue, portal, reports, rules, scorecard, service
from services.dossier.errors import Code, DvcqgError, envelope, http_status
from services.dossier.schemas import JSON_OR_CSV, SERVICES, LoginIn, ServiceCall, body_doc, parse
from services.dossier.settings import DossierSettings
from vnsandbox.context import current_request_id, current_tenant
from vnsandbox.db import SessionDep
from vnsandbox.service import service_index
from vnsandbox.signing import CONSUMER_HEADER, TENANT_SIGNATURE_HEADER, verify_tenant_assertion

router = APIRouter()


async def json_body(request: Request) -> Any:
    """The request body as JSON, refused in the DVCQG envelope (code 1) when it is not."""
    raw = await request.body()
    if not raw.strip():
        raise DvcqgError(Code.MALFORMED, "Empty body; send a JSON object", "Nội dung trống; hãy gửi đối tượng JSON")
    try:
        return json.loads(raw)
    except ValueError:
        raise DvcqgError(Code.MALFORMED, "The body is not valid JSON", "Nội dung không phải JSON hợp lệ") from None


BodyDep = Annotated[Any, Depends(json_body)]


def settings_of(request: Request) -> DossierSettings:
    s: DossierSettings = request.app.state.settings
    return s


def reply(code: Code, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse({**body, "request_id": current_request_id()}, status_code=http_status(code))


def caller_of(request: Request, session: Session, body_session: str | None = None) -> accounts.Caller:
    h = request.headers
    auth = h.get("authorization", "")
    bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    token = h.get("session") or h.get("x-session") or body_session
    settings = settings_of(request)
    # A gateway client acts for the unit that names it, when the gateway signed the call.
    consumer = h.get(CONSUMER_HEADER) or ""
    signed = consumer and verify_tenant_assertion(
        settings.gateway_secret,
        current_tenant(),
        current_request_id(),
        consumer,
        h.get(TENANT_SIGNATURE_HEADER, ""),
    )
    return accounts.authenticate(
        session,
        current_tenant(),
        settings,
        session_token=token,
        bearer=bearer,
        consumer=consumer if signed else None,
    )


@router.get("/", summary="Service index", tags=["index"])
def index(request: Request) -> dict[str, Any]:
    """What this service imitates and where its documentation is."""
    return service_index(request) | {"services": list(SERVICES)}


@router.post(
    "/api/login",
    summary="Session login of a unit's sync account",
    tags=["DVCQG sync"],
    openapi_extra=body_doc(LoginIn),
)
def login(request: Request, session: SessionDep, body: BodyDep) -> JSONResponse:
    """`{"username", "password"}` with header `MaDonVi: <unit code>` →
    `{"error_code": 0, "session": "...", "expiry": "yyyyMMddHHmmss", "expires_in": seconds}`.

    Wrong credentials answer code 10, an account of another unit 15, an unknown or missing
    unit 14."""
    data = parse(LoginIn, body)
    unit = request.headers.get("madonvi") or request.headers.get("x-unit-code") or str(body.get("MaDonVi") or "")
    settings = settings_of(request)
    row, expires = accounts.login(session, current_tenant(), settings, unit, data.username, data.password)
    return reply(
        Code.OK,
        {
            **envelope(Code.OK),
            "session": row.token,
            "expiry": rules.to_wire_time(expires),
            "expires_in": settings.session_ttl_s,
            "MaDonVi": row.unit_code,
        },
    )


def _dispatch(request: Request, session: Session, body: Any, name: str | None) -> JSONResponse:
    if isinstance(body, dict) and name is not None:
        body = {**body, "service": name}
    call: ServiceCall = parse(ServiceCall, body)
    if call.service not in SERVICES:
        raise DvcqgError(
            Code.UNKNOWN_SERVICE,
            f"Unknown service {call.service!r}; one of {', '.join(SERVICES)}",
            f"Không hỗ trợ dịch vụ {call.service!r}",
        )
    tenant = current_tenant()
    settings = settings_of(request)
    caller = caller_of(request, session, call.session)
    extra = call.model_extra or {}
    if call.service in ("DongBoHoSoMC", "CapNhatTienDoHoSoMC"):
        items = call.items
        if not items:
            raise DvcqgError(Code.MALFORMED, "data must hold at least one record", "data phải có ít nhất một bản ghi")
        if len(items) > settings.batch_max:
            raise DvcqgError(
                Code.BATCH_TOO_LARGE,
                f"{len(items)} records; at most {settings.batch_max} per call",
                f"{len(items)} bản ghi; tối đa {settings.batch_max} bản ghi mỗi lần gửi",
            )
        run = service.start_run(session, tenant, settings, caller, call.service)
        if isinstance(run, DvcqgError):
            return run.response()
        if call.service == "DongBoHoSoMC":
            results = service.sync_dossiers(run, items, call.updating)
        else:
            results = service.update_progress(run, items)
        code, summary = service.summarize(results)
        if run.warnings:
            request.state.journal_notes["warnings"] = run.warnings
        return reply(code, {**summary, "data": results, **({"warnings": run.warnings} if run.warnings else {})})
    if call.service == "TraCuuHoSo":
        if extra.get("MaHoSo"):
            found = service.lookup(session, tenant, caller.codes, str(extra["MaHoSo"]), bool(extra.get("LichSu")))
            return reply(Code.OK, {**envelope(Code.OK), "data": found})
        total, rows = service.search(session, tenant, caller, extra)
        return reply(Code.OK, {**envelope(Code.OK), "total": total, "data": rows})
    if call.service == "LayHoSoTuCongDVCQG":
        limit = min(max(rules.as_int(extra.get("limit")) or 100, 1), 1000)
        events = portal.poll_inbox(session, tenant, caller, limit)
        return reply(Code.OK, {**envelope(Code.OK), "total": len(events), "data": events})
    if call.service == "XacNhanHoSoTuCongDVCQG":
        acks = portal.acknowledge(session, tenant, caller, call.items)
        return reply(Code.OK, {**envelope(Code.OK), "data": acks})
    if call.data is not None:  # the province's own list, compared with the portal
        if len(call.items) > settings.batch_max * 20:
            raise DvcqgError(Code.BATCH_TOO_LARGE)
        return reply(Code.OK, {**envelope(Code.OK), "data": reports.compare(session, tenant, caller.codes, call.items)})
    report = reports.reconciliation(session, tenant, caller.codes, extra)
    return reply(Code.OK, {**envelope(Code.OK), "data": report})


@router.post(
    "/api/service",
    summary="The sync API: one endpoint dispatching on `service`",
    tags=["DVCQG sync"],
    openapi_extra=body_doc(ServiceCall),
)
def call_service(request: Request, session: SessionDep, body: BodyDep) -> JSONResponse:
    """`{"service": "DongBoHoSoMC", "isUpdating": "False", "data": [...]}` and the other services
    (see the index). Authenticate with the `session` header (from `/api/login`) or
    `Authorization: Bearer <unit API key | session>`. Batches answer each record on its own
    (`data[i].error_code`); the top-level code is 0 when all were accepted, 27 when some
    were not, or the single record's own code for a one-record call."""
    return _dispatch(request, session, body, None)


@router.post(
    "/api/{service_name}",
    summary="The sync API, service named in the path",
    tags=["DVCQG sync"],
    openapi_extra=body_doc(ServiceCall),
)
def call_named_service(service_name: str, request: Request, session: SessionDep, body: BodyDep) -> JSONResponse:
    """Same as `/api/service`, with the service taken from the path (`/api/DongBoHoSoMC`)."""
    return _dispatch(request, session, body, service_name)


@router.get("/api/doisoat", summary="Reconciliation (đối soát) of the caller's units, JSON or CSV", tags=["DVCQG sync"])
def reconciliation(
    request: Request,
    session: SessionDep,
    TuNgay: str | None = None,
    DenNgay: str | None = None,
    MaDonVi: str | None = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Response:
    """Counts by status, status mismatches, overdue dossiers, rejected updates and sync lag
    for the caller's units and the period (`yyyyMMdd` or `yyyyMMddHHmmss`)."""
    caller = caller_of(request, session)
    filters = {"TuNgay": TuNgay, "DenNgay": DenNgay, "MaDonVi": MaDonVi}
    report = reports.reconciliation(session, current_tenant(), caller.codes, filters)
    if format == "csv":
        return Response(reports.reconciliation_csv(report), media_type="text/csv; charset=utf-8")
    return reply(Code.OK, {**envelope(Code.OK), "data": report})


@router.get(
    "/api/chiso766",
    summary="Scorecard preview (Bộ chỉ số 766) of the caller's units, JSON or CSV",
    tags=["DVCQG sync"],
    responses=JSON_OR_CSV,
)
def scorecard_preview(
    request: Request,
    session: SessionDep,
    TuNgay: str | None = None,
    DenNgay: str | None = None,
    MaDonVi: str | None = None,
    SoHoSoBaoCao: int | None = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Response:
    """The dossier-derived indicators (1.4, 2.1, 2.2, 3.3, 3.5, 3.6, 4.1–4.4) computed from what
    the caller synced, with the marks they would earn and the dossiers that pull each down."""
    caller = caller_of(request, session)
    filters = {"TuNgay": TuNgay, "DenNgay": DenNgay, "MaDonVi": MaDonVi, "SoHoSoBaoCao": SoHoSoBaoCao}
    card = scorecard.scorecard(session, current_tenant(), caller.codes, filters)
    if format == "csv":
        return Response(scorecard.scorecard_csv(card), media_type="text/csv; charset=utf-8")
    return reply(Code.OK, {**envelope(Code.OK), "data": card})


@router.get("/api/tthc", summary="Procedure catalogue (danh mục TTHC) with the fee schedule", tags=["catalogue"])
def procedures(
    q: str = "",
    linh_vuc: str = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Search by code or name (`q`) and field (`linh_vuc`). Fees per channel (1 direct,
    2 online, 3 postal) in VNĐ; `null` means variable; `CanCuLePhi` names the rule used."""
    total, rows = catalogue.search(q, linh_vuc, limit, offset)
    return {**envelope(Code.OK), "total": total, "data": [p.to_wire() for p in rows]}


@router.get("/api/tthc/{code}", summary="One procedure of the catalogue", tags=["catalogue"])
def procedure(code: str) -> JSONResponse:
    """A procedure by its national code (`MaTTHC`); code 22 if it is not in the catalogue."""
    proc = catalogue.get(code)
    if proc is None:
        raise DvcqgError(Code.NOT_FOUND, f"No procedure {code}", f"Không có thủ tục {code}")
    return reply(Code.OK, {**envelope(Code.OK), "data": proc.to_wire()})
