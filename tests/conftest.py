"""Fixtures shared by every test.

- ``backend``: every service test runs on SQLite and on PostgreSQL (the server comes from
  ``VNSB_TEST_POSTGRES_URL``, which ``./sandbox test`` provides).
- ``identity`` / ``dossier`` / ``payment``: in-process clients of each service, bound to a
  fresh tenant per test, so tests never see each other's data.
- ``sandbox``: the real multi-process topology (``vnsandbox up``) on free ports.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.dossier.app import create_app as create_dossier
from services.dossier.settings import DossierSettings
from services.identity.app import create_app as create_identity
from services.identity.settings import IdentitySettings
from services.payment.app import create_app as create_payment
from services.payment.settings import PaymentSettings
from tests.support import PostgresDatabases, SandboxProcesses, TenantClient, new_tenant

FACTORIES: dict[str, tuple[Callable[..., FastAPI], type]] = {
    "identity": (create_identity, IdentitySettings),
    "dossier": (create_dossier, DossierSettings),
    "payment": (create_payment, PaymentSettings),
}


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    url = os.environ.get("VNSB_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("VNSB_REQUIRE_POSTGRES"):
            pytest.fail("VNSB_TEST_POSTGRES_URL is not set; run the suite with ./sandbox test")
        pytest.skip("no PostgreSQL: set VNSB_TEST_POSTGRES_URL or run ./sandbox test")
    dbs = PostgresDatabases(url)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_urls(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    if backend == "sqlite":
        d = tmp_path_factory.mktemp("sqlite")
        return {name: f"sqlite:///{d / name}.db" for name in FACTORIES}
    pg: PostgresDatabases = request.getfixturevalue("postgres")
    return {name: pg.create(name) for name in FACTORIES}


@pytest.fixture(scope="session")
def service_clients(
    database_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, TestClient]]:
    clients: dict[str, TestClient] = {}
    data_dir = tmp_path_factory.mktemp("data")
    for name, (factory, settings_cls) in FACTORIES.items():
        settings = settings_cls(database_url=database_urls[name], data_dir=data_dir)
        client = TestClient(factory(settings), raise_server_exceptions=False)
        client.__enter__()
        clients[name] = client
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)


@pytest.fixture
def tenant() -> str:
    return new_tenant()


@pytest.fixture
def identity(service_clients: dict[str, TestClient], tenant: str) -> TenantClient:
    return TenantClient(service_clients["identity"], tenant)


@pytest.fixture
def dossier(service_clients: dict[str, TestClient], tenant: str) -> TenantClient:
    return TenantClient(service_clients["dossier"], tenant)


@pytest.fixture
def payment(service_clients: dict[str, TestClient], tenant: str) -> TenantClient:
    return TenantClient(service_clients["payment"], tenant)


@pytest.fixture(params=list(FACTORIES))
def any_service(request: pytest.FixtureRequest, service_clients: dict[str, TestClient], tenant: str) -> TenantClient:
    """Each service in turn: for behaviour the shared foundation gives all of them."""
    return TenantClient(service_clients[request.param], tenant)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcesses]:
    """One ``vnsandbox up`` for the session's multi-process tests (SQLite)."""
    procs = SandboxProcesses(data_dir=Path(tmp_path_factory.mktemp("sandbox-data"))).start()
    yield procs
    procs.stop()
