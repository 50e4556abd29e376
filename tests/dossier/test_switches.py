"""Scenario switches for the portal's known failures, and the gateway client seam."""

from __future__ import annotations

from tests.dossier.conftest import DEV_UNIT, progress, record, register_unit
from vnsandbox.settings import DEV_GATEWAY_SECRET
from vnsandbox.signing import tenant_assertion


def test_transient_error_share_rejects_exactly_that_share_of_calls(province):
    province.client.put("/_sandbox/switches/sync_transient_error", json={"params": {"share": 0.5}})
    codes = [province.sync(record(i)).json()["error_code"] for i in range(1, 5)]
    assert sorted(codes) == [0, 0, 30, 30]


def test_transient_error_answers_503_and_applies_nothing(province):
    province.client.put("/_sandbox/switches/sync_transient_error", json={"remaining": 1})
    r = province.sync(record())
    assert r.status_code == 503
    assert r.json()["error_code"] == 30
    assert province.lookup(record()["MaHoSo"]).json()["error_code"] == 22
    assert province.sync(record()).json()["error_code"] == 0


def test_timeout_answers_504_and_applies_nothing(province):
    province.client.put("/_sandbox/switches/sync_timeout", json={"params": {"seconds": 0.05}, "remaining": 1})
    r = province.sync(record())
    assert r.status_code == 504
    assert r.json()["error_code"] == 31
    assert province.lookup(record()["MaHoSo"]).json()["error_code"] == 22


def test_slow_answer_still_applies(province):
    province.client.put("/_sandbox/switches/sync_slow", json={"params": {"delay_ms": 50}, "remaining": 1})
    assert province.sync(record()).json()["error_code"] == 0


def test_dropped_update_answers_success_but_shows_in_reconciliation(province):
    province.sync(record(TrangThaiHoSo=2))
    province.client.put("/_sandbox/switches/sync_drop", json={"remaining": 1})
    r = province.progress(progress(1, 4, "20241116080000"))
    assert r.json()["error_code"] == 0
    assert province.status_of(record()["MaHoSo"]) == 2
    report = province.client.get("/api/doisoat", headers={"session": province.token}).json()["data"]
    assert report["status_mismatches"] == [
        {"MaHoSo": record()["MaHoSo"], "TrangThaiTrenCong": 2, "TrangThaiTinhGuiGanNhat": 4}
    ]


def test_session_expires_in_the_middle_of_a_batch(province):
    province.login()
    province.client.put("/_sandbox/switches/session_expiry_mid_batch", json={"params": {"after": 2}})
    body = province.sync([record(i) for i in range(1, 5)]).json()
    assert [i["error_code"] for i in body["data"]] == [0, 0, 12, 12]
    assert province.lookup(record(1)["MaHoSo"]).json()["error_code"] == 12
    province.login()
    assert province.lookup(record(2)["MaHoSo"]).json()["error_code"] == 0
    assert province.lookup(record(3)["MaHoSo"]).json()["error_code"] == 22


def test_switch_scoped_to_another_unit_does_not_apply(province):
    province.client.put("/_sandbox/switches/sync_transient_error", json={"scope": "000.00.02.H22"})
    assert province.sync(record()).json()["error_code"] == 0


def test_gateway_client_acts_for_the_unit_that_names_it(dossier):
    register_unit(dossier, "000.00.02.H22", gateway_client_id="province-h22")
    rid = "req-gw-1"
    headers = {
        "x-request-id": rid,
        "x-sandbox-consumer": "province-h22",
        "x-sandbox-tenant-signature": tenant_assertion(DEV_GATEWAY_SECRET, dossier.tenant, rid, "province-h22"),
    }
    body = {"service": "DongBoHoSoMC", "data": [record(MaHoSo="000.00.02.H22-241115-00001")]}
    assert dossier.post("/api/service", json=body, headers=headers).json()["error_code"] == 0


def test_unsigned_gateway_client_header_is_not_trusted(dossier):
    register_unit(dossier, "000.00.02.H22", gateway_client_id="province-h22")
    headers = {"x-sandbox-consumer": "province-h22", "x-sandbox-tenant-signature": "forged"}
    r = dossier.post("/api/service", json={"service": "TraCuuHoSo", "MaHoSo": "x"}, headers=headers)
    assert r.json()["error_code"] == 11


def test_unknown_switch_name_is_refused(dossier):
    assert dossier.put("/_sandbox/switches/sync_explode", json={}).status_code == 422
    assert DEV_UNIT in dossier.get("/_sandbox/units").text


def gateway_token(tenant: str, client_id: str, exp_in: float = 3600, secret: str = DEV_GATEWAY_SECRET) -> str:
    """A gateway access token minted independently: HS256 with the key the gateway derives."""
    import hashlib
    import hmac
    import time

    import jwt

    key = hmac.new(secret.encode(), b"vnsandbox-gateway-access-token", hashlib.sha256).hexdigest()
    now = int(time.time())
    claims = {"iss": "vnsandbox-gateway", "sub": client_id, "tenant": tenant, "iat": now, "exp": now + int(exp_in)}
    return jwt.encode(claims, key, algorithm="HS256")


def test_gateway_access_token_presented_directly_acts_for_its_unit(dossier):
    register_unit(dossier, "000.00.02.H22", gateway_client_id="province-h22")
    body = {"service": "DongBoHoSoMC", "data": [record(MaHoSo="000.00.02.H22-241115-00001")]}
    auth = {"Authorization": "Bearer " + gateway_token(dossier.tenant, "province-h22")}
    assert dossier.post("/api/service", json=body, headers=auth).json()["error_code"] == 0


def test_gateway_access_token_expires_on_the_test_clock(dossier):
    from tests.dossier.conftest import advance

    register_unit(dossier, "000.00.02.H22", gateway_client_id="province-h22")
    auth = {"Authorization": "Bearer " + gateway_token(dossier.tenant, "province-h22", exp_in=60)}
    advance(dossier, 120)
    r = dossier.post("/api/service", json={"service": "TraCuuHoSo", "MaHoSo": "x"}, headers=auth)
    assert r.status_code == 401
    assert r.json()["error_code"] == 18


def test_gateway_access_token_with_a_wrong_signature_or_tenant_is_refused(dossier):
    register_unit(dossier, "000.00.02.H22", gateway_client_id="province-h22")
    for token in (
        gateway_token(dossier.tenant, "province-h22", secret="another-secret"),
        gateway_token("t-someone-else", "province-h22"),
    ):
        r = dossier.post(
            "/api/service", json={"service": "TraCuuHoSo", "MaHoSo": "x"}, headers={"Authorization": "Bearer " + token}
        )
        assert r.json()["error_code"] == 16
