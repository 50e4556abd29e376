"""Two gateway replicas on one database: configuration converges at the next reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.app import Gateway
from tests.gateway.conftest import (
    ADMIN_KEY,
    create_tenant,
    expect_error,
    gateway_settings,
    reload_config,
    two_replicas,
)
from tests.support import SandboxProcesses


@pytest.fixture
def replicas(
    sandbox: SandboxProcesses, gateway_database_url: str, tmp_path: Path
) -> Iterator[tuple[TestClient, TestClient]]:
    with two_replicas(sandbox, gateway_database_url, tmp_path) as pair:
        yield pair


def test_consumer_registered_through_one_replica_is_accepted_by_another_after_its_reload(
    replicas: tuple[TestClient, TestClient],
) -> None:
    one, two = replicas
    tenant = create_tenant(one)
    expect_error(two.get("/vneid/v1/", headers=tenant.auth), 401, "INVALID_TOKEN")
    reload_config(two)
    assert two.get("/vneid/v1/", headers=tenant.auth).status_code == 200
    assert two.get("/vneid/v1/", headers={"x-api-key": tenant.api_key}).status_code == 200


def test_fault_rule_added_through_one_replica_applies_in_another_after_its_reload(
    replicas: tuple[TestClient, TestClient],
) -> None:
    one, two = replicas
    tenant = create_tenant(one)
    reload_config(two)
    assert tenant.post("/_sandbox/faults", json={"kind": "error", "api": "dvcqg"}).status_code == 201
    assert two.get("/dvcqg/v1/", headers=tenant.auth).status_code == 200
    reload_config(two)
    assert two.get("/dvcqg/v1/", headers=tenant.auth).status_code == 503


def test_deleted_tenant_is_refused_by_every_replica_after_its_reload(
    replicas: tuple[TestClient, TestClient],
) -> None:
    one, two = replicas
    tenant = create_tenant(one)
    reload_config(two)
    assert tenant.delete(f"/_sandbox/tenants/{tenant.tenant}").status_code == 200
    reload_config(two)
    expect_error(two.get("/vneid/v1/", headers=tenant.auth), 401, "INVALID_TOKEN")


def test_only_the_administrator_creates_tenants_when_self_service_is_off(
    sandbox: SandboxProcesses, gateway_database_url: str, tmp_path: Path
) -> None:
    gw = Gateway(gateway_settings(sandbox, gateway_database_url, tmp_path, self_service_tenants=False))
    with TestClient(gw, raise_server_exceptions=False) as client:
        expect_error(client.post("/_sandbox/tenants", json={}), 403, "ADMIN_ONLY")
        assert client.post("/_sandbox/tenants", json={}, headers={"x-sandbox-admin-key": ADMIN_KEY}).status_code == 201
