"""App factory of the identity service: ``uvicorn --factory services.identity.app:create_app``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.identity.models import Base
from services.identity.router import router
from services.identity.settings import IdentitySettings
from vnsandbox.service import ServiceSpec, create_service_app

SPEC = ServiceSpec(
    name="identity",
    title="VNeID / DVCQG SSO and population database (mock)",
    description=(
        "OpenID Connect provider imitating VNeID login of the national public-service portal, and "
        "the national population database's citizen verification API."
    ),
    protocol="VNeID OIDC (WSO2-style) + CSDLQG dân cư",
    migrations_dir=Path(__file__).parent / "migrations",
    metadata=Base.metadata,
    routers=[router],
)


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or IdentitySettings())
