"""TraCuuHoSo of one dossier answers the same whichever way it is read: by a unit's API key
(on PostgreSQL one statement from the event loop, before any routing) or through the full
unit of work (a session, the service named in the path, the history asked for)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dossier.conftest import DEV_UNIT, Province, record, register_unit
from tests.support import TenantClient

SUB_UNIT = "000.01.01.H22"
OTHER_UNIT = "000.00.09.H22"
CODE = f"{DEV_UNIT}-241115-00001"
KEY = {"Authorization": "Bearer dvcqg-dev-unit-key"}


def filed(dossier: TenantClient, code: str = CODE, headers: dict[str, str] = KEY) -> None:
    r = dossier.post(
        "/api/service",
        json={"service": "DongBoHoSoMC", "isUpdating": "False", "data": [record(MaHoSo=code)]},
        headers=headers,
    )
    assert r.json()["error_code"] == 0, r.text


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


def test_by_api_key_by_session_and_by_path_the_reply_is_the_same(dossier):
    filed(dossier)
    by_key = dossier.post("/api/service", json={"service": "TraCuuHoSo", "MaHoSo": CODE}, headers=KEY)
    by_path = dossier.post("/api/TraCuuHoSo", json={"MaHoSo": CODE}, headers=KEY)
    by_session = Province(dossier).lookup(CODE)
    assert by_key.status_code == by_path.status_code == by_session.status_code == 200
    assert by_key.headers["content-type"] == by_session.headers["content-type"] == "application/json"
    assert by_key.json()["request_id"] == by_key.headers["x-request-id"]
    assert without_request_id(by_key.json()) == without_request_id(by_session.json())
    assert without_request_id(by_path.json()) == without_request_id(by_session.json())
    assert by_key.json()["data"]["MaHoSo"] == CODE and by_key.json()["data"]["TenTrangThaiHoSo"]


def test_with_its_history_the_lookup_by_api_key_lists_the_events(dossier):
    filed(dossier)
    r = dossier.post("/api/service", json={"service": "TraCuuHoSo", "MaHoSo": CODE, "LichSu": True}, headers=KEY)
    assert r.status_code == 200 and isinstance(r.json()["data"]["LichSu"], list) and r.json()["data"]["LichSu"]


def test_by_api_key_an_unknown_dossier_is_code_22_and_a_foreign_one_code_17(dossier):
    sub = register_unit(dossier, SUB_UNIT, MaDonViCha=DEV_UNIT, api_key="sub-unit-key")
    filed(dossier)
    missing = dossier.post("/api/service", json={"service": "TraCuuHoSo", "MaHoSo": CODE + "9"}, headers=KEY)
    assert missing.status_code == 404 and missing.json()["error_code"] == 22
    foreign = dossier.post(
        "/api/service",
        json={"service": "TraCuuHoSo", "MaHoSo": CODE},
        headers={"Authorization": f"Bearer {sub['api_key']}"},
    )
    assert foreign.status_code == 403 and foreign.json()["error_code"] == 17


def test_a_bearer_that_is_no_units_key_is_tried_as_a_session(dossier):
    filed(dossier)
    p = Province(dossier)
    assert p.login().status_code == 200
    r = dossier.post(
        "/api/service", json={"service": "TraCuuHoSo", "MaHoSo": CODE}, headers={"Authorization": f"Bearer {p.token}"}
    )
    assert r.status_code == 200 and r.json()["data"]["MaHoSo"] == CODE
    wrong = dossier.post(
        "/api/service", json={"service": "TraCuuHoSo", "MaHoSo": CODE}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401 and wrong.json()["error_code"] == 16


def test_a_unit_with_another_key_reads_only_its_own(dossier):
    other = register_unit(dossier, OTHER_UNIT, api_key="other-unit-key")
    code = f"{OTHER_UNIT}-241115-00001"
    filed(dossier, code, {"Authorization": f"Bearer {other['api_key']}"})
    mine = dossier.post(
        "/api/service",
        json={"service": "TraCuuHoSo", "MaHoSo": code},
        headers={"Authorization": f"Bearer {other['api_key']}"},
    )
    assert mine.status_code == 200 and mine.json()["data"]["MaHoSo"] == code
    theirs = dossier.post("/api/service", json={"service": "TraCuuHoSo", "MaHoSo": code}, headers=KEY)
    assert theirs.status_code == 403 and theirs.json()["error_code"] == 17


@pytest.mark.parametrize("code", ["abc\x00", "\x00"])
def test_a_code_with_nul_is_no_dossier(dossier, code):
    filed(dossier)
    r = dossier.post("/api/service", json={"service": "TraCuuHoSo", "MaHoSo": code}, headers=KEY)
    assert r.status_code == 404 and r.json()["error_code"] == 22


def test_another_tenant_does_not_see_the_dossier(dossier):
    filed(dossier)
    other = TenantClient(dossier.client, dossier.tenant + "-b")
    r = other.post("/api/service", json={"service": "TraCuuHoSo", "MaHoSo": CODE}, headers=KEY)
    assert r.status_code == 404 and r.json()["error_code"] == 22
