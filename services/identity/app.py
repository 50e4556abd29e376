"""App factory of the identity service: ``uvicorn --factory services.identity.app:create_app``."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import text

from services.identity import clients, keys, oidc, people, population, schemas
from services.identity.control import router as control_router
from services.identity.models import BASE_TENANT, Base, PopulationInfo
from services.identity.oidc import SWITCHES
from services.identity.router import quick_token, router
from services.identity.settings import IdentitySettings
from vnsandbox import clock
from vnsandbox.db import Database
from vnsandbox.middleware import StaticReply
from vnsandbox.service import PeriodicWorker, ServiceSpec, create_service_app, scope_base_url


def bootstrap(db: Database, settings: IdentitySettings) -> None:
    """First start of a database: signing key, development client, base population.

    Replicas starting together on PostgreSQL serialise on an advisory lock; whoever comes
    second finds the work done.
    """
    with db.session() as session:
        if db.dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(b"identity-bootstrap")})
        keys.ensure_base_key(session, datetime.now(UTC))
        if settings.dev_client_enabled():
            clients.ensure_dev_client(session)
        if settings.seed_people > 0 and session.get(PopulationInfo, BASE_TENANT) is None:
            population.generate(session, BASE_TENANT, settings.seed_people, settings.seed, "base")


def seed_base_population(
    settings: IdentitySettings, people: int, seed: int, progress: Callable[[int], None] | None = None
) -> int:
    """Replace the base population every tenant sees (``vnsandbox seed``); returns the count.

    Migrates the database first, so it also works on a database the service never opened.
    """
    db = Database(settings.resolved_database_url(), [SPEC.metadata])
    try:
        db.migrate(SPEC.migrations_dir, SPEC.name)
        bootstrap(db, settings.model_copy(update={"seed_people": 0}))
        with db.session() as session:
            return population.generate(session, BASE_TENANT, people, seed, "base", progress)
    finally:
        db.dispose()


def _purge_worker(app: FastAPI) -> PeriodicWorker:
    """Deletes long-expired codes, tokens and assertion ids, so a long-running sandbox stays small."""
    settings: IdentitySettings = app.state.settings
    db: Database = app.state.db

    def run() -> None:
        with db.session() as session:
            oidc.purge_expired(session, datetime.now(UTC) - timedelta(seconds=settings.purge_after_seconds))

    return PeriodicWorker("identity-purge", settings.purge_interval_seconds, run)


def _discovery_reply(app: FastAPI) -> StaticReply:
    """The discovery document from its encoded copy per issuer (what the route answers)."""
    settings: IdentitySettings = app.state.settings
    return lambda scope: oidc.discovery_document(scope_base_url(scope, settings), settings)


def _jwks_reply(_app: FastAPI) -> StaticReply:
    """The tenant's JWKS while this process holds a current one; the route reads it otherwise."""
    return lambda scope: keys.cached_jwks(scope["state"]["tenant"])


def _on_startup(app: FastAPI) -> None:
    bootstrap(app.state.db, app.state.settings)


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
    routers=[router, control_router],
    switches={**SWITCHES, **people.SWITCHES},
    switch_params=schemas.SWITCH_PARAMS,
    on_startup=[_on_startup],
    on_reset=[lambda _app, session, tenant: keys.forget(tenant, session)],
    workers=[_purge_worker],
    static_replies={"/.well-known/openid-configuration": _discovery_reply, "/oauth2/jwks": _jwks_reply},
    quick_replies={"/oauth2/token": quick_token},
)


#: A moved test clock changes which retired keys the JWKS still lists.
clock.on_change(keys.forget)


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or IdentitySettings())
