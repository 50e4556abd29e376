"""App factory of the payment service: ``uvicorn --factory services.payment.app:create_app``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.payment.models import Base
from services.payment.router import router
from services.payment.settings import PaymentSettings
from vnsandbox.service import ServiceSpec, create_service_app

SPEC = ServiceSpec(
    name="payment",
    title="PayGov national payment platform (mock)",
    description=(
        "National payment platform of the public-service portal: INIT, hosted payment page, signed "
        "result notices, QUERY, receipts and reconciliation."
    ),
    protocol="PayGov 1.0.6",
    migrations_dir=Path(__file__).parent / "migrations",
    metadata=Base.metadata,
    routers=[router],
)


def create_app(settings: PaymentSettings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or PaymentSettings())
