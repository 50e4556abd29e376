"""The dossier service as real uvicorn processes.

- Races: two processes on one database (PostgreSQL, read committed; and one SQLite file)
  take 20 parallel calls on one dossier, ten rounds: a creation is stored once and the
  others answer 21, one IdempotencyKey is applied once (24 for the rest), and of two
  competing transitions from one status exactly one is applied (23 for the other).
- The population check between processes that require the gateway's tenant signature:
  it passes when identity confirms, refuses when identity does not know the owner, and
  refuses with code 32 when identity refuses the call or is down (never a silent pass).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dossier.conftest import CCCD, progress, record
from tests.dossier.test_concurrency import one_transition_wins
from tests.support import PostgresDatabases, ServiceProcess, free_port
from vnsandbox.calls import signed_headers

pytestmark = [pytest.mark.multiprocess, pytest.mark.xdist_group("multiprocess")]

RACERS = 20
ROUNDS = 10
SECRET = "processes-test-gateway-secret"
DEV_KEY = {"authorization": "Bearer dvcqg-dev-unit-key"}


# --------------------------------------------------------------------------- races


@pytest.fixture(scope="module", params=["postgres", "sqlite-file"])
def replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServiceProcess]]:
    """Two dossier processes on one database, shared by the module's races (each its own tenant)."""
    tmp_path = tmp_path_factory.mktemp("replicas")
    if request.param == "postgres":
        pg: PostgresDatabases = request.getfixturevalue("postgres")
        url = pg.create("dossier_race")
    else:
        url = f"sqlite:///{tmp_path / 'dossier.db'}"
    env = {"DOSSIER_DATABASE_URL": url, "SANDBOX_DATA_DIR": str(tmp_path), "SANDBOX_LOG_LEVEL": "WARNING"}
    procs: list[ServiceProcess] = []
    try:
        for i in range(2):  # one after the other: the first applies the migrations
            procs.append(ServiceProcess("dossier", tmp_path / f"dossier-{i}.log", env).start())
        yield procs
        assert not any(p.tracebacks() for p in procs), "\n".join(p.tracebacks() for p in procs)
    finally:
        for p in procs:
            p.stop()


class Racers:
    """A tenant's province calling the replicas in turn, ``RACERS`` calls at once."""

    def __init__(self, replicas: list[ServiceProcess]) -> None:
        self.urls = [p.url for p in replicas]
        self.headers = {"x-sandbox-tenant": "t-race-" + uuid.uuid4().hex[:12], **DEV_KEY}

    def call(self, i: int, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.urls[i % len(self.urls)] + "/api/service", json=body, headers=self.headers, timeout=60)

    def race(self, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
        with ThreadPoolExecutor(len(bodies)) as pool:
            return list(pool.map(lambda ib: self.call(*ib), enumerate(bodies)))

    def history(self, code: str) -> list[dict[str, Any]]:
        reply = self.call(0, {"service": "TraCuuHoSo", "MaHoSo": code, "LichSu": True})
        assert reply.status_code == 200, reply.text
        data: dict[str, Any] = reply.json()["data"]
        return data["LichSu"] + [{"kind": "now", "TrangThai": data["TrangThaiHoSo"]}]


def sync(rec: dict[str, Any], updating: bool = False) -> dict[str, Any]:
    return {"service": "DongBoHoSoMC", "isUpdating": "True" if updating else "False", "data": [rec]}


def step(rec: dict[str, Any]) -> dict[str, Any]:
    return {"service": "CapNhatTienDoHoSoMC", "data": [rec]}


def error_codes(replies: list[httpx.Response]) -> list[int]:
    return sorted(r.json()["error_code"] for r in replies)


def test_racing_creations_store_one_dossier_and_answer_already_exists(replicas):
    racers = Racers(replicas)
    for seq in range(1, ROUNDS + 1):
        replies = racers.race([sync(record(seq))] * RACERS)
        assert error_codes(replies) == [0] + [21] * (RACERS - 1), seq
        assert sorted(r.status_code for r in replies) == [200] + [409] * (RACERS - 1)
        assert [e["kind"] for e in racers.history(record(seq)["MaHoSo"])] == ["created", "now"]


def test_one_idempotency_key_posted_in_parallel_is_applied_once(replicas):
    racers = Racers(replicas)
    for seq in range(1, ROUNDS + 1):
        assert racers.call(0, sync(record(seq))).json()["error_code"] == 0
        key = f"step-4-of-{seq}"
        replies = racers.race([step(progress(seq, 4, "20241115090000", IdempotencyKey=key))] * RACERS)
        assert error_codes(replies) == [0] + [24] * (RACERS - 1), seq
        history = racers.history(record(seq)["MaHoSo"])
        assert [(e["kind"], e["TrangThai"]) for e in history] == [("created", 2), ("progress", 4), ("now", 4)]


def test_competing_transitions_from_one_status_apply_exactly_one(replicas):
    racers = Racers(replicas)
    for seq in range(1, ROUNDS + 1):
        assert racers.call(0, sync(record(seq, TrangThaiHoSo=4))).json()["error_code"] == 0
        targets = [9 if i % 2 else 8 for i in range(RACERS)]
        bodies = [step(progress(seq, t, "20241116090000", IdempotencyKey=f"r{seq}-{i}")) for i, t in enumerate(targets)]
        winner = one_transition_wins(targets, racers.race(bodies))
        history = racers.history(record(seq)["MaHoSo"])
        steps = [(e["TrangThaiTruoc"], e["TrangThai"]) for e in history if e["kind"] == "progress"]
        assert steps == [(4, winner)] + [(winner, winner)] * (targets.count(winner) - 1), seq
        assert history[-1]["TrangThai"] == winner


def test_competing_status_updates_from_one_status_apply_exactly_one(replicas):
    racers = Racers(replicas)
    closing = {8: {}, 9: {"NgayKetThucXuLy": "20241116090000"}}
    for seq in range(1, ROUNDS + 1):
        assert racers.call(0, sync(record(seq, TrangThaiHoSo=4))).json()["error_code"] == 0
        code = record(seq)["MaHoSo"]
        targets = [9 if i % 2 else 8 for i in range(RACERS)]
        bodies = [sync({"MaHoSo": code, "TrangThaiHoSo": t, **closing[t]}, updating=True) for t in targets]
        winner = one_transition_wins(targets, racers.race(bodies))
        history = racers.history(code)
        steps = [(e["TrangThaiTruoc"], e["TrangThai"]) for e in history if e["kind"] == "updated"]
        assert steps == [(4, winner)] + [(winner, winner)] * (targets.count(winner) - 1), seq
        assert history[-1]["TrangThai"] == winner


# --------------------------------------------------------------------------- signed population check


def checking_dossier(tmp_path: Path, name: str, identity_url: str, secret: str = SECRET) -> ServiceProcess:
    """A dossier process checking owners against ``identity_url``, accepting only calls
    signed with ``secret`` (and signing its own with it)."""
    return ServiceProcess(
        "dossier",
        tmp_path / f"{name}.log",
        {
            "SANDBOX_DATA_DIR": str(tmp_path),
            "SANDBOX_GATEWAY_SECRET": secret,
            "SANDBOX_REQUIRE_TENANT_SIGNATURE": "true",
            "SANDBOX_LOG_LEVEL": "WARNING",
            "DOSSIER_DATABASE_URL": f"sqlite:///{tmp_path / name}.db",
            "DOSSIER_CHECK_POPULATION": "true",
            "DOSSIER_IDENTITY_URL": identity_url,
        },
    )


@pytest.fixture(scope="module")
def signed_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    """Identity and dossier, both accepting only calls signed with the gateway secret."""
    tmp_path = tmp_path_factory.mktemp("signed")
    identity = ServiceProcess(
        "identity",
        tmp_path / "identity.log",
        {
            "SANDBOX_DATA_DIR": str(tmp_path),
            "SANDBOX_GATEWAY_SECRET": SECRET,
            "SANDBOX_REQUIRE_TENANT_SIGNATURE": "true",
            "SANDBOX_LOG_LEVEL": "WARNING",
            "IDENTITY_DATABASE_URL": f"sqlite:///{tmp_path / 'identity.db'}",
            "IDENTITY_SEED_PEOPLE": "20",
        },
    )
    dossier = checking_dossier(tmp_path, "dossier", identity.url)
    try:
        yield identity.start(), dossier.start()
    finally:
        dossier.stop()
        identity.stop()


def signed(tenant: str, secret: str = SECRET) -> dict[str, str]:
    return {**signed_headers(secret, tenant, uuid.uuid4().hex), **DEV_KEY}


def create_owner(identity: ServiceProcess, tenant: str) -> None:
    person = {"SoDinhDanh": CCCD, "HoVaTen": "Nguyễn Văn An", "NgayThangNamSinh": "19900101", "GioiTinh": "Nam"}
    r = httpx.post(identity.url + "/_sandbox/personas", json=person, headers=signed(tenant))
    assert r.status_code in (201, 409), r.text


def sync_signed(dossier: ServiceProcess, tenant: str, rec: dict[str, Any]) -> httpx.Response:
    return httpx.post(dossier.url + "/api/service", json=sync(rec), headers=signed(tenant), timeout=30)


def test_signed_population_check_accepts_an_owner_identity_confirms(signed_pair):
    identity, dossier = signed_pair
    tenant = "t-pop-" + uuid.uuid4().hex[:10]
    create_owner(identity, tenant)
    r = sync_signed(dossier, tenant, record())
    assert r.json()["error_code"] == 0, r.text


def test_signed_population_check_refuses_an_owner_identity_does_not_know(signed_pair):
    _, dossier = signed_pair
    tenant = "t-pop-" + uuid.uuid4().hex[:10]
    body = sync_signed(dossier, tenant, record(SoGiayToChuHoSo="001190099999")).json()
    assert body["error_code"] == 20, body
    assert [d["rule"] for d in body["details"]] == ["population"]


def test_population_check_refused_by_identity_is_code_32(tmp_path, signed_pair):
    identity, _ = signed_pair
    # A dossier process whose gateway secret identity does not share: identity answers 401.
    stranger = checking_dossier(tmp_path, "stranger", identity.url, secret="another-secret").start()
    try:
        tenant = "t-pop-" + uuid.uuid4().hex[:10]
        create_owner(identity, tenant)
        r = httpx.post(
            stranger.url + "/api/service", json=sync(record()), headers=signed(tenant, "another-secret"), timeout=30
        )
    finally:
        stranger.stop()
    body = r.json()
    assert (r.status_code, body["error_code"]) == (503, 32), body
    assert [(d["rule"], "HTTP 401" in d["message_en"]) for d in body["details"]] == [("population_unavailable", True)]


def test_population_check_with_identity_down_is_code_32(tmp_path):
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    dossier = checking_dossier(tmp_path, "alone", nobody).start()
    try:
        tenant = "t-pop-" + uuid.uuid4().hex[:10]
        r = sync_signed(dossier, tenant, record())
        lookup = httpx.post(
            dossier.url + "/api/service",
            json={"service": "TraCuuHoSo", "MaHoSo": record()["MaHoSo"]},
            headers=signed(tenant),
        )
    finally:
        dossier.stop()
    body = r.json()
    assert (r.status_code, body["error_code"]) == (503, 32), body
    assert [d["rule"] for d in body["details"]] == ["population_unavailable"]
    assert lookup.json()["error_code"] == 22  # nothing was stored


def test_unsigned_direct_call_is_refused_when_signatures_are_required(signed_pair):
    _, dossier = signed_pair
    r = httpx.post(dossier.url + "/api/service", json=sync(record()), headers={"x-sandbox-tenant": "t-x", **DEV_KEY})
    assert r.status_code == 401
