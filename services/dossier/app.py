"""App factory of the dossier service: ``uvicorn --factory services.dossier.app:create_app``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.dossier.models import Base
from services.dossier.router import router
from services.dossier.settings import DossierSettings
from vnsandbox.service import ServiceSpec, create_service_app

SPEC = ServiceSpec(
    name="dossier",
    title="Cổng DVCQG dossier sync (mock)",
    description=(
        "National public-service portal's dossier side: dossier submission, progress and status "
        "sync, citizen-filed dossiers delivered to provinces, reconciliation."
    ),
    protocol="DVCQG DongBoHoSoMC / CapNhatTienDoHoSoMC / TraCuuHoSo",
    migrations_dir=Path(__file__).parent / "migrations",
    metadata=Base.metadata,
    routers=[router],
)


def create_app(settings: DossierSettings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or DossierSettings())
