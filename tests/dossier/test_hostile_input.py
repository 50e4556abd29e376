"""Hostile input on the DVCQG sync API: answered in its own envelope (numeric codes), never a 500."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.dossier.conftest import DEV_UNIT, Province
from tests.support import TenantClient

HUGE = [2**63, -(2**63) - 1, 10**30]


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


@pytest.mark.parametrize("depth", [1000, 100_000])
@pytest.mark.parametrize("path", ["/api/login", "/api/service", "/api/TraCuuHoSo"])
@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_deep_json_is_code_1_and_journalled(
    dossier: TenantClient, caplog: pytest.LogCaptureFixture, depth: int, path: str, content_type: str
) -> None:
    caplog.set_level(logging.INFO)
    body = b'{"service": "TraCuuHoSo", "data": ' + b"[" * depth + b"]" * depth + b"}"
    resp = dossier.post(path, content=body, headers={"content-type": content_type, "MaDonVi": DEV_UNIT})
    assert resp.status_code == 400, resp.text
    reply = resp.json()
    assert reply["error_code"] == 1
    assert reply["message"] == "Nội dung JSON lồng nhau sâu quá 64 cấp"
    assert reply["details"][0]["rule"] == "max_depth"
    journal = dossier.get("/_sandbox/journal", params={"request_id": resp.headers["x-request-id"]}).json()
    assert [e["status"] for e in journal["entries"]] == [400]
    assert_no_traceback(caplog)


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize("field", ["offset", "limit", "TrangThaiHoSo"])
def test_tracuuhoso_refuses_out_of_range_integers_naming_the_field(
    province: Province, caplog: pytest.LogCaptureFixture, field: str, value: int
) -> None:
    caplog.set_level(logging.INFO)
    call: dict[str, Any] = {"service": "TraCuuHoSo", "MaDonVi": DEV_UNIT}
    call[field] = [value] if field == "TrangThaiHoSo" else value
    resp = province.call(call)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error_code"] == 20
    assert [d["field"] for d in resp.json()["details"]] == [field]
    assert_no_traceback(caplog)


@pytest.mark.parametrize("value", [0, 11, "7x"])
def test_tracuuhoso_refuses_statuses_outside_1_to_10(province: Province, value: Any) -> None:
    resp = province.call({"service": "TraCuuHoSo", "TrangThaiHoSo": [4, value]})
    assert (resp.status_code, resp.json()["error_code"]) == (422, 20)


def test_tracuuhoso_cuts_a_large_limit_to_one_page(province: Province) -> None:
    resp = province.call({"service": "TraCuuHoSo", "limit": 10**9, "offset": 10**9})
    assert (resp.status_code, resp.json()["error_code"], resp.json()["data"]) == (200, 0, [])


@pytest.mark.parametrize("value", HUGE)
def test_polling_refuses_an_out_of_range_limit(province: Province, value: int) -> None:
    resp = province.call({"service": "LayHoSoTuCongDVCQG", "limit": value})
    assert (resp.status_code, resp.json()["error_code"]) == (422, 20)
    assert resp.json()["details"][0]["field"] == "limit"


@pytest.mark.parametrize("value", HUGE)
def test_payment_event_amount_beyond_range_is_refused(dossier: TenantClient, value: int) -> None:
    event = {"MaHoSo": f"{DEV_UNIT}-241115-00001", "MaGiaoDich": "GD1", "SoTien": value, "TrangThaiGD": 1}
    resp = dossier.post("/_sandbox/payment-events", json=event)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["error_code"] == 20
