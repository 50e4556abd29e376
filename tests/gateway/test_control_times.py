"""Every time in the gateway's control replies is ISO-8601 with its offset, on every database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.gateway.conftest import ADMIN_KEY, TenantCreds


def _aware(value: Any) -> bool:
    return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None


def test_tenant_replies_carry_times_with_their_offset(gateway: TestClient, tenant_a: TenantCreds) -> None:
    created = gateway.post("/_sandbox/tenants", json={})
    assert created.status_code == 201
    body = created.json()
    try:
        assert _aware(body["created_at"]) and _aware(body["consumer"]["created_at"])
        listed = tenant_a.get("/_sandbox/tenants").json()["tenants"]
        assert listed and all(_aware(t["created_at"]) for t in listed)
        assert _aware(tenant_a.get(f"/_sandbox/tenants/{tenant_a.tenant}").json()["created_at"])
    finally:
        gateway.delete(f"/_sandbox/tenants/{body['tenant']}", headers={"x-sandbox-admin-key": ADMIN_KEY})


def test_consumer_replies_carry_times_with_their_offset(tenant_a: TenantCreds) -> None:
    made = tenant_a.new_consumer(name="x", scopes=["dvcqg"])
    assert _aware(made["created_at"])
    assert all(_aware(c["created_at"]) for c in tenant_a.get("/_sandbox/consumers").json()["consumers"])
    assert _aware(tenant_a.get(f"/_sandbox/consumers/{made['client_id']}").json()["created_at"])
    patched = tenant_a.patch(f"/_sandbox/consumers/{made['client_id']}", json={"name": "y"})
    assert _aware(patched.json()["created_at"])


def test_fault_rule_replies_carry_times_with_their_offset(tenant_a: TenantCreds) -> None:
    rule = tenant_a.post("/_sandbox/faults", json={"kind": "latency", "api": "dvcqg", "params": {"ms": 1}})
    assert rule.status_code == 201
    assert _aware(rule.json()["created_at"])
    assert all(_aware(r["created_at"]) for r in tenant_a.get("/_sandbox/faults").json()["rules"])


def test_clock_and_journal_replies_carry_times_with_their_offset(tenant_a: TenantCreds) -> None:
    moved = tenant_a.post("/_sandbox/clock", json={"advance_seconds": 0})
    assert _aware(moved.json()["now"])
    tenant_a.get("/dvcqg/v1/")
    assert all(_aware(e["time"]) for e in tenant_a.get("/_sandbox/journal").json()["entries"])
