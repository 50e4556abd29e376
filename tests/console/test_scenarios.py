"""The training scenarios' data: every step's action is one the presenter knows, the records the
province sends pass DVCQG's own validation, the operator's actions reuse the fault toggles and
the test clock, and the portal reads a dossier's payment attempts and VNeID's outages."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from console.gateway import GatewayClient, Operator
from console.operator import advance_clock, set_preset
from console.portal import LOGIN_ERRORS, VNEID_UNAVAILABLE, payment_attempts, vneid_down
from console.scenario import (
    OPERATOR_ACTIONS,
    OVERDUE,
    PAYMENT_RETRY,
    SCENARIOS,
    UNIT,
    VNEID_OUTAGE,
    WITHOUT_DOSSIER,
    Step,
    apology,
    on_time_history,
    province_calls,
    step_link,
    wire,
)
from console.toggles import BY_NAME
from services.dossier.records import check_dossier, check_progress
from vnsandbox.vn import cccd

NOW = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)  # 08:30 in Vietnam
CODE = f"{UNIT}-260301-90001"


@pytest.mark.parametrize("scenario", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_every_step_is_one_the_presenter_can_do(scenario: Any) -> None:
    assert scenario.name in SCENARIOS and len(scenario.steps) >= 5
    for step in scenario.steps:
        assert step.vi and step.en and step.who in ("citizen", "province", "operator")
        if step.who == "citizen":
            assert step.link.startswith("cong-dan/") and not step.action
        if step.action in OPERATOR_ACTIONS:
            assert step.who == "operator"
        elif step.action:
            assert step.who == "province"
            assert province_calls(step.action, CODE, NOW, "http://gw/kq"), step.action


def test_an_unknown_province_action_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown province action"):
        province_calls("close_everything", CODE, NOW)


def test_the_operator_actions_are_the_fault_toggles_and_the_test_clock() -> None:
    down, back = OPERATOR_ACTIONS["vneid_down"], OPERATOR_ACTIONS["vneid_back"]
    assert BY_NAME[down.preset].build() == {
        "kind": "error",
        "api": "vneid",
        "params": {"status": 503},
        "probability": 1.0,
    }
    assert (down.preset, down.on, back.preset, back.on) == ("vneid-down", True, "vneid-down", False)
    assert OPERATOR_ACTIONS["two_days_later"].advance_s == 2 * 86400
    assert [s.action for s in VNEID_OUTAGE.steps if s.action] == ["vneid_down", "vneid_back"]
    assert "two_days_later" in [s.action for s in OVERDUE.steps]


def test_the_history_the_province_synced_last_week_is_valid_and_on_time() -> None:
    calls = province_calls("seed_on_time_history", "", NOW, "http://gw/kq")
    assert "seed_on_time_history" in WITHOUT_DOSSIER
    assert [c.service for c in calls] == ["DongBoHoSoMC"] * 3
    assert all(c.body()["isUpdating"] == "False" and 409 in c.ok for c in calls)
    records = [c.record for c in calls]
    assert [r["MaHoSo"] for r in records] == [f"{UNIT}-260222-10001", f"{UNIT}-260223-10002", f"{UNIT}-260224-10003"]
    for r in records:
        checked = check_dossier(r, frozenset({UNIT}), "strict")
        assert checked.problems == [], checked.problems
        assert cccd.is_valid(r["SoGiayToChuHoSo"])
        assert r["TrangThaiHoSo"] == 10 and r["NgayKetThucXuLy"] <= r["NgayHenTra"] <= wire(NOW)
        assert r["DanhSachGiayToKetQua"][0]["DuongDanTepTinKetQua"] == "http://gw/kq"
    assert "DanhSachGiayToKetQua" not in on_time_history(NOW)[0]


def test_the_province_receives_with_a_one_day_appointment_and_starts_processing() -> None:
    calls = province_calls("receive_and_process", CODE, NOW)
    assert [(c.service, c.record["TrangThaiHoSo"]) for c in calls] == [("DongBoHoSoMC", 2), ("DongBoHoSoMC", 4)]
    assert calls[0].record["NgayTiepNhan"] == "20260301083000"
    assert calls[0].record["NgayHenTra"] == "20260302083000"
    assert all(c.body()["isUpdating"] == "True" and 409 not in c.ok for c in calls)


def test_the_apology_is_a_progress_record_with_a_new_date_that_leaves_ngayhentra_alone() -> None:
    [call] = province_calls("apologise_and_extend", CODE, NOW)
    assert call.service == "CapNhatTienDoHoSoMC" and "isUpdating" not in call.body()
    record = call.record
    assert record == apology(CODE, NOW)
    assert check_progress(record).problems == []
    assert record["TrangThai"] == 4 and "NgayHenTra" not in record
    assert record["NgayKetThucTheoQuyDinh"] == wire(NOW + timedelta(days=1))
    assert record["NoiDungXuLy"].startswith("Phiếu xin lỗi và hẹn lại ngày trả kết quả")
    assert "02/03/2026 08:30" in record["NoiDungXuLy"]
    assert record["IdempotencyKey"] == f"{CODE}-phieu-xin-loi"  # sent twice, applied once (code 24)


def test_a_step_linking_the_current_dossier_falls_back_to_the_portal_without_one() -> None:
    step = next(s for s in PAYMENT_RETRY.steps if "{MaHoSo}" in s.link)
    assert step_link(step, CODE) == f"cong-dan/ho-so/{CODE}"
    assert step_link(step, None) == "cong-dan/"
    assert step_link(Step("operator", "x", "x", link="chi-so"), CODE) == "chi-so"


def test_a_dossiers_payment_attempts_are_its_own_newest_first_with_failures_marked() -> None:
    payments = [
        {"MaHoSo": CODE, "ThoiGianKhoiTao": "20260301083000", "TrangThaiGD": 4, "MaLoi": "51"},
        {"MaHoSo": "other", "ThoiGianKhoiTao": "20260301084000", "TrangThaiGD": 1, "MaLoi": "00"},
        {"MaHoSo": CODE, "ThoiGianKhoiTao": "20260301083500", "TrangThaiGD": 1, "MaLoi": "00"},
        {"MaHoSo": CODE, "ThoiGianKhoiTao": "20260301083600", "TrangThaiGD": 3, "MaLoi": None},
    ]
    attempts = payment_attempts(payments, CODE)
    assert [(a["MaLoi"], a["failed"]) for a in attempts] == [(None, False), ("00", False), ("51", True)]
    assert payment_attempts(payments, "none") == []


def test_the_portal_tells_an_outage_of_vneid_from_a_refused_login() -> None:
    assert vneid_down(503) and vneid_down(502) and vneid_down(429)
    assert not vneid_down(400) and not vneid_down(401)
    assert LOGIN_ERRORS["temporarily_unavailable"] == VNEID_UNAVAILABLE
    assert "thử lại" in VNEID_UNAVAILABLE[0] and "try again" in VNEID_UNAVAILABLE[1]


class FakeGateway:
    """The gateway's fault and clock endpoints, in memory, behind an httpx mock transport."""

    def __init__(self, rules: list[dict[str, Any]]) -> None:
        self.rules = rules
        self.calls: list[tuple[str, str]] = []
        self.advanced = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        assert request.headers["X-Sandbox-Tenant"] == "t-1"
        if request.url.path == "/_sandbox/faults" and request.method == "GET":
            return httpx.Response(200, json={"rules": self.rules})
        if request.url.path == "/_sandbox/faults" and request.method == "POST":
            rule = json.loads(request.content) | {"id": len(self.rules) + 10}
            self.rules.append(rule)
            return httpx.Response(201, json=rule)
        if request.method == "DELETE":
            rule_id = request.url.path.rsplit("/", 1)[1]
            self.rules = [r for r in self.rules if str(r["id"]) != rule_id]
            return httpx.Response(204)
        if request.url.path == "/_sandbox/clock":
            self.advanced += json.loads(request.content)["advance_seconds"]
            return httpx.Response(200, json={"offset_seconds": self.advanced})
        return httpx.Response(404, json={"message": "no"})


def _run(fake: FakeGateway, *steps: Any) -> None:
    async def go() -> None:
        gw = GatewayClient("http://gw", 5, transport=httpx.MockTransport(fake.handle))
        try:
            for step in steps:
                await step(gw, Operator("t-1"))
        finally:
            await gw.close()

    asyncio.run(go())


def test_turning_a_fault_on_twice_leaves_one_rule_and_off_removes_every_rule_of_its_shape() -> None:
    other = {"id": 1, "kind": "latency", "api": "paygov", "params": {"ms": 5000}}
    fake = FakeGateway([other])
    preset = BY_NAME["vneid-down"]
    _run(fake, lambda gw, op: set_preset(gw, op, preset, True), lambda gw, op: set_preset(gw, op, preset, True))
    assert [r["api"] for r in fake.rules] == ["paygov", "vneid"]
    fake.rules.append({"id": 20, "kind": "error", "api": "vneid", "params": {"status": 503}})
    _run(fake, lambda gw, op: set_preset(gw, op, preset, False))
    assert fake.rules == [other]


def test_the_clock_step_moves_the_tenants_test_clock_forward() -> None:
    fake = FakeGateway([])
    _run(fake, lambda gw, op: advance_clock(gw, op, OPERATOR_ACTIONS["two_days_later"].advance_s))
    assert fake.advanced == 172800 and fake.calls == [("POST", "/_sandbox/clock")]
