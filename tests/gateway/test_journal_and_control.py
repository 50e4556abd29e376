"""Journal and verify, reset, tenant deletion, test clock, audit trail and metrics."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from gateway.journal import GatewayJournal, GatewayQuery
from tests.gateway.conftest import TenantCreds, create_tenant, expect_error
from tests.support import SandboxProcesses
from vnsandbox import audit
from vnsandbox.db import Database


def test_journal_records_consumer_request_id_upstream_status_and_latency(tenant_a: TenantCreds) -> None:
    resp = tenant_a.get("/paygov/v1/", headers={"x-request-id": "rid-journal-1"})
    assert resp.headers["x-request-id"] == "rid-journal-1"
    entries = tenant_a.get("/_sandbox/journal", params={"request_id": "rid-journal-1"}).json()["entries"]
    assert len(entries) == 1
    e = entries[0]
    assert (e["tenant"], e["consumer"], e["upstream"], e["api"], e["status"]) == (
        tenant_a.tenant,
        tenant_a.client_id,
        "payment",
        "paygov",
        200,
    )
    assert e["duration_ms"] > 0
    assert e["fault"] is None


def test_verify_counts_calls_matching_method_path_and_body(tenant_a: TenantCreds) -> None:
    for seconds in (5, 7, 5):
        tenant_a.post("/dvcqg/v1/_sandbox/clock", json={"advance_seconds": seconds, "note": f"HS-{seconds}"})
    tenant_a.get("/dvcqg/v1/_sandbox/clock")
    query = {"method": "POST", "path": "/dvcqg/v1/_sandbox/clock", "body_contains": "HS-5"}
    assert tenant_a.post("/_sandbox/journal/verify", json=query).json() == {"count": 2}
    checked = tenant_a.post("/_sandbox/journal/verify", json={**query, "body_contains": "HS-7", "expected": 1})
    assert checked.json() == {"count": 1, "expected": 1, "ok": True}


def test_verify_counts_injected_faults_by_kind(tenant_a: TenantCreds) -> None:
    tenant_a.post("/_sandbox/faults", json={"kind": "error", "next_n": 2})
    for _ in range(3):
        tenant_a.get("/vneid/v1/")
    assert tenant_a.post("/_sandbox/journal/verify", json={"fault": "error"}).json()["count"] == 2
    assert tenant_a.post("/_sandbox/journal/verify", json={"fault": "none"}).json()["count"] == 1


def test_journal_shows_only_the_callers_tenant(tenant_a: TenantCreds, tenant_b: TenantCreds) -> None:
    tenant_a.get("/vneid/v1/", headers={"x-request-id": "rid-only-a"})
    assert tenant_b.get("/_sandbox/journal", params={"request_id": "rid-only-a"}).json()["total_matched"] == 0
    assert tenant_a.get("/_sandbox/journal", params={"request_id": "rid-only-a"}).json()["total_matched"] == 1


def test_journal_keeps_the_newest_entries_of_each_tenant() -> None:
    journal = GatewayJournal(per_tenant=3, max_tenants=10)
    for i in range(5):
        journal.record(**_entry("busy", f"r{i}"))
    journal.record(**_entry("quiet", "q0"))
    _, entries = journal.query("busy", GatewayQuery())
    assert [e.request_id for e in entries] == ["r4", "r3", "r2"]
    assert journal.query("quiet", GatewayQuery())[0] == 1


def test_journal_entries_are_redacted_when_read() -> None:
    journal = GatewayJournal(per_tenant=3, max_tenants=10)
    journal.record(
        **_entry("t", "r1"),
        raw_request_body=b'{"client_secret": "s3cr3t-value", "MaHoSo": "HS-1"}',
        request_content_type="application/json",
    )
    entry = journal.query("t", GatewayQuery(body_contains="HS-1"))[1][0].to_dict()
    assert entry["request_headers"]["authorization"] == "***"
    assert "s3cr3t-value" not in str(entry)
    assert journal.query("t", GatewayQuery(body_contains="s3cr3t-value"))[0] == 0


def test_journal_drops_the_least_recently_written_tenant_beyond_its_limit() -> None:
    journal = GatewayJournal(per_tenant=10, max_tenants=2)
    for tenant in ("t1", "t2", "t1", "t3"):
        journal.record(**_entry(tenant, "r"))
    assert journal.query("t2", GatewayQuery())[0] == 0
    assert journal.query("t1", GatewayQuery())[0] == 2


def _entry(tenant: str, rid: str) -> dict[str, object]:
    return {
        "request_id": rid,
        "tenant": tenant,
        "consumer": "c",
        "api": "vneid",
        "upstream": "identity",
        "method": "GET",
        "path": "/vneid/v1/",
        "query": "",
        "status": 200,
        "duration_ms": 1.0,
        "raw_headers": [(b"authorization", b"Bearer secret-token")],
    }


def test_reset_wipes_the_tenants_data_faults_and_journal_but_keeps_its_consumers(tenant_a: TenantCreds) -> None:
    tenant_a.post("/dvcqg/v1/_sandbox/clock", json={"advance_seconds": 30})
    tenant_a.post("/_sandbox/faults", json={"kind": "latency", "params": {"ms": 1}})
    body = tenant_a.post("/_sandbox/reset").json()
    assert {name: s["status"] for name, s in body["services"].items()} == {
        "identity": 200,
        "dossier": 200,
        "payment": 200,
    }
    assert body["fault_rules_removed"] == 1
    assert tenant_a.get("/dvcqg/v1/_sandbox/clock").json()["offset_seconds"] == 0
    assert tenant_a.get("/_sandbox/journal").json()["total_matched"] == 1


def test_reset_of_one_tenant_leaves_another_untouched(tenant_a: TenantCreds, tenant_b: TenantCreds) -> None:
    tenant_b.post("/dvcqg/v1/_sandbox/clock", json={"advance_seconds": 30})
    tenant_a.post("/_sandbox/reset")
    assert tenant_b.get("/dvcqg/v1/_sandbox/clock").json()["offset_seconds"] == 30


def test_deleting_a_tenant_wipes_its_data_in_every_service(gateway: TestClient) -> None:
    t = create_tenant(gateway)
    t.post("/_sandbox/clock", json={"advance_seconds": 100})
    deleted = t.delete(f"/_sandbox/tenants/{t.tenant}").json()
    assert all(s["body"]["tenant"] == t.tenant for s in deleted["services"].values())
    assert all("sandbox_clock" in s["body"]["deleted_rows"] for s in deleted["services"].values())
    expect_error(t.get("/_sandbox/clock"), 401, "INVALID_TOKEN")


def test_clock_advance_reaches_every_service(tenant_a: TenantCreds) -> None:
    body = tenant_a.post("/_sandbox/clock", json={"advance_seconds": 1_800}).json()
    assert body["in_sync"] is True
    for prefix in ("/vneid/v1", "/dvcqg/v1", "/paygov/v1"):
        assert tenant_a.get(f"{prefix}/_sandbox/clock").json()["offset_seconds"] == 1_800
    read = tenant_a.get("/_sandbox/clock").json()
    assert read["offset_seconds"] == 1_800
    assert {s["body"]["offset_seconds"] for s in read["services"].values()} == {1_800}


def test_clock_reset_returns_every_service_to_real_time(tenant_a: TenantCreds) -> None:
    tenant_a.post("/_sandbox/clock", json={"advance_seconds": 60})
    tenant_a.delete("/_sandbox/clock")
    assert tenant_a.get("/vneid/v1/_sandbox/clock").json()["offset_seconds"] == 0


def test_audit_merges_every_services_trail_and_exports_csv(sandbox: SandboxProcesses, tenant_a: TenantCreds) -> None:
    for name, subject in (("identity", "001099000001"), ("payment", "001099000002")):
        db = Database(f"sqlite:///{sandbox.data_dir / name}.db", [])
        with db.session() as session:
            audit.record(
                session,
                tenant_a.tenant,
                service=name,
                client=tenant_a.client_id,
                subject=subject,
                fields=["HoVaTen"],
                purpose="test",
            )
        db.dispose()
    merged = tenant_a.get("/_sandbox/audit").json()
    assert {(r["service"], r["subject"]) for r in merged["records"]} == {
        ("identity", "001099000001"),
        ("payment", "001099000002"),
    }
    one = tenant_a.get("/_sandbox/audit", params={"subject": "001099000002"}).json()
    assert [r["service"] for r in one["records"]] == ["payment"]
    exported = tenant_a.get("/_sandbox/audit", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["subject"] for r in rows} == {"001099000001", "001099000002"}
    assert rows[0]["fields"] == "HoVaTen"


def test_audit_of_one_tenant_hides_another_tenants_records(
    sandbox: SandboxProcesses, tenant_a: TenantCreds, tenant_b: TenantCreds
) -> None:
    db = Database(f"sqlite:///{sandbox.data_dir / 'identity'}.db", [])
    with db.session() as session:
        audit.record(session, tenant_a.tenant, service="identity", client="x", subject="001099000003", fields=["a"])
    db.dispose()
    assert tenant_b.get("/_sandbox/audit").json()["count"] == 0


def test_metrics_count_requests_latency_and_faults(tenant_a: TenantCreds) -> None:
    tenant_a.post("/_sandbox/faults", json={"kind": "error", "api": "paygov", "next_n": 1})
    tenant_a.get("/paygov/v1/")
    text = tenant_a.client.get("/metrics").text
    assert 'gateway_requests_total{api="paygov",method="GET",status="503"}' in text
    assert 'gateway_faults_injected_total{api="paygov",kind="error"}' in text
    assert "gateway_request_duration_seconds_bucket" in text
