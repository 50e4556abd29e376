"""Session login, session expiry and the other ways a province authenticates."""

from __future__ import annotations

import json

import pytest

from services.dossier import service
from services.dossier.schemas import SERVICES
from tests.dossier.conftest import DEV_UNIT, Province, advance, record, register_unit


def test_login_returns_a_session_with_expiry(dossier):
    r = dossier.post("/api/login", json={"username": "sandbox", "password": "sandbox"}, headers={"MaDonVi": DEV_UNIT})
    assert r.status_code == 200
    body = r.json()
    assert body["error_code"] == 0
    assert len(body["session"]) >= 32
    assert len(body["expiry"]) == 14 and body["expires_in"] == 1800


def test_wrong_password_is_code_10(dossier):
    r = dossier.post("/api/login", json={"username": "sandbox", "password": "nope"}, headers={"MaDonVi": DEV_UNIT})
    assert r.status_code == 401
    assert r.json()["error_code"] == 10


def test_login_without_unit_header_is_code_14(dossier):
    r = dossier.post("/api/login", json={"username": "sandbox", "password": "sandbox"})
    assert r.status_code == 400
    assert r.json()["error_code"] == 14


def test_login_for_unregistered_unit_is_code_14(dossier):
    creds = {"username": "sandbox", "password": "sandbox"}
    r = dossier.post("/api/login", json=creds, headers={"MaDonVi": "999.99.99.H99"})
    assert r.json()["error_code"] == 14


def test_account_of_another_unit_is_code_15(dossier):
    register_unit(dossier, "000.00.02.H22")
    creds = {"username": "sandbox", "password": "sandbox"}
    r = dossier.post("/api/login", json=creds, headers={"MaDonVi": "000.00.02.H22"})
    assert r.status_code == 401
    assert r.json()["error_code"] == 15


def test_session_expires_on_the_test_clock(dossier):
    p = Province(dossier)
    assert p.login().status_code == 200
    assert p.lookup("x").json()["error_code"] != 12
    advance(dossier, 1801)
    r = p.lookup("x")
    assert r.status_code == 401
    assert r.json()["error_code"] == 12


def test_unknown_session_is_code_13(dossier):
    r = dossier.post("/api/service", json={"service": "TraCuuHoSo", "MaHoSo": "x"}, headers={"session": "nope"})
    assert r.status_code == 401
    assert r.json()["error_code"] == 13


def test_call_without_credentials_is_code_11(dossier):
    r = dossier.post("/api/service", json={"service": "TraCuuHoSo", "MaHoSo": "x"})
    assert r.status_code == 401
    assert r.json()["error_code"] == 11


def test_unit_api_key_is_accepted_as_bearer_token(dossier):
    body = {"service": "DongBoHoSoMC", "isUpdating": "False", "data": [record()]}
    r = dossier.post("/api/service", json=body, headers={"Authorization": "Bearer dvcqg-dev-unit-key"})
    assert r.status_code == 200, r.text
    assert r.json()["error_code"] == 0


def test_invalid_bearer_token_is_code_16(dossier):
    body = {"service": "TraCuuHoSo", "MaHoSo": "x"}
    r = dossier.post("/api/service", json=body, headers={"Authorization": "Bearer zz"})
    assert r.status_code == 401
    assert r.json()["error_code"] == 16


def test_session_of_one_tenant_is_unknown_in_another(dossier, service_clients):
    from tests.support import TenantClient, new_tenant

    p = Province(dossier)
    p.login()
    other = TenantClient(service_clients["dossier"], new_tenant())
    r = other.post("/api/service", json={"service": "TraCuuHoSo", "MaHoSo": "x"}, headers={"session": p.token})
    assert r.json()["error_code"] == 13


def test_malformed_json_is_code_1(dossier):
    r = dossier.post("/api/service", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error_code"] == 1


def test_unknown_service_is_code_2(province):
    r = province.call({"service": "XoaHoSo", "data": []})
    assert r.status_code == 400
    assert r.json()["error_code"] == 2


def test_every_service_the_index_names_has_a_handler_and_no_other():
    assert tuple(service.HANDLERS) == SERVICES


def test_batch_over_the_maximum_is_code_26_and_nothing_is_stored(province):
    r = province.sync([record(i) for i in range(1, 502)])
    assert r.status_code == 413
    assert r.json()["error_code"] == 26
    assert province.lookup(record(1)["MaHoSo"]).json()["error_code"] == 22


def test_registered_unit_logs_in_with_its_own_account(dossier):
    register_unit(dossier, "000.00.02.H22")
    p = Province(dossier, "000.00.02.H22", "u-000.00.02.H22", "pw-000.00.02.H22")
    assert p.login().json()["error_code"] == 0


def test_registering_an_existing_unit_is_code_21(dossier):
    register_unit(dossier, "000.00.02.H22")
    r = dossier.post("/_sandbox/units", json={"MaDonVi": "000.00.02.H22", "username": "x", "password": "y"})
    assert r.status_code == 409
    assert r.json()["error_code"] == 21


def test_journal_keeps_no_password_or_session_token(dossier):
    p = Province(dossier)
    p.login()
    entry = dossier.get("/_sandbox/journal", params={"path": "/api/login"}).json()["entries"][0]
    assert json.loads(entry["request_body"])["password"] == "***"
    assert json.loads(entry["response_body"])["session"] == "***"
    assert p.token not in entry["response_body"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"data": []}, id="service missing"),
        pytest.param({"service": 7, "data": []}, id="service not a string"),
        pytest.param({"service": "DongBoHoSoMC", "data": "x"}, id="data a string"),
        pytest.param({"service": "DongBoHoSoMC", "isUpdating": "maybe", "data": []}, id="isUpdating not a flag"),
    ],
)
def test_call_of_the_wrong_shape_is_code_1(province, body):
    r = province.call(body)
    assert (r.status_code, r.json()["error_code"]) == (400, 1), r.text
    assert r.json()["details"]


def test_login_without_password_is_code_1(dossier):
    r = dossier.post("/api/login", json={"username": "sandbox"}, headers={"MaDonVi": DEV_UNIT})
    assert (r.status_code, r.json()["error_code"]) == (400, 1), r.text
    assert [d["field"] for d in r.json()["details"]] == ["password"]


def test_body_that_is_not_an_object_is_code_1(dossier):
    r = dossier.post("/api/service", json=["DongBoHoSoMC"])
    assert (r.status_code, r.json()["error_code"]) == (400, 1), r.text


def test_a_post_to_a_fixed_api_route_that_only_reads_is_a_405_not_a_service_call(dossier) -> None:  # type: ignore[no-untyped-def]
    reply = dossier.post("/api/tthc", json={"service": "TraCuuHoSo"})
    assert reply.status_code == 405
    assert reply.headers["allow"] == "GET"


def test_the_fixed_api_names_are_exactly_the_fixed_routes_under_api() -> None:
    from services.dossier.router import FIXED_API_NAMES, router

    fixed = {r.path.split("/")[2] for r in router.routes if r.path.startswith("/api/") and "{" not in r.path}
    assert fixed == set(FIXED_API_NAMES)
