"""A shared sandbox scaled out: two gateway processes and two processes of each service on
one PostgreSQL server, each group behind a round-robin balancer (tests/balancer.py), as a
Kubernetes Service would spread them (deploy/k8s). Every client call opens a new
connection, so consecutive calls alternate between the replicas. What must hold
(docs/gateway.md, "Several replicas"):

- ``journal verify`` gives the same count whichever gateway answers;
- a consumer's quota is enforced at its configured total rate, not once per replica;
- the outbox delivers each event once although two processes of the service poll it;
- a seeded fault plan is the same whichever gateway relays each call.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.balancer import Balancer
from tests.dossier.conftest import DEV_UNIT, citizen_filing
from tests.receiver import Receiver
from tests.support import PostgresDatabases, ServiceProcess, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.multiprocess, pytest.mark.xdist_group("multiprocess")]

ADMIN_KEY = "scaleout-admin-key-0123456789"
#: Seconds between configuration reloads of each gateway (a change converges within it).
REFRESH_S = 0.2
#: Quota leases (GATEWAY_QUOTA_LEASE_S, the default).
LEASE_S = 0.1
#: How long the rate test keeps calling (the bound it checks scales with the time it took).
WINDOW_S = 2.0


@dataclass
class Cluster:
    gateways: list[ServiceProcess]
    balancers: dict[str, Balancer]

    @property
    def url(self) -> str:
        return self.balancers["gateway"].url


@pytest.fixture(scope="module")
def cluster(postgres: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("scaleout")
    balancers: dict[str, Balancer] = {}
    procs: list[ServiceProcess] = []
    common = {"SANDBOX_DATA_DIR": str(tmp), "SANDBOX_LOG_LEVEL": "WARNING"}
    # Ports first: each group's balancer must be known before the processes that call it.
    plan = {
        "identity": {"IDENTITY_DATABASE_URL": postgres.create("so_identity")},
        "payment": {"PAYMENT_DATABASE_URL": postgres.create("so_payment")},
        "dossier": {"DOSSIER_DATABASE_URL": postgres.create("so_dossier")},
    }
    groups = {n: [ServiceProcess(n, tmp / f"{n}-{i}.log") for i in range(2)] for n in (*plan, "gateway")}
    for name, group in groups.items():
        balancers[name] = Balancer([p.port for p in group]).start()
    plan["payment"]["PAYMENT_DOSSIER_URL"] = balancers["dossier"].url
    plan["dossier"] |= {
        "DOSSIER_IDENTITY_URL": balancers["identity"].url,
        "DOSSIER_PAYMENT_URL": balancers["payment"].url,
    }
    gateway_env = {
        "GATEWAY_DATABASE_URL": postgres.create("so_gateway"),
        "GATEWAY_REQUIRE_AUTH": "true",
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_CONFIG_REFRESH_S": str(REFRESH_S),
        **{f"GATEWAY_{n.upper()}_URL": balancers[n].url for n in plan},
    }
    for name, env in plan.items():
        for proc in groups[name]:
            proc.env = common | env
    for proc in groups["gateway"]:
        proc.env, proc.factory = common | gateway_env, "gateway.app:create_app"
    try:
        # The first of each group alone on its database (it applies the migrations), then the others.
        for wave in ([g[0] for g in groups.values()], [g[1] for g in groups.values()]):
            with ThreadPoolExecutor(len(wave)) as pool:
                futures = [pool.submit(p.start) for p in wave]
            procs.extend(wave)
            for future in futures:
                future.result()
        yield Cluster(groups["gateway"], balancers)
        assert not any(p.tracebacks() for p in procs), "\n".join(p.tracebacks() for p in procs)
    finally:
        for p in procs:
            p.stop()
        for b in balancers.values():
            b.stop()


def _client(base: str, **headers: str) -> httpx.Client:
    """A client that opens a new connection for every call (so the balancer alternates)."""
    return httpx.Client(base_url=base, headers=headers, timeout=30, limits=httpx.Limits(max_keepalive_connections=0))


def _generation(gateway: ServiceProcess) -> float:
    text = httpx.get(gateway.url + "/metrics", timeout=30).text
    m = re.search(r"^gateway_config_generation (\S+)$", text, re.M)
    assert m is not None
    return float(m.group(1))


def converge(cluster: Cluster) -> None:
    """Wait until every gateway reloaded its configuration twice since now (so it has the latest)."""
    start = {g.url: _generation(g) for g in cluster.gateways}
    wait_for(lambda: all(_generation(g) >= start[g.url] + 2 for g in cluster.gateways), 60, "configuration reloads")


@dataclass
class Tenant:
    tenant: str
    client_id: str
    client_secret: str
    http: httpx.Client

    def token_client(self, base: str, client_id: str = "", secret: str = "") -> httpx.Client:
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id or self.client_id,
            "client_secret": secret or self.client_secret,
        }
        token = httpx.post(base + "/oauth2/token", data=form, timeout=30).json()["access_token"]
        return _client(base, authorization=f"Bearer {token}")


@pytest.fixture
def tenant(cluster: Cluster) -> Iterator[Tenant]:
    created = httpx.post(cluster.url + "/_sandbox/tenants", json={}, headers={"x-sandbox-admin-key": ADMIN_KEY})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    creds = body["consumer"]["credentials"]
    converge(cluster)
    t = Tenant(body["tenant"], creds["client_id"], creds["client_secret"], httpx.Client())
    t.http = t.token_client(cluster.url)
    with t.http:
        yield t


def test_journal_verify_gives_the_same_count_whichever_gateway_answers(cluster: Cluster, tenant: Tenant) -> None:
    marker = uuid.uuid4().hex
    for i in range(6):
        assert tenant.http.get("/vneid/v1/", headers={"x-request-id": f"{marker}-{i}"}).status_code == 200
    query = {"method": "GET", "path": "/vneid/v1/", "expected": 6}
    through_balancer = [tenant.http.post("/_sandbox/journal/verify", json=query).json() for _ in range(4)]
    direct = []
    for gateway in cluster.gateways:
        with tenant.token_client(gateway.url) as client:
            direct.append(client.post("/_sandbox/journal/verify", json=query).json())
    assert [r["count"] for r in through_balancer + direct] == [6] * 6
    assert all(r["ok"] for r in through_balancer + direct)


def test_quota_burst_is_the_configured_total_not_one_per_gateway(cluster: Cluster, tenant: Tenant) -> None:
    made = tenant.http.post(
        "/_sandbox/consumers", json={"scopes": ["vneid"], "quota": {"rate_per_second": 0.001, "burst": 6}}
    )
    creds = made.json()["credentials"]
    converge(cluster)
    # The refill over the test (0.001/s) stays below one token: exactly the burst passes.
    with tenant.token_client(cluster.url, creds["client_id"], creds["client_secret"]) as client:
        statuses = [client.get("/vneid/v1/").status_code for _ in range(20)]
    assert statuses == [200] * 6 + [429] * 14


def test_quota_rate_is_the_configured_total_within_the_lease_tolerance(cluster: Cluster, tenant: Tenant) -> None:
    rate, burst = 4.0, 2
    made = tenant.http.post(
        "/_sandbox/consumers", json={"scopes": ["vneid"], "quota": {"rate_per_second": rate, "burst": burst}}
    )
    creds = made.json()["credentials"]
    converge(cluster)
    with tenant.token_client(cluster.url, creds["client_id"], creds["client_secret"]) as client:
        statuses: list[int] = []
        started = time.monotonic()
        while time.monotonic() - started < WINDOW_S:  # calls one after the other, for the window
            statuses.append(client.get("/vneid/v1/").status_code)
        elapsed = time.monotonic() - started
    admitted = statuses.count(200)
    # docs/gateway.md: at most burst + rate × (elapsed + lease) together, however many replicas.
    assert admitted <= burst + rate * (elapsed + LEASE_S) + 1
    assert admitted >= burst and set(statuses) == {200, 429}


def test_outbox_delivers_each_event_once_with_two_processes_polling(cluster: Cluster, tenant: Tenant) -> None:
    receiver = Receiver()
    try:
        assert tenant.http.patch(f"/dvcqg/v1/_sandbox/units/{DEV_UNIT}", json={"webhook_url": receiver.url}).is_success
        codes = set()
        for _ in range(10):
            filed = tenant.http.post("/dvcqg/v1/_sandbox/citizen-dossiers", json=citizen_filing())
            assert filed.status_code == 200, filed.text
            codes.add(filed.json()["data"]["MaHoSo"])

        def all_delivered() -> bool:
            rows = tenant.http.get("/_sandbox/deliveries", params={"limit": 100}).json()["deliveries"]
            return len(rows) == 10 and all(r["status"] == "delivered" for r in rows)

        wait_for(all_delivered, 60, "every delivery")
        ids = [r.headers["x-sandbox-delivery-id"] for r in receiver.received]
        assert len(ids) == len(set(ids)) == 10
        assert {r.json()["MaHoSo"] for r in receiver.received} == codes
    finally:
        receiver.close()


def test_seeded_fault_plan_is_the_same_through_the_balancer_and_through_one_gateway(
    cluster: Cluster, tenant: Tenant
) -> None:
    def plan(client: httpx.Client) -> list[int]:
        tenant.http.delete("/_sandbox/faults")
        rule = {"kind": "error", "api": "vneid", "probability": 0.5, "seed": 2024}
        assert tenant.http.post("/_sandbox/faults", json=rule).status_code == 201
        converge(cluster)
        return [client.get("/vneid/v1/").status_code for _ in range(16)]

    spread = plan(tenant.http)
    with tenant.token_client(cluster.gateways[1].url) as one_gateway:
        alone = plan(one_gateway)
    assert spread == alone
    assert 503 in spread and 200 in spread
