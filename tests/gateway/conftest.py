"""Fixtures of the gateway tests.

- ``gateway``: an in-process gateway (auth required) over the real service processes of
  the ``sandbox`` fixture, with its own database on each ``backend`` (SQLite, PostgreSQL).
- ``tenant_a`` / ``tenant_b``: throwaway tenants created through the gateway, with a token.
- ``secured``: a whole ``vnsandbox up`` with auth required and services that only accept
  the gateway's signed tenant assertion (for connection faults, raw-socket checks and the
  isolation sweep).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.app import Gateway
from gateway.settings import GatewaySettings
from tests.support import PostgresDatabases, SandboxProcesses

ADMIN_KEY = "test-admin-key-0123456789"


def gateway_settings(sandbox: SandboxProcesses, database_url: str, data_dir: Path, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "identity_url": sandbox.url("identity"),
        "dossier_url": sandbox.url("dossier"),
        "payment_url": sandbox.url("payment"),
        "require_auth": True,
        "admin_key": ADMIN_KEY,
        "upstream_timeout_s": 5.0,
        "log_requests": True,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@contextmanager
def two_replicas(
    sandbox: SandboxProcesses, database_url: str, data_dir: Path, **overrides: Any
) -> Iterator[tuple[TestClient, TestClient]]:
    """Two gateway replicas on one database. A long refresh interval: a replica sees the other's
    configuration after :func:`reload_config`, not by waiting."""
    one = Gateway(gateway_settings(sandbox, database_url, data_dir, config_refresh_s=3600, **overrides))
    two = Gateway(gateway_settings(sandbox, database_url, data_dir, config_refresh_s=3600, **overrides))
    with TestClient(one, raise_server_exceptions=False) as c1, TestClient(two, raise_server_exceptions=False) as c2:
        yield c1, c2


def reload_config(client: TestClient) -> None:
    """Reload a replica's configuration now, as its periodic reload would."""
    gw = client.app
    assert isinstance(gw, Gateway)
    gw.state.config.refresh()
    gw.state.after_reload()


@pytest.fixture(scope="session")
def gateway_database_url(backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('gw-sqlite') / 'gateway.db'}"
    pg: PostgresDatabases = request.getfixturevalue("postgres")
    return pg.create("gateway")


@pytest.fixture(scope="session")
def gateway_client(
    sandbox: SandboxProcesses, gateway_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    gw = Gateway(gateway_settings(sandbox, gateway_database_url, tmp_path_factory.mktemp("gw-data")))
    with TestClient(gw, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def gateway(gateway_client: TestClient) -> TestClient:
    return gateway_client


@dataclass
class TenantCreds:
    """A tenant created through the gateway, with its first consumer's credentials."""

    client: httpx.Client | TestClient
    tenant: str
    client_id: str
    client_secret: str
    api_key: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.client.get(url, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.client.post(url, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def put(self, url: str, **kw: Any) -> httpx.Response:
        return self.client.put(url, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def patch(self, url: str, **kw: Any) -> httpx.Response:
        return self.client.patch(url, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.client.delete(url, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self.client.request(method, url, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def new_consumer(self, **body: Any) -> dict[str, Any]:
        resp = self.post("/_sandbox/consumers", json=body)
        assert resp.status_code == 201, resp.text
        out: dict[str, Any] = resp.json()
        return out


def get_token(client: httpx.Client | TestClient, client_id: str, secret: str, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    if scope is not None:
        form["scope"] = scope
    resp = client.post("/oauth2/token", data=form)
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["access_token"]
    return token


def create_tenant(client: httpx.Client | TestClient, **body: Any) -> TenantCreds:
    resp = client.post("/_sandbox/tenants", json=body)
    assert resp.status_code == 201, resp.text
    data = resp.json()
    creds = data["consumer"]["credentials"]
    return TenantCreds(
        client=client,
        tenant=data["tenant"],
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        api_key=creds["api_key"],
        token=get_token(client, creds["client_id"], creds["client_secret"]),
    )


@pytest.fixture
def tenant_a(gateway: TestClient) -> Iterator[TenantCreds]:
    t = create_tenant(gateway)
    yield t
    gateway.delete(f"/_sandbox/tenants/{t.tenant}", headers={"x-sandbox-admin-key": ADMIN_KEY})


@pytest.fixture
def tenant_b(gateway: TestClient) -> Iterator[TenantCreds]:
    t = create_tenant(gateway)
    yield t
    gateway.delete(f"/_sandbox/tenants/{t.tenant}", headers={"x-sandbox-admin-key": ADMIN_KEY})


@pytest.fixture(scope="session")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcesses]:
    """``vnsandbox up`` with auth required at the gateway and signed tenants required by the services."""
    procs = SandboxProcesses(
        data_dir=Path(tmp_path_factory.mktemp("secured-data")),
        env={
            "GATEWAY_REQUIRE_AUTH": "true",
            "GATEWAY_ADMIN_KEY": ADMIN_KEY,
            "SANDBOX_REQUIRE_TENANT_SIGNATURE": "true",
            "SANDBOX_GATEWAY_SECRET": "secured-test-gateway-secret",
        },
    ).start()
    yield procs
    procs.stop()


@pytest.fixture
def secured_client(secured: SandboxProcesses) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=secured.gateway, timeout=10) as client:
        yield client


def expect_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert a gateway error reply: status, code, both languages, the request id echoed."""
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert body["error_code"] == code
    assert body["message"] and body["message_en"]
    assert body["request_id"] == resp.headers["x-request-id"]
    return body
