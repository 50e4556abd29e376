"""Wire routes of the payment service (thin: parse, call the service layer, shape the reply).

- ``POST /payments``: every partner message, told apart by ``LoaiBanTin`` (INIT, QUERY, REFUND).
- ``GET/POST /pay/{tenant}/{token}``: the hosted payment page the citizen's browser visits.
- ``GET /receipts/{MaGiaoDich}.json|.pdf``: the receipt of a paid transaction.
- ``GET /reconciliation``: a partner's daily reconciliation file (CSV or JSON).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, BackgroundTasks, Body, Depends, FastAPI, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.types import Scope

from services.payment import errors, lookups, names, notices, page, partners, quick, reports, schemas, service
from services.payment.protocol import INIT, OUTCOMES, QUERY, REFUND
from services.payment.receipts import receipt_pdf
from services.payment.settings import PaymentSettings
from vnsandbox.context import current_tenant
from vnsandbox.db import SessionDep, in_unit_of_work, scope_to_tenant
from vnsandbox.errors import MalformedJSON
from vnsandbox.middleware import QuickReply, valid_tenant
from vnsandbox.openapi import Responses, error_responses, media_response, message_body
from vnsandbox.outbox import enqueued, wake
from vnsandbox.service import public_base_url, scope_base_url, service_index
from vnsandbox.vn.wiretime import VN_TZ


async def clean_url(request: Request) -> None:
    """Refuse control characters in the path or query (``FIELD_INVALID``, never a database error)."""
    query = unquote_plus(request.scope.get("query_string", b"").decode("latin-1"))
    schemas.ensure_clean({"path": request.scope.get("path", ""), "query": query})


router = APIRouter(dependencies=[Depends(clean_url)])
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

EXAMPLE_INIT = {
    "LoaiBanTin": "INIT",
    "PhienBan": "1.0.6",
    "MaDoiTac": "SANDBOX",
    "MaThamChieu": "HS-000.00.01.H22-240915-12345",
    "SoTien": 150000,
    "MaTienTe": "VND",
    "LoaiHinhThanhToan": "PAY",
    "MaKenhThanhToan": "WEB",
    "MaThietBi": "DESKTOP",
    "NgonNgu": "vi-VN",
    "ThoiGianGD": "20260915103000",
    "ThongTinGiaoDich": "Nộp lệ phí hồ sơ 000.00.01.H22-240915-12345",
    "Ip": "203.0.113.7",
    "ThongTinBienLai": {
        "MaDichVu": 2,
        "MaTTHC": "2.002492",
        "MaHoSo": "000.00.01.H22-240915-12345",
        "HoTenNguoiNop": "Nguyễn Thị Hồng Nhung",
        "PhiLePhi": [{"LoaiPhiLePhi": 2, "MaPhiLePhi": "LP01", "TenPhiLePhi": "Lệ phí", "SoTien": 150000}],
    },
    "MaXacThuc": "<hex HMAC-SHA256, see docs/payment.md>",
}


#: Replies to a partner's message, by status (codes in docs/payment.md).
MESSAGE_ERRORS = error_responses(
    400,
    401,
    404,
    409,
    422,
    503,
    s400="`MALFORMED_JSON`, `MESSAGE_TYPE_UNKNOWN`",
    s401="`PARTNER_UNKNOWN`, `CHECKSUM_INVALID`",
    s404="`PAYMENT_NOT_FOUND` (QUERY, REFUND)",
    s409="`REFERENCE_CONFLICT`, `PAYMENT_NOT_REFUNDABLE`",
    s422="`FIELD_MISSING`, `FIELD_INVALID`, `AMOUNT_INVALID`, `CURRENCY_UNSUPPORTED`, `AMOUNT_MISMATCH`, …",
    s503="`PLATFORM_UNAVAILABLE` (switch `init_fail`)",
)
PAYMENT_404 = error_responses(404, s404="`PAYMENT_NOT_FOUND`")
RECEIPT_ERRORS = {**PAYMENT_404, **error_responses(409, s409="`RECEIPT_NOT_AVAILABLE`: not paid")}
#: The hosted page: HTML for a browser (and its not-found page), JSON otherwise.
PAGE_NOT_FOUND: Responses = {
    404: {
        "description": "No such payment page: a page for browsers, JSON `PAYMENT_NOT_FOUND` otherwise",
        "content": {
            **media_response("text/html", "")["content"],
            **PAYMENT_404[404]["content"],
        },
    }
}


def _settings(request: Request) -> PaymentSettings:
    settings: PaymentSettings = request.app.state.settings
    return settings


def page_url(request: Request, tenant: str, token: str) -> str:
    return f"{public_base_url(request)}/pay/{tenant}/{token}"


def vn_time(ts: float | None) -> str:
    """Epoch seconds → ``14:05 ngày 15/09/2026`` in Vietnam time, for the pages (empty for ``None``)."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).astimezone(VN_TZ).strftime("%H:%M ngày %d/%m/%Y")


def money(amount: Any) -> str:
    try:
        return f"{int(amount):,}".replace(",", ".") + " đ"
    except (TypeError, ValueError):
        return str(amount)


@router.get("/", summary="Service index", tags=["index"])
def index(request: Request) -> dict[str, Any]:
    """What this service imitates and where its documentation is."""
    return service_index(request, messages=f"{public_base_url(request)}/payments")


MessageHandler = Callable[[Request, Session, str, PaymentSettings, dict[str, Any]], dict[str, Any]]


def _init(
    request: Request, session: Session, tenant: str, settings: PaymentSettings, body: dict[str, Any]
) -> dict[str, Any]:
    service.apply_init_switches(request.app.state.db, session, tenant, settings, body, request.state.journal_notes)
    payment, partner = service.init(session, tenant, settings, body)
    return partner.key.sign("INIT_REPLY", schemas.init_reply(payment, page_url(request, tenant, payment.page_token)))


def _query(
    request: Request, session: Session, tenant: str, settings: PaymentSettings, body: dict[str, Any]
) -> dict[str, Any]:
    payment, partner = service.query(session, tenant, settings, body)
    return partner.key.sign("QUERY_REPLY", schemas.query_reply(payment))


def _refund(
    request: Request, session: Session, tenant: str, settings: PaymentSettings, body: dict[str, Any]
) -> dict[str, Any]:
    payment, refund, partner = service.refund(session, tenant, settings, body)
    return partner.key.sign("REFUND_REPLY", schemas.refund_reply(payment, refund))


#: ``LoaiBanTin`` → the handler answering it (its signed reply).
MESSAGES: dict[str, MessageHandler] = {INIT: _init, QUERY: _query, REFUND: _refund}


@router.post(
    "/payments",
    summary="PayGov message: INIT, QUERY or REFUND (told apart by LoaiBanTin)",
    tags=["paygov"],
    openapi_extra=message_body(schemas.InitIn, schemas.QueryIn, schemas.RefundIn, example=EXAMPLE_INIT),
    responses=MESSAGE_ERRORS,
)
async def payments(body: Annotated[Any, Body()], request: Request, background: BackgroundTasks) -> JSONResponse:
    """Every message a partner sends, signed with ``MaXacThuc``.

    - **INIT** opens a payment and answers ``error_code`` ``"0"`` with ``UrlThanhToan``, the
      hosted page to send the citizen to. Repeating an INIT with the same content returns
      the same payment; reusing ``MaThamChieu`` with other content is ``REFERENCE_CONFLICT``.
    - **QUERY** answers ``TrangThaiGD`` 1 success, 3 pending, 4 failed, with the details.
    - **REFUND** refunds all or part of a paid transaction and sends a refund notice.

    Replies are signed with ``MaXacThuc`` too (field orders ``*_REPLY``).
    """
    if not isinstance(body, dict):
        raise MalformedJSON("The message must be a JSON object", "Bản tin phải là một đối tượng JSON")
    schemas.ensure_clean(body)
    handler = MESSAGES[service.message_type(body)]
    tenant, settings = current_tenant(), _settings(request)

    def answer(session: Session) -> tuple[dict[str, Any], bool]:
        return handler(request, session, tenant, settings, body), enqueued(session)

    reply, notices = await in_unit_of_work(request, answer)
    if notices:  # a payment opened, completed (a QUERY may expire it) or refunded: its notice
        background.add_task(wake_outbox, request.app)
    return JSONResponse(reply)


def quick_message(app: FastAPI) -> QuickReply:
    """QUERY and INIT, the most frequent messages, answered before any routing when they can be,
    with the reply :func:`payments` gives: QUERY in one read from the event loop
    (:func:`services.payment.service.query_read_only`), INIT in one read and its ``INSERT``
    (:func:`services.payment.quick.init_quick`, a new payment only). Anything else (another
    message, a body the route reads otherwise, an error, an INIT switch, a repeated reference,
    a payment to expire or complete now) is left to the route (None)."""
    settings: PaymentSettings = app.state.settings
    db = app.state.db

    async def answer(scope: Scope, raw: bytes) -> bytes | None:
        if scope.get("query_string") or not raw or not _json_media(scope["headers"]):
            return None
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(body, dict):
            return None
        kind = body.get("LoaiBanTin")
        if kind != QUERY and kind != INIT:
            return None
        try:
            schemas.ensure_clean(body)
        except errors.PayGovError:
            return None
        tenant = scope["state"]["tenant"]
        if kind == QUERY:
            reply = await service.query_read_only(db, tenant, settings, body)
        else:
            reply = await quick.init_quick(db, tenant, settings, body, scope_base_url(scope, settings))
        if reply is None:
            return None
        return json.dumps(reply, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()

    return answer


def _json_media(raw_headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether FastAPI reads the request's body as JSON: no ``Content-Type`` (its first value),
    ``application/json`` or ``application/*+json``."""
    value = next((v for k, v in raw_headers if k.lower() == b"content-type"), b"")
    media = value.split(b";", 1)[0].strip().lower()
    return not value or media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


async def wake_outbox(app: Any) -> None:
    """The outbox worker runs now, after the reply (on the event loop: setting an event needs no thread)."""
    wake(app)


# --- Hosted payment page ------------------------------------------------------------------


def _page_tenant(tenant: str, session: Session) -> str:
    """The tenant named by the page's link. A citizen's browser comes without the gateway's
    tenant assertion: the link (tenant + unguessable token) is the capability, so the
    request's unit of work is scoped to the tenant it names."""
    if not valid_tenant(tenant):
        raise errors.PaymentNotFound()
    scope_to_tenant(session, tenant)
    return tenant


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _error_page(request: Request, exc: errors.PayGovError, back: str = "") -> Response:
    """A browser gets a Vietnamese error page (with the code, and a link ``back`` to the page when
    there is one); API clients keep the documented JSON error."""
    if not _wants_html(request):
        raise exc
    context: dict[str, Any] = {"code": exc.code, "message_vi": exc.message_vi, "message_en": exc.message_en}
    context |= {"back": back, "details": [str(d.get("field", "")) for d in exc.details]}
    return templates.TemplateResponse(request, "error.html", context, status_code=exc.status_code)


def _check_form(action: str, bank_code: str) -> None:
    """The page's form fields, refused in PayGov's codes (never the JSON endpoints' 415)."""
    schemas.ensure_clean({"action": action, "MaNganHang": bank_code})
    if not action:
        raise errors.FieldMissing(details=[{"field": "action", "rule": "missing", "message": "choose an outcome"}])
    if action not in OUTCOMES:
        raise errors.FieldInvalid(details=[{"field": "action", "rule": "one_of", "message": ", ".join(OUTCOMES)}])
    if len(bank_code) > 32:
        raise errors.FieldInvalid(details=[{"field": "MaNganHang", "rule": "max_length", "message": "at most 32"}])


def _render_result(
    request: Request, payment: Any, partner: partners.PartnerConfig | None, status: int = 200
) -> Response:
    return templates.TemplateResponse(
        request,
        "result.html",
        {
            "payment": payment,
            "money": money,
            "status_text": schemas.STATUS_VI[payment.status],
            "description": schemas.result_description(payment),
            "bank_name": names.bank_name(payment.bank_code, _settings(request).bank_codes_file)
            if payment.bank_code
            else "",
            "completed": vn_time(payment.completed_ts),
            "repeated": status == 409,
            "receipt_url": f"{page_url(request, payment.tenant, payment.page_token)}/receipt.pdf",
            "return_url": notices.return_url(partner, payment),
        },
        status_code=status,
    )


@router.get(
    "/pay/{tenant}/{token}",
    summary="Hosted payment page (HTML, Vietnamese)",
    tags=["payment page"],
    responses={200: media_response("text/html", "The payment page"), **PAGE_NOT_FOUND},
)
def pay_page(tenant: str, token: str, request: Request, session: SessionDep, background: BackgroundTasks) -> Response:
    """The page ``UrlThanhToan`` points to: order summary, banks and wallets, outcome buttons."""
    try:
        tenant = _page_tenant(tenant, session)
        payment = lookups.payment_by_token(session, tenant, token)
    except errors.PaymentNotFound as exc:
        return _error_page(request, exc)
    settings = _settings(request)
    partner = partners.find_partner(session, tenant, settings, payment.partner_code)
    if service.expire_if_due(session, tenant, settings, payment):
        background.add_task(wake, request.app)
    if payment.status != "pending":
        return _render_result(request, payment, partner)
    summary = page.order_summary(session, tenant, settings, payment)
    return templates.TemplateResponse(
        request,
        "pay.html",
        {
            "payment": payment,
            "partner_name": partner.name if partner else payment.partner_code,
            **summary,
            "expires": vn_time(payment.expires_ts),
            "money": money,
        },
    )


@router.post(
    "/pay/{tenant}/{token}",
    summary="Submit the payment page (form post)",
    tags=["payment page"],
    responses={
        200: media_response("text/html", "The result page"),
        303: {"description": "To the partner's return URL with the signed result fields"},
        **PAGE_NOT_FOUND,
        **error_responses(409, s409="`PAYMENT_NOT_PENDING`: the payment already has its outcome"),
    },
)
def pay_submit(
    tenant: str,
    token: str,
    request: Request,
    session: SessionDep,
    background: BackgroundTasks,
    action: Annotated[str, Form(description="success, insufficient_funds, card_locked, cancelled or timeout")] = "",
    bank_code: Annotated[str, Form(alias="MaNganHang", description="bank or wallet, at most 32")] = "",
) -> Response:
    """The citizen's choice: the outcome is recorded, the notice queued, and the browser sent
    to the partner's return URL with the signed result fields (303), or shown the result.

    A missing or unknown ``action`` (``FIELD_MISSING`` / ``FIELD_INVALID``, 422) or an unknown
    link (``PAYMENT_NOT_FOUND``) shows a Vietnamese error page to a browser (``Accept:
    text/html``) and answers the JSON error otherwise; the payment stays pending."""
    try:
        tenant = _page_tenant(tenant, session)
        _check_form(action, bank_code)
        payment = lookups.payment_by_token(session, tenant, token)
    except errors.PaymentNotFound as exc:
        return _error_page(request, exc)
    except errors.PayGovError as exc:
        return _error_page(request, exc, back=str(request.url.path))
    settings = _settings(request)
    partner = partners.find_partner(session, tenant, settings, payment.partner_code)
    background.add_task(wake, request.app)
    if not page.choose_outcome(session, tenant, settings, payment, action, bank_code):
        return _render_result(request, payment, partner, status=409)
    target = notices.return_url(partner, payment)
    if target:
        return RedirectResponse(target, status_code=303)
    return _render_result(request, payment, partner)


@router.get(
    "/pay/{tenant}/{token}/receipt.pdf",
    summary="Receipt PDF from the payment page",
    tags=["payment page"],
    responses={200: media_response("application/pdf", "The receipt"), **PAGE_NOT_FOUND, 409: RECEIPT_ERRORS[409]},
)
def pay_receipt(tenant: str, token: str, request: Request, session: SessionDep) -> Response:
    """The receipt of the page's payment, for the citizen's browser."""
    tenant = _page_tenant(tenant, session)
    return _pdf(request, reports.page_receipt(session, tenant, token))


# --- Receipts and reconciliation ----------------------------------------------------------


def _pdf(request: Request, data: dict[str, Any]) -> Response:
    content = receipt_pdf(data, _settings(request).font_file)
    name = f"bien-lai-{data['MaGiaoDich']}.pdf"
    return Response(
        content, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'}
    )


@router.get(
    "/receipts/{transaction_id}.pdf",
    summary="Receipt (biên lai) of a paid transaction, PDF",
    tags=["paygov"],
    response_class=Response,
    responses={200: media_response("application/pdf", "The receipt"), **RECEIPT_ERRORS},
)
def receipt_pdf_route(transaction_id: str, request: Request, session: SessionDep) -> Response:
    """The electronic receipt as PDF (Vietnamese text, bundled Unicode font). The read of the
    payer's data is written to the audit trail (``/_sandbox/audit``)."""
    return _pdf(request, _audited_receipt(request, session, transaction_id, "receipt.pdf"))


@router.get(
    "/receipts/{transaction_id}.json",
    summary="Receipt (biên lai) of a paid transaction, JSON",
    tags=["paygov"],
    responses=RECEIPT_ERRORS,
)
def receipt_json(transaction_id: str, request: Request, session: SessionDep) -> dict[str, Any]:
    """The electronic receipt as JSON; ``RECEIPT_NOT_AVAILABLE`` unless the transaction is paid.
    The read of the payer's data is written to the audit trail (``/_sandbox/audit``)."""
    return _audited_receipt(request, session, transaction_id, "receipt.json")


def _audited_receipt(request: Request, session: Session, transaction_id: str, action: str) -> dict[str, Any]:
    client = str(getattr(request.state, "consumer", "") or "")  # the gateway's consumer, when relayed
    purpose = request.headers.get("x-purpose", "")
    return reports.audited_receipt(
        session, current_tenant(), transaction_id, client=client, purpose=purpose, action=action
    )


@router.get(
    "/reconciliation",
    summary="Daily reconciliation file of a partner (CSV or JSON)",
    tags=["paygov"],
    responses={
        200: media_response("text/csv", "The file as CSV (default), or JSON with `format=json`"),
        **error_responses(401, s401="`PARTNER_UNKNOWN`, `CHECKSUM_INVALID`"),
    },
)
def reconciliation(
    request: Request,
    session: SessionDep,
    partner_code: Annotated[str, Query(alias="MaDoiTac", max_length=50)],
    day: Annotated[str, Query(alias="Ngay", description="yyyyMMdd, Vietnam time")],
    checksum: Annotated[str, Query(alias="MaXacThuc", description="HMAC over MaDoiTac|Ngay")],
    format: Annotated[str, Query(pattern="^(csv|json)$")] = "csv",
) -> Response:
    """Every transaction the partner opened that day and its state, signed request.

    The CSV has one row per transaction; the totals of successful payments are in the
    ``X-Tong-Tien-Thanh-Cong`` / ``X-So-Giao-Dich-Thanh-Cong`` headers (and in the JSON form).
    """
    report = reports.signed_reconciliation(session, current_tenant(), _settings(request), partner_code, day, checksum)
    return reconciliation_response(report, format)


def reconciliation_response(report: dict[str, Any], format: str) -> Response:
    if format == "json":
        return JSONResponse(report)
    headers = {
        "X-So-Giao-Dich": str(report["SoGiaoDich"]),
        "X-So-Giao-Dich-Thanh-Cong": str(report["SoGiaoDichThanhCong"]),
        "X-Tong-Tien-Thanh-Cong": str(report["TongTienThanhCong"]),
        "Content-Disposition": f'attachment; filename="doisoat-{report["MaDoiTac"]}-{report["Ngay"]}.csv"',
    }
    return Response(reports.reconciliation_csv(report), media_type="text/csv; charset=utf-8", headers=headers)
