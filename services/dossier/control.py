"""Dossier-specific control endpoints (``/_sandbox/...``): units and their sync accounts,
citizen filings and actions on the portal, payment events, and reports without a session."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from services.dossier import accounts, lookup, payments, portal, reports, scorecard
from services.dossier.errors import Code, DvcqgError, dvcqg_errors, envelope, http_status
from services.dossier.models import InboxEvent, Unit
from services.dossier.router import CSV_OR_JSON, REPORT_ERRORS, BodyDep, settings_of
from services.dossier.schemas import CitizenAction, CitizenPay, PaymentEventIn, UnitIn, UnitPatch, body_doc, parse
from vnsandbox.bounds import Amount
from vnsandbox.context import current_request_id, current_tenant
from vnsandbox.db import SessionDep
from vnsandbox.outbound import policy_of
from vnsandbox.outbox import wake

router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])

#: A body these endpoints parse themselves: code 1 when it is not JSON, code 20 when a field is wrong.
BODY_ERRORS = dvcqg_errors(
    400, 422, s400="Code 1: the body is not a JSON object", s422="Code 20: a field did not pass validation"
)
NOT_FOUND = dvcqg_errors(404, s404="Code 22: no such unit or dossier")


def _reply(code: Code, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse({**envelope(code), **body, "request_id": current_request_id()}, status_code=http_status(code))


@router.post(
    "/units",
    summary="Register a unit and its sync account",
    openapi_extra=body_doc(UnitIn),
    responses={**BODY_ERRORS, **dvcqg_errors(409, s409="Code 21: the unit code or username exists")},
)
def unit_create(request: Request, session: SessionDep, body: BodyDep) -> JSONResponse:
    """Code 21 if the unit code or username exists. The reply shows the API key and webhook
    secret (the only place besides `GET /_sandbox/units/{code}` that does)."""
    data = parse(UnitIn, body)
    accounts.ensure_dev_unit(session, current_tenant(), settings_of(request))
    outbound = policy_of(settings_of(request))
    unit = accounts.create_unit(session, current_tenant(), data.model_dump(exclude_unset=True), outbound)
    return _reply(Code.OK, {"data": accounts.unit_to_wire(unit, with_secrets=True)})


@router.get("/units", summary="Registered units (secrets hidden)")
def unit_list(request: Request, session: SessionDep) -> JSONResponse:
    tenant = current_tenant()
    accounts.ensure_dev_unit(session, tenant, settings_of(request))
    rows = session.scalars(select(Unit).where(Unit.tenant == tenant).order_by(Unit.code))
    return _reply(Code.OK, {"data": [accounts.unit_to_wire(u) for u in rows]})


@router.get("/units/{code}", summary="One unit with its API key and webhook secret", responses=NOT_FOUND)
def unit_read(code: str, request: Request, session: SessionDep) -> JSONResponse:
    accounts.ensure_dev_unit(session, current_tenant(), settings_of(request))
    unit = accounts.get_unit(session, current_tenant(), code)
    if unit is None:
        raise DvcqgError(Code.NOT_FOUND, f"No unit {code}", f"Không có đơn vị {code}")
    return _reply(Code.OK, {"data": accounts.unit_to_wire(unit, with_secrets=True)})


@router.patch(
    "/units/{code}",
    summary="Change a unit's webhook, secret, password or transition mode",
    openapi_extra=body_doc(UnitPatch),
    responses={**BODY_ERRORS, **NOT_FOUND},
)
def unit_patch(code: str, request: Request, session: SessionDep, body: BodyDep) -> JSONResponse:
    data = parse(UnitPatch, body)
    accounts.ensure_dev_unit(session, current_tenant(), settings_of(request))
    unit = accounts.get_unit(session, current_tenant(), code)
    if unit is None:
        raise DvcqgError(Code.NOT_FOUND, f"No unit {code}", f"Không có đơn vị {code}")
    changes = data.model_dump(exclude_unset=True)
    if "TenDonVi" in changes:
        unit.name = changes.pop("TenDonVi") or ""
    accounts.apply_unit_changes(unit, changes, policy_of(settings_of(request)))
    return _reply(Code.OK, {"data": accounts.unit_to_wire(unit, with_secrets=True)})


@router.post(
    "/citizen-dossiers",
    summary="A citizen files a dossier on the portal",
    responses={**BODY_ERRORS, **NOT_FOUND},
)
def citizen_file(request: Request, session: SessionDep, body: BodyDep, background: BackgroundTasks) -> JSONResponse:
    """Body: dossier fields plus `MaDonVi` (the receiving unit). The portal assigns `MaHoSo`
    (`<unit>-<yyMMdd>-9xxxx`), stores it with status 1 and sends `dossier.filed` to the unit
    (webhook if registered, and the polling inbox)."""
    if not isinstance(body, dict):
        raise DvcqgError(Code.MALFORMED, "The body must be a JSON object", "Nội dung phải là đối tượng JSON")
    d = portal.file_citizen_dossier(session, current_tenant(), settings_of(request), body)
    background.add_task(wake, request.app)
    return _reply(Code.OK, {"data": lookup.dossier_to_wire(d)})


@router.post(
    "/citizen-dossiers/{code}/withdraw",
    summary="The citizen withdraws a dossier (status 7)",
    openapi_extra=body_doc(CitizenAction),
    responses={**BODY_ERRORS, **NOT_FOUND},
)
def citizen_withdraw(
    code: str, request: Request, session: SessionDep, body: BodyDep, background: BackgroundTasks
) -> JSONResponse:
    """Allowed from any non-final status; the unit receives `dossier.withdrawn`."""
    data = parse(CitizenAction, body)
    d = portal.citizen_withdraw(session, current_tenant(), settings_of(request), code, data.LyDo)
    background.add_task(wake, request.app)
    return _reply(Code.OK, {"data": lookup.dossier_to_wire(d)})


@router.post(
    "/citizen-dossiers/{code}/supplement",
    summary="The citizen supplies requested documents (status 5)",
    openapi_extra=body_doc(CitizenAction),
    responses={**BODY_ERRORS, **NOT_FOUND},
)
def citizen_supplement(
    code: str, request: Request, session: SessionDep, body: BodyDep, background: BackgroundTasks
) -> JSONResponse:
    """Only while the dossier waits for a supplement (status 5); the unit receives
    `dossier.supplemented`. The status stays 5 until the province resumes (5 → 4)."""
    data = parse(CitizenAction, body)
    d = portal.citizen_supplement(session, current_tenant(), settings_of(request), code, data.TaiLieuBoSung)
    background.add_task(wake, request.app)
    return _reply(Code.OK, {"data": lookup.dossier_to_wire(d)})


@router.post(
    "/citizen-dossiers/{code}/pay",
    summary="The citizen pays the dossier's fees (status 6)",
    openapi_extra=body_doc(CitizenPay),
    responses={**BODY_ERRORS, **NOT_FOUND},
)
def citizen_pay(code: str, request: Request, session: SessionDep, body: BodyDep) -> JSONResponse:
    """Opens a payment of the dossier's `DanhSachLePhi` total on the payment service (as
    partner `DOSSIER_PAYMENT_PARTNER`) and answers its `UrlThanhToan` and `MaGiaoDich`; the
    fee items then name it (`MaDoiTac`, `MaThamChieu`, `UrlThanhToan`). When they already name
    one of this partner that PayGov's QUERY finds pending for the same amount (opened by the
    province's system or an earlier click), that one is answered instead: one fee request, one
    payment (a failed or expired one is followed by a new one; a paid one is code 23).
    `{"MaNganHang": "SANDBOX_OK"}` makes the payment service complete it at once. When it
    succeeds, the payment service reports it to `/_sandbox/payment-events`."""
    data = parse(CitizenPay, body)
    ip = request.client.host if request.client else "127.0.0.1"
    reply = payments.open_payment(session, current_tenant(), settings_of(request), code, data.MaNganHang, ip)
    return _reply(Code.OK, {"data": reply})


@router.post(
    "/payment-events",
    summary="Payment → dossier: a dossier's fees were paid online",
    openapi_extra=body_doc(PaymentEventIn),
    responses={**BODY_ERRORS, **NOT_FOUND},
)
def payment_event(request: Request, session: SessionDep, body: BodyDep, background: BackgroundTasks) -> JSONResponse:
    """Marks the dossier `DuocThanhToanTrucTuyen = 1` and records the payment; the status is
    unchanged. Idempotent by `MaGiaoDich` (a repeat answers code 24 with HTTP 200). Code 22
    / HTTP 404 when the tenant has no such dossier, so the payment side retries."""
    data = parse(PaymentEventIn, body)
    code, d = portal.record_payment(session, current_tenant(), settings_of(request), data.model_dump())
    if d is not None:
        background.add_task(wake, request.app)
    return _reply(code, {"MaHoSo": data.MaHoSo, "MaGiaoDich": data.MaGiaoDich})


@router.get("/dossiers/{code}", summary="A dossier with its full history (no session needed)", responses=NOT_FOUND)
def dossier_read(code: str, session: SessionDep) -> JSONResponse:
    return _reply(Code.OK, {"data": lookup.lookup(session, current_tenant(), None, code, True)})


@router.get("/inbox", summary="Events the portal sent to provinces, with acknowledgement state and payload")
def inbox(
    session: SessionDep,
    unit: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> JSONResponse:
    stmt = select(InboxEvent).where(InboxEvent.tenant == current_tenant())
    if unit:
        stmt = stmt.where(InboxEvent.unit_code == unit)
    rows = session.scalars(stmt.order_by(InboxEvent.seq).limit(limit))
    items = [
        {
            "event_id": r.id,
            "event": r.kind,
            "MaDonVi": r.unit_code,
            "MaHoSo": r.dossier_code,
            "delivery_id": r.delivery_id,
            "acknowledged": r.acknowledged_at is not None,
            "acknowledged_by": r.acknowledged_by,
            "payload": r.payload,
        }
        for r in rows
    ]
    return _reply(Code.OK, {"data": items})


@router.get(
    "/reconciliation",
    summary="Reconciliation of any unit of the tenant, JSON or CSV",
    responses={**CSV_OR_JSON, 422: REPORT_ERRORS[422]},
)
def reconciliation(
    session: SessionDep,
    MaDonVi: str | None = None,
    TuNgay: str | None = None,
    DenNgay: str | None = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Response:
    tenant = current_tenant()
    codes = frozenset(session.scalars(select(Unit.code).where(Unit.tenant == tenant)))
    if MaDonVi:
        codes = codes | {MaDonVi}
    report = reports.reconciliation(session, tenant, codes, {"MaDonVi": MaDonVi, "TuNgay": TuNgay, "DenNgay": DenNgay})
    if format == "csv":
        return Response(reports.reconciliation_csv(report), media_type="text/csv; charset=utf-8")
    return _reply(Code.OK, {"data": report})


@router.get(
    "/scorecard",
    summary="Scorecard preview (Bộ chỉ số 766) of a unit and period, JSON or CSV",
    responses={**CSV_OR_JSON, 422: REPORT_ERRORS[422]},
)
def scorecard_preview(
    session: SessionDep,
    MaDonVi: str | None = None,
    TuNgay: str | None = None,
    DenNgay: str | None = None,
    SoHoSoBaoCao: Annotated[Amount | None, Query(description="0 … 10^9")] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Response:
    """The dossier-derived 766 indicators with their marks and the dossiers pulling each
    down. `SoHoSoBaoCao`: dossiers received per the national reporting system (for 1.4)."""
    tenant = current_tenant()
    codes = frozenset(session.scalars(select(Unit.code).where(Unit.tenant == tenant)))
    if MaDonVi:
        codes = codes | {MaDonVi}
    filters = {"MaDonVi": MaDonVi, "TuNgay": TuNgay, "DenNgay": DenNgay, "SoHoSoBaoCao": SoHoSoBaoCao}
    card = scorecard.scorecard(session, tenant, codes, filters)
    if format == "csv":
        return Response(scorecard.scorecard_csv(card), media_type="text/csv; charset=utf-8")
    return _reply(Code.OK, {"data": card})
