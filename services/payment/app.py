"""App factory of the payment service: ``uvicorn --factory services.payment.app:create_app``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.orm import Session

from services.payment import schemas, service
from services.payment.control import router as control_router
from services.payment.models import Base
from services.payment.router import quick_message, router
from services.payment.settings import PaymentSettings
from vnsandbox import outbox
from vnsandbox.journal import Journal
from vnsandbox.outbox import OutboxBase, Outcome, RetryPolicy, outbox_worker
from vnsandbox.service import PeriodicWorker, ServiceSpec, create_service_app


def _retry_policy(app: FastAPI) -> RetryPolicy:
    """The notice retry policy of the settings (``PAYMENT_NOTICE_RETRY_BASE_S``, ``…_MAX_ATTEMPTS``, …)."""
    return RetryPolicy.from_settings(
        app.state.settings, "notice_", base_s="notice_retry_base_s", max_s="notice_retry_max_s"
    )


def _outbox_worker(app: FastAPI) -> PeriodicWorker:
    """The shared outbox worker, with every attempt also written to this process's journal."""
    journal: Journal = app.state.journal
    body_limit: int = app.state.settings.journal_body_bytes

    def on_result(session: Session, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            row = outcome.delivery
            journal.record(
                request_id=row.id,
                tenant=row.tenant,
                method="POST",
                path=row.target_url,
                query="",
                status=row.last_status or 0,
                duration_ms=outcome.duration_ms,
                request_headers={},
                request_body=row.payload[:body_limit],
                response_headers={},
                response_body=outcome.response_body,
                notes={
                    "direction": "outgoing",
                    "kind": row.kind,
                    "ref": row.ref,
                    "delivery_id": row.id,
                    "attempt": row.attempts,
                    "accepted": outcome.ok,
                    "delivery_status": row.status,
                    "error": row.last_error,
                },
            )

    # The dossier event goes to PAYMENT_DOSSIER_URL, set by the operator: no callback policy.
    return outbox_worker(
        _retry_policy, interval=0.5, on_result=on_result, trusted_kinds=frozenset({service.DOSSIER_KIND})
    )(app)


def _expiry_worker(app: FastAPI) -> PeriodicWorker:
    """Expires overdue pending payments (test-clock time) and wakes the outbox for their notices."""
    settings: PaymentSettings = app.state.settings

    def run() -> None:
        if service.sweep_expired(app.state.db, settings):
            outbox.wake(app)

    return PeriodicWorker("payment-expiry", settings.expiry_interval_s, run)


SPEC = ServiceSpec(
    name="payment",
    title="PayGov national payment platform (mock)",
    description=(
        "National payment platform of the public-service portal: INIT, hosted payment page, signed "
        "result notices, QUERY, refunds, receipts and reconciliation."
    ),
    protocol="PayGov 1.0.6",
    migrations_dir=Path(__file__).parent / "migrations",
    metadata=Base.metadata,
    routers=[router, control_router, outbox.router],
    extra_metadata=[OutboxBase.metadata],
    switches=service.SWITCHES,
    switch_params=schemas.SWITCH_PARAMS,
    workers=[_outbox_worker, _expiry_worker],
    # PayGov messages and pages answer bad characters with FIELD_INVALID in their own envelope.
    own_input_checks=(
        "/payments",
        "/pay/",
        "/receipts/",
        "/reconciliation",
        "/_sandbox/partners",
        "/_sandbox/payments",
        "/_sandbox/deliveries",
    ),
    quick_replies={"/payments": quick_message},
)


def create_app(settings: PaymentSettings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or PaymentSettings())
