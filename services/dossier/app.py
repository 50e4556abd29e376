"""App factory of the dossier service: ``uvicorn --factory services.dossier.app:create_app``."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from services.dossier import batch, control, portal, schemas
from services.dossier.models import Base
from services.dossier.router import QUICK_LOOKUP_PATHS, quick_lookup, router, too_deep
from services.dossier.settings import DossierSettings
from vnsandbox.errors import JSONTooDeep, SandboxError
from vnsandbox.outbox import OutboxBase, RetryPolicy, outbox_worker
from vnsandbox.outbox import router as outbox_router
from vnsandbox.service import ServiceSpec, create_service_app


def retry_policy(app: FastAPI) -> RetryPolicy:
    """The webhook retry policy of the settings (``DOSSIER_WEBHOOK_BASE_S``, ``_MAX_S``, …)."""
    return RetryPolicy.from_settings(app.state.settings, "webhook_")


def own_input_error(exc: SandboxError) -> SandboxError:
    """The sync API answers a JSON body nested too deep with code 1, like any malformed body."""
    return too_deep(exc.max_depth) if isinstance(exc, JSONTooDeep) else exc


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
    extra_metadata=[OutboxBase.metadata],
    routers=[control.router, outbox_router, router],
    switches=batch.SWITCHES,
    switch_params=schemas.SWITCH_PARAMS,
    # The sync API answers every input, NUL included, in the DVCQG {"error_code", "message"} envelope.
    own_input_checks=("/api",),
    own_input_error=own_input_error,
    quick_replies={path: partial(quick_lookup, path=path) for path in QUICK_LOOKUP_PATHS},
)


def create_app(settings: DossierSettings | None = None) -> FastAPI:
    s = settings or DossierSettings()
    worker = outbox_worker(retry_policy, interval=s.outbox_interval_s, on_result=portal.on_delivery_result)
    return create_service_app(replace(SPEC, workers=[worker]), s)
