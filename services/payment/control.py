"""Control endpoints of the payment service (``/_sandbox/...``): partners, headless outcomes,
notice replay, reconciliation without a checksum, and the protocol's tables."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi.responses import Response

from services.payment import errors, lookups, notices, partners, reports, schemas, service
from services.payment.models import Payment
from services.payment.protocol import DEFAULT_FIELD_ORDERS, MAGIC_AMOUNT_ENDINGS, MAGIC_BANKS, RESULT_CODES
from services.payment.router import PAYMENT_404, clean_url, page_url, reconciliation_response
from services.payment.settings import PaymentSettings
from vnsandbox.context import current_tenant
from vnsandbox.db import SessionDep
from vnsandbox.openapi import error_responses, media_response
from vnsandbox.outbox import wake

router = APIRouter(prefix="/_sandbox", tags=["sandbox control"], dependencies=[Depends(clean_url)])


def _settings(request: Request) -> PaymentSettings:
    settings: PaymentSettings = request.app.state.settings
    return settings


@router.get("/protocol", summary="Checksum field orders, result codes, magic values and error codes")
def protocol() -> dict[str, Any]:
    """The tables docs/payment.md describes, as data."""
    return {
        "field_orders": DEFAULT_FIELD_ORDERS,
        "result_codes": {o: {"MaLoi": c, "vi": vi, "en": en} for o, (c, vi, en) in RESULT_CODES.items()},
        "magic_banks": MAGIC_BANKS,
        "magic_amount_endings": {f"{k:02d}": v for k, v in MAGIC_AMOUNT_ENDINGS.items()},
        "error_codes": {
            c: {"status": e.status_code, "vi": e.message_vi, "en": e.message_en} for c, e in errors.ERROR_CODES.items()
        },
    }


@router.get("/partners", summary="Registered partners (and the built-in development partner)")
def partners_list(request: Request, session: SessionDep) -> dict[str, Any]:
    """Every partner of the tenant with its secret, algorithm, effective field orders and URLs;
    the built-in ``SANDBOX`` partner is listed too in the embedded mode."""
    items = partners.list_partners(session, current_tenant(), _settings(request))
    return {"count": len(items), "partners": [p.to_dict() for p in items]}


@router.get("/partners/{code}", summary="One partner", responses=error_responses(404))
def partner_get(code: str, request: Request, session: SessionDep) -> dict[str, Any]:
    """One partner; ``PARTNER_UNKNOWN`` if the tenant has none with that code."""
    return partners.get_partner(session, current_tenant(), _settings(request), code).to_dict()


@router.put("/partners/{code}", summary="Register or replace a partner (MaDoiTac)")
def partner_put(code: str, body: schemas.PartnerIn, request: Request, session: SessionDep) -> dict[str, Any]:
    """Secret, checksum algorithm (sha256/sha512), field orders per message type, notice and return URLs.
    The URLs must be http(s) and pass the outbound-URL policy (``OUTBOUND_URL_REFUSED``): never
    link-local or cloud metadata, and in the shared mode not loopback or private either unless
    ``SANDBOX_CALLBACK_ALLOW`` names them."""
    partners.check_callback_urls(_settings(request), {"notice_url": body.notice_url, "return_url": body.return_url})
    return partners.upsert_partner(session, current_tenant(), code, body).to_dict()


@router.delete("/partners/{code}", summary="Remove a partner", responses=error_responses(404))
def partner_delete(code: str, session: SessionDep) -> dict[str, Any]:
    """Remove a partner: its messages are then refused with ``PARTNER_UNKNOWN``; its payments stay."""
    partners.delete_partner(session, current_tenant(), code)
    return {"removed": code}


def _view(request: Request, payment: Payment) -> dict[str, Any]:
    return schemas.query_reply(payment) | {
        "status": payment.status,
        "UrlThanhToan": page_url(request, payment.tenant, payment.page_token),
    }


@router.get("/payments", summary="Payments of this tenant, newest first")
def payments_list(
    request: Request,
    session: SessionDep,
    status: Annotated[str | None, Query(pattern="^(pending|success|failed|cancelled|expired)$")] = None,
    partner_code: Annotated[str | None, Query(alias="MaDoiTac")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> dict[str, Any]:
    """Payments with their wire state (as QUERY answers it), internal status and page URL."""
    rows = lookups.list_payments(session, current_tenant(), status=status, partner_code=partner_code, limit=limit)
    return {"count": len(rows), "payments": [_view(request, p) for p in rows]}


@router.get("/payments/{transaction_id}", summary="One payment by MaGiaoDich, with its notices", responses=PAYMENT_404)
def payment_get(transaction_id: str, request: Request, session: SessionDep) -> dict[str, Any]:
    """The payment, and every notice sent about it (result, refunds, dossier link) with its
    delivery state: whether the partner acknowledged it, how many attempts it took."""
    tenant = current_tenant()
    payment = lookups.payment_by_transaction(session, tenant, transaction_id)
    notices_sent = notices.notices_of(session, tenant, payment)
    return _view(request, payment) | {"notices": notices_sent}


@router.post(
    "/payments/{transaction_id}/complete",
    summary="Complete a pending payment with a chosen outcome",
    response_model=None,
    responses={**PAYMENT_404, **error_responses(409, s409="`PAYMENT_NOT_PENDING`: it already has its outcome")},
)
def payment_complete(
    transaction_id: str,
    body: schemas.CompleteIn,
    request: Request,
    session: SessionDep,
    background: BackgroundTasks,
) -> dict[str, Any] | Response:
    """The headless version of the page's buttons: ``success``, ``insufficient_funds``,
    ``card_locked``, ``cancelled`` or ``timeout``. Magic banks and amounts apply as on the page."""
    tenant = current_tenant()
    settings = _settings(request)
    payment = lookups.payment_by_transaction(session, tenant, transaction_id, lock=True)
    background.add_task(wake, request.app)
    if service.expire_if_due(session, tenant, settings, payment):
        # Returned, not raised: the expiry just recorded (and its notice) is kept.
        return errors.PaymentNotPending(
            details=[{"field": "MaGiaoDich", "rule": "pending", "message": "status expired"}]
        ).response()
    service.complete(session, tenant, settings, payment, body.outcome, body.bank_code)
    return _view(request, payment)


@router.post(
    "/payments/{transaction_id}/notify", summary="Send the result notice of a payment again", responses=PAYMENT_404
)
def payment_notify(
    transaction_id: str, request: Request, session: SessionDep, background: BackgroundTasks
) -> dict[str, Any]:
    """Queue a fresh copy of the result notice (notice switches apply). To resend one exact
    delivery, use ``POST /_sandbox/deliveries/{id}/redeliver``."""
    tenant = current_tenant()
    payment = lookups.payment_by_transaction(session, tenant, transaction_id)
    queued = notices.renotify(session, tenant, _settings(request), payment)
    background.add_task(wake, request.app)
    return {"queued": queued, "MaGiaoDich": transaction_id}


@router.get(
    "/reconciliation",
    summary="Reconciliation report without a checksum",
    responses={200: media_response("text/csv", "The report as JSON, or CSV with `format=csv`")},
)
def reconciliation(
    session: SessionDep,
    partner_code: Annotated[str, Query(alias="MaDoiTac", max_length=50)],
    day: Annotated[str | None, Query(alias="Ngay", description="yyyyMMdd, Vietnam time; default today")] = None,
    format: Annotated[str, Query(pattern="^(csv|json)$")] = "json",
) -> Response:
    """The same report as ``GET /reconciliation``, without the partner's checksum."""
    tenant = current_tenant()
    report = reports.reconciliation(session, tenant, partner_code, day or reports.today_vn(session, tenant))
    return reconciliation_response(report, format)


@router.post("/expire", summary="Expire this tenant's overdue pending payments now")
def expire_now(request: Request, background: BackgroundTasks) -> dict[str, Any]:
    """Run the expiry sweep now for this tenant's overdue payments (the worker does it every second)."""
    expired = service.sweep_expired(request.app.state.db, _settings(request), tenant=current_tenant())
    background.add_task(wake, request.app)
    return {"expired": expired}
