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

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.types import Scope

from services.dossier import accounts, lookup, reports, rules, scorecard, service
from services.dossier.errors import Code, DvcqgError, detail, dvcqg_errors, envelope, http_status
from services.dossier.schemas import SERVICES, LoginIn, ServiceCall, body_doc, parse
from services.dossier.settings import DossierSettings
from vnsandbox import bounds
from vnsandbox.bounds import Amount, PageOffset
from vnsandbox.context import current_request_id, current_tenant
from vnsandbox.db import AsyncReader, SessionDep, in_unit_of_work
from vnsandbox.middleware import QuickReply
from vnsandbox.openapi import Responses, header_parameter, media_response, merge_extra, secured
from vnsandbox.service import segment_except, service_index
from vnsandbox.signing import CONSUMER_HEADER, TENANT_SIGNATURE_HEADER, verify_tenant_assertion
from vnsandbox.vn import catalogue

#: The fixed routes under ``/api/``; ``/api/<name>`` never takes these names, so a POST to
#: ``/api/tthc`` is a 405 naming GET rather than a call of a service "tthc".
FIXED_API_NAMES = ("login", "service", "tthc", "doisoat", "chiso766")


router = APIRouter()

#: How a caller of the sync API authenticates: the session from `/api/login`, or a bearer.
SYNC_AUTH = secured("dvcqgSession", "dvcqgBearer")
#: Replies of the sync API in the DVCQG envelope, by HTTP status (codes in docs/dossier.md).
SYNC_ERRORS = dvcqg_errors(
    400,
    401,
    403,
    404,
    409,
    413,
    422,
    503,
    504,
    s400="Code 1 (malformed request), 2 (unknown service) or 14 (unknown sending unit)",
    s401="Code 11 (no session), 12 (session expired), 13 (unknown session), 15, 16 (bad bearer), 18 (token expired)",
    s403="Code 17: the unit may not act on this dossier",
    s404="Code 22: no such dossier",
    s409="Code 21: the dossier already exists",
    s413="Code 26: more records than `DOSSIER_BATCH_MAX` in one call",
    s422="Code 20 (record did not pass validation), 23 (illegal transition), 25 (out of order)",
    s503="Code 30: a transient failure (switch `TRANSIENT`); retry later",
    s504="Code 31: a timeout (switch `TIMEOUT`)",
)
#: The reports' 401: no or a wrong session or bearer.
REPORT_ERRORS = dvcqg_errors(
    401,
    403,
    422,
    s401="Code 11, 12, 13, 16 or 18: no, an expired or a wrong session or bearer",
    s403="Code 17: `MaDonVi` names a unit the caller may not read",
    s422="Code 20: a date filter is not `yyyyMMdd` or `yyyyMMddHHmmss`",
)
CSV_OR_JSON: Responses = {200: media_response("text/csv", "The report as JSON, or as CSV with `format=csv`")}


async def json_body(request: Request) -> Any:
    """The request body as JSON, refused in the DVCQG envelope (code 1) when it is not, or
    when it nests deeper than ``DOSSIER_MAX_JSON_DEPTH``."""
    raw = await request.body()
    if not raw.strip():
        raise DvcqgError(Code.MALFORMED, "Empty body; send a JSON object", "Nội dung trống; hãy gửi đối tượng JSON")
    try:
        return bounds.loads(raw, settings_of(request).max_json_depth)
    except bounds.JSONTooDeepError as exc:
        raise too_deep(exc.max_depth) from None
    except ValueError:
        raise DvcqgError(Code.MALFORMED, "The body is not valid JSON", "Nội dung không phải JSON hợp lệ") from None


def too_deep(max_depth: int) -> DvcqgError:
    """Code 1 for a JSON body nested deeper than ``max_depth`` levels."""
    return DvcqgError(
        Code.MALFORMED,
        f"The JSON body is nested deeper than {max_depth} levels",
        f"Nội dung JSON lồng nhau sâu quá {max_depth} cấp",
        details=[detail("body", "max_depth", f"Tối đa {max_depth} cấp lồng nhau", f"At most {max_depth} levels")],
    )


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
    openapi_extra=merge_extra(
        body_doc(LoginIn),
        header_parameter(
            "MaDonVi",
            "The sending unit's code (`X-Unit-Code` or a `MaDonVi` body field are accepted too)",
            example="000.00.01.H22",
        ),
        {"requestBody": {"content": {"application/json": {"example": {"username": "sandbox", "password": "sandbox"}}}}},
    ),
    responses=dvcqg_errors(
        400,
        401,
        422,
        s400="Code 1 (malformed request) or 14 (missing or unknown unit `MaDonVi`)",
        s401="Code 10 (wrong username or password) or 15 (the account belongs to another unit)",
        s422="Code 20: `username` or `password` missing or malformed",
    ),
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
    """Parse the call, answer it with its service's handler, shape the reply."""
    if isinstance(body, dict) and name is not None:
        body = {**body, "service": name}
    call: ServiceCall = parse(ServiceCall, body)
    handler = service.HANDLERS.get(call.service)
    if handler is None:
        raise DvcqgError(
            Code.UNKNOWN_SERVICE,
            f"Unknown service {call.service!r}; one of {', '.join(SERVICES)}",
            f"Không hỗ trợ dịch vụ {call.service!r}",
        )
    tenant = current_tenant()
    settings = settings_of(request)
    caller = caller_of(request, session, call.session)
    answer = handler(service.CallContext(session, tenant, settings, caller), call)
    if answer.warnings:
        request.state.journal_notes["warnings"] = answer.warnings
    return reply(answer.code, answer.body)


@router.post(
    "/api/service",
    summary="The sync API: one endpoint dispatching on `service`",
    tags=["DVCQG sync"],
    openapi_extra=merge_extra(body_doc(ServiceCall), SYNC_AUTH),
    responses=SYNC_ERRORS,
)
async def call_service(request: Request) -> JSONResponse:
    """`{"service": "DongBoHoSoMC", "isUpdating": "False", "data": [...]}` and the other services
    (see the index). Authenticate with the `session` header (from `/api/login`) or
    `Authorization: Bearer <unit API key | session>`. Batches answer each record on its own
    (`data[i].error_code`); the top-level code is 0 when all were accepted, 27 when some
    were not, or the single record's own code for a one-record call."""
    body = await json_body(request)  # read here, not as a dependency: FastAPI solves none then
    return await in_unit_of_work(
        request, lambda session: _dispatch(request, session, body, None), read_only=_reads_only(body, None)
    )


@router.post(
    "/api/{service_name:" + segment_except(*FIXED_API_NAMES) + "}",
    summary="The sync API, service named in the path",
    tags=["DVCQG sync"],
    openapi_extra=merge_extra(body_doc(ServiceCall), SYNC_AUTH),
    responses=SYNC_ERRORS,
)
async def call_named_service(service_name: str, request: Request) -> JSONResponse:
    """Same as `/api/service`, with the service taken from the path (`/api/DongBoHoSoMC`)."""
    body = await json_body(request)
    read_only = _reads_only(body, service_name)
    return await in_unit_of_work(
        request, lambda session: _dispatch(request, session, body, service_name), read_only=read_only
    )


#: Paths whose TraCuuHoSo of one dossier :func:`quick_lookup` answers, and the service each names.
QUICK_LOOKUP_PATHS = {"/api/service": None, "/api/TraCuuHoSo": "TraCuuHoSo"}


def quick_lookup(app: FastAPI, path: str) -> QuickReply:
    """The most frequent read of the sync API, answered before any routing on PostgreSQL:
    TraCuuHoSo of one dossier without its history, by a caller presenting a bearer that is not
    a JWT, and no session. One statement from the event loop
    (:func:`services.dossier.lookup.lookup_by_api_key`) gives the reply :func:`_dispatch` gives;
    anything else (another call, a bearer that is no unit's API key, an error to answer) is
    left to the route (None)."""
    name = QUICK_LOOKUP_PATHS[path]
    settings: DossierSettings = app.state.settings
    reader: AsyncReader | None = app.state.db.reader

    async def answer(scope: Scope, raw: bytes) -> bytes | None:
        if reader is None or not raw:
            return None
        try:
            body = bounds.loads(raw, settings.max_json_depth)
        except ValueError:
            return None
        if not isinstance(body, dict) or not _reads_only(body, name):
            return None
        if name is not None:
            body = {**body, "service": name}
        try:
            call: ServiceCall = parse(ServiceCall, body)
        except DvcqgError:
            return None
        extra = call.model_extra or {}
        code = extra.get("MaHoSo")
        if not code or extra.get("LichSu") or call.session:
            return None
        auth, session, x_session = _first_headers(scope["headers"], (b"authorization", b"session", b"x-session"))
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if not bearer or bearer.count(".") == 2 or session or x_session or "\x00" in bearer + str(code):
            return None  # (NUL: PostgreSQL text holds none; the route answers it)
        try:
            found = await lookup.lookup_by_api_key(reader, scope["state"]["tenant"], settings, bearer, str(code))
        except DvcqgError:
            return None
        if found is None:
            return None
        content = {**envelope(Code.OK), "data": found, "request_id": scope["state"]["request_id"]}
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()

    return answer


def _first_headers(raw: list[tuple[bytes, bytes]], names: tuple[bytes, ...]) -> list[str]:
    """The first value of each header of ``names`` (lower case), "" when absent (as
    ``Request.headers.get`` reads them)."""
    values = [""] * len(names)
    seen = [False] * len(names)
    for key, value in raw:
        lowered = key.lower()
        if lowered in names:
            i = names.index(lowered)
            if not seen[i]:
                seen[i] = True
                values[i] = value.decode("latin-1")
    return values


def _reads_only(body: Any, name: str | None) -> bool:
    """Whether the call names a service that only reads (:data:`service.READ_ONLY`)."""
    if name is None:
        name = body.get("service") if isinstance(body, dict) else None
    return isinstance(name, str) and name in service.READ_ONLY


@router.get(
    "/api/doisoat",
    summary="Reconciliation (đối soát) of the caller's units, JSON or CSV",
    tags=["DVCQG sync"],
    openapi_extra=SYNC_AUTH,
    responses={**CSV_OR_JSON, **REPORT_ERRORS},
)
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
    openapi_extra=SYNC_AUTH,
    responses={**CSV_OR_JSON, **REPORT_ERRORS},
)
def scorecard_preview(
    request: Request,
    session: SessionDep,
    TuNgay: str | None = None,
    DenNgay: str | None = None,
    MaDonVi: str | None = None,
    SoHoSoBaoCao: Annotated[Amount | None, Query(description="0 … 10^9")] = None,
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
    offset: Annotated[PageOffset, Query(description="0 … 10^9")] = 0,
) -> dict[str, Any]:
    """Search by code or name (`q`) and field (`linh_vuc`). Fees per channel (1 direct,
    2 online, 3 postal) in VNĐ; `null` means variable; `CanCuLePhi` names the rule used."""
    total, rows = catalogue.search(q, linh_vuc, limit, offset)
    return {**envelope(Code.OK), "total": total, "data": [p.to_wire() for p in rows]}


@router.get(
    "/api/tthc/{code}",
    summary="One procedure of the catalogue",
    tags=["catalogue"],
    responses=dvcqg_errors(404, s404="Code 22: no procedure with this code"),
)
def procedure(code: str) -> JSONResponse:
    """A procedure by its national code (`MaTTHC`); code 22 if it is not in the catalogue."""
    proc = catalogue.get(code)
    if proc is None:
        raise DvcqgError(Code.NOT_FOUND, f"No procedure {code}", f"Không có thủ tục {code}")
    return reply(Code.OK, {**envelope(Code.OK), "data": proc.to_wire()})
