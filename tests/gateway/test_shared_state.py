"""Two gateway replicas on one PostgreSQL database share the journal, the quota buckets and
the fault rules' counters (docs/gateway.md, "Several replicas"); the embedded mode keeps them
in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.app import Gateway
from gateway.config import ConsumerConf, FaultConf
from gateway.faults import FaultEngine
from gateway.journal import GatewayJournal
from gateway.journal_db import DatabaseJournal
from gateway.models import Base
from gateway.quota import LEASE, Buckets, SharedBuckets
from gateway.state import MIGRATIONS
from tests.gateway.conftest import (
    TenantCreds,
    create_tenant,
    expect_error,
    gateway_settings,
    get_token,
    reload_config,
    two_replicas,
)
from tests.support import PostgresDatabases, SandboxProcesses
from vnsandbox.db import Database

pytestmark = pytest.mark.postgres


@pytest.fixture
def pair(
    sandbox: SandboxProcesses, postgres: PostgresDatabases, tmp_path: Path
) -> Iterator[tuple[TestClient, TestClient]]:
    with two_replicas(sandbox, postgres.create("gwshared"), tmp_path, journal_size=5) as replicas:
        yield replicas


def _tenant(pair: tuple[TestClient, TestClient]) -> TenantCreds:
    tenant = create_tenant(pair[0])
    reload_config(pair[1])
    return tenant


def _verify(client: TestClient, tenant: TenantCreds, **query: object) -> int:
    resp = client.post("/_sandbox/journal/verify", json=query, headers=tenant.auth)
    assert resp.status_code == 200, resp.text
    count: int = resp.json()["count"]
    return count


def test_embedded_mode_keeps_journal_and_buckets_in_memory(sandbox: SandboxProcesses, tmp_path: Path) -> None:
    gw = Gateway(gateway_settings(sandbox, f"sqlite:///{tmp_path / 'gw.db'}", tmp_path))
    assert isinstance(gw.state.journal, GatewayJournal) and isinstance(gw.state.buckets, Buckets)
    assert not gw.state.faults.shared


def test_postgres_keeps_journal_buckets_and_fault_counters_in_the_database(pair: tuple[TestClient, TestClient]) -> None:
    gw = pair[0].app
    assert isinstance(gw, Gateway)
    assert isinstance(gw.state.journal, DatabaseJournal) and isinstance(gw.state.buckets, SharedBuckets)
    assert gw.state.faults.shared


def test_calls_relayed_by_either_replica_are_in_the_journal_read_through_both(
    pair: tuple[TestClient, TestClient],
) -> None:
    one, two = pair
    tenant = _tenant(pair)
    assert one.get("/dvcqg/v1/", headers={**tenant.auth, "x-request-id": "via-one"}).status_code == 200
    assert two.get("/dvcqg/v1/", headers={**tenant.auth, "x-request-id": "via-two"}).status_code == 200
    for client in pair:
        assert _verify(client, tenant, path="/dvcqg/v1/", method="GET") == 2
        ids = {e["request_id"] for e in client.get("/_sandbox/journal", headers=tenant.auth).json()["entries"]}
        assert ids == {"via-one", "via-two"}


def test_shared_journal_keeps_the_newest_entries_of_each_tenant(pair: tuple[TestClient, TestClient]) -> None:
    one, two = pair
    tenant = _tenant(pair)
    for i in range(8):
        client = one if i % 2 else two
        assert client.get("/vneid/v1/", headers={**tenant.auth, "x-request-id": f"call-{i}"}).status_code == 200
    entries = one.get("/_sandbox/journal", headers=tenant.auth).json()["entries"]
    assert [e["request_id"] for e in entries] == [f"call-{i}" for i in (7, 6, 5, 4, 3)]


def test_journal_cleared_through_one_replica_is_empty_in_the_other(pair: tuple[TestClient, TestClient]) -> None:
    one, two = pair
    tenant = _tenant(pair)
    assert two.get("/vneid/v1/", headers=tenant.auth).status_code == 200
    assert one.delete("/_sandbox/journal", headers=tenant.auth).json() == {"cleared": 1}
    assert _verify(two, tenant) == 0


def test_shared_journal_never_stores_a_secret(pair: tuple[TestClient, TestClient]) -> None:
    one, two = pair
    tenant = _tenant(pair)
    one.post("/dvcqg/v1/_sandbox/clock", json={"advance_seconds": 0, "password": "s3cr3t-value"}, headers=tenant.auth)
    assert _verify(two, tenant, body_contains="s3cr3t-value") == 0
    assert _verify(two, tenant, body_contains="advance_seconds") == 1


def test_quota_burst_is_shared_by_the_replicas(pair: tuple[TestClient, TestClient]) -> None:
    one, two = pair
    tenant = _tenant(pair)
    creds = tenant.new_consumer(scopes=["vneid"], quota={"rate_per_second": 0.001, "burst": 4})["credentials"]
    reload_config(two)
    headers = {"authorization": f"Bearer {get_token(one, creds['client_id'], creds['client_secret'])}"}
    statuses = [(one if i % 2 else two).get("/vneid/v1/", headers=headers).status_code for i in range(8)]
    assert statuses == [200] * 4 + [429] * 4
    expect_error(one.get("/vneid/v1/", headers=headers), 429, "RATE_LIMITED")


def test_quota_change_starts_the_shared_bucket_full_again(pair: tuple[TestClient, TestClient]) -> None:
    one, two = pair
    tenant = _tenant(pair)
    creds = tenant.new_consumer(scopes=["vneid"], quota={"rate_per_second": 0.001, "burst": 1})["credentials"]
    reload_config(two)
    headers = {"authorization": f"Bearer {get_token(one, creds['client_id'], creds['client_secret'])}"}
    assert [c.get("/vneid/v1/", headers=headers).status_code for c in (one, two)] == [200, 429]
    quota = {"rate_per_second": 0.001, "burst": 2}
    assert (
        one.put(f"/_sandbox/consumers/{creds['client_id']}/quota", json=quota, headers=tenant.auth).status_code == 200
    )
    reload_config(two)
    assert [c.get("/vneid/v1/", headers=headers).status_code for c in (two, one, two)] == [200, 200, 429]


def test_next_n_fault_counts_calls_through_every_replica(pair: tuple[TestClient, TestClient]) -> None:
    one, two = pair
    tenant = _tenant(pair)
    rule = one.post("/_sandbox/faults", json={"kind": "error", "api": "vneid", "next_n": 2}, headers=tenant.auth)
    assert rule.status_code == 201
    reload_config(two)
    assert [c.get("/vneid/v1/", headers=tenant.auth).status_code for c in (one, two, one, two)] == [503, 503, 200, 200]


def test_fired_count_of_a_rule_adds_up_every_replica(pair: tuple[TestClient, TestClient]) -> None:
    one, two = pair
    tenant = _tenant(pair)
    assert one.post("/_sandbox/faults", json={"kind": "error", "api": "vneid"}, headers=tenant.auth).status_code == 201
    reload_config(two)
    for client in (one, two, two):
        assert client.get("/vneid/v1/", headers=tenant.auth).status_code == 503
    assert [r["fired"] for r in one.get("/_sandbox/faults", headers=tenant.auth).json()["rules"]] == [3]


def test_seeded_plan_is_the_same_whichever_replica_relays_each_call(pair: tuple[TestClient, TestClient]) -> None:
    one, two = pair
    tenant = _tenant(pair)

    def plan(clients: list[TestClient]) -> list[int]:
        one.delete("/_sandbox/faults", headers=tenant.auth)
        rule = {"kind": "error", "api": "vneid", "probability": 0.5, "seed": 1234}
        assert one.post("/_sandbox/faults", json=rule, headers=tenant.auth).status_code == 201
        reload_config(two)
        return [clients[i % len(clients)].get("/vneid/v1/", headers=tenant.auth).status_code for i in range(16)]

    alone, alternating = plan([one]), plan([one, two])
    assert alone == alternating
    assert 503 in alone and 200 in alone


def test_shared_journal_deletes_entries_older_than_the_maximum_age(postgres: PostgresDatabases) -> None:
    db = Database(postgres.create("gwage"), [Base.metadata])
    db.migrate(MIGRATIONS, "gateway")
    journal = DatabaseJournal(db, per_tenant=10, max_age_s=60)
    fields = {"consumer": "c", "api": "vneid", "upstream": "identity", "method": "GET", "query": "", "status": 200}
    for rid in ("old", "new"):
        journal.record(tenant="t", request_id=rid, path="/vneid/v1/", duration_ms=1.0, raw_headers=[], **fields)
    journal._queue[0].ts -= 120  # ended two minutes ago
    try:
        assert [e.request_id for e in journal.entries("t")] == ["new"]
    finally:
        db.dispose()


def test_a_nul_in_an_entry_does_not_cost_the_batch_its_other_entries(postgres: PostgresDatabases) -> None:
    db = Database(postgres.create("gwnul"), [Base.metadata])
    db.migrate(MIGRATIONS, "gateway")
    journal = DatabaseJournal(db, per_tenant=10, max_age_s=60)
    fields = {"consumer": "c", "api": "vneid", "upstream": "identity", "method": "GET", "query": "", "status": 200}
    for rid, path in (("with-nul", "/vneid/v1/a\x00b"), ("plain", "/vneid/v1/")):
        journal.record(tenant="t", request_id=rid, path=path, duration_ms=1.0, raw_headers=[], **fields)
    try:
        entries = journal.entries("t")
        assert {e.request_id: e.path for e in entries} == {"with-nul": "/vneid/v1/a\ufffdb", "plain": "/vneid/v1/"}
    finally:
        db.dispose()


UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none"


def test_calls_are_allowed_when_the_shared_buckets_are_unreachable() -> None:
    db = Database(UNREACHABLE, [Base.metadata])
    consumer = ConsumerConf("c-1", "t", "", "", "", frozenset(), rate_per_s=1.0, burst=1)
    buckets = SharedBuckets(db)
    assert buckets.take(consumer) == LEASE
    assert asyncio.run(buckets.lease(consumer)) is None


def test_calls_are_relayed_without_a_fault_when_the_shared_counters_are_unreachable() -> None:
    engine = FaultEngine(5.0, Database(UNREACHABLE, [Base.metadata]))
    rule = FaultConf(1, "t", "error", "*", "*", "*", "*", None, 1.0, 0, {})
    assert asyncio.run(engine.decide((rule,), "vneid", "GET", "/", "c-1")) is None
