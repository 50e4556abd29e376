"""CapNhatTienDoHoSoMC: progress records drive TrangThaiHoSo through the state machine;
replays are applied once, out-of-order records are not applied."""

from __future__ import annotations

import pytest

from services.dossier.rules import FINAL_STATUSES, TRANSITIONS
from tests.dossier.conftest import progress, record

STATUSES = range(1, 11)


def legal(a: int, b: int) -> bool:
    """The table of domain.md section 2, written out independently of the service."""
    if a in FINAL_STATUSES:
        return False
    return b == 7 or b in TRANSITIONS.get(a, set())


def at_status(province, status: int, seq: int = 1) -> str:
    extra = {"NgayKetThucXuLy": "20241116080000"} if status in (9, 10) else {}
    r = province.sync(record(seq, TrangThaiHoSo=status, **extra))
    assert r.json()["error_code"] == 0, r.text
    return str(record(seq)["MaHoSo"])


PAIRS = [(a, b) for a in STATUSES for b in STATUSES if a != b]


@pytest.mark.parametrize(("current", "new"), PAIRS, ids=[f"{a}to{b}" for a, b in PAIRS])
def test_transition_in_strict_mode(province, current, new):
    code = at_status(province, current)
    r = province.progress(progress(1, new, "20241117080000"))
    if legal(current, new):
        assert r.json()["error_code"] == 0, r.text
        assert province.status_of(code) == new
    else:
        assert r.json()["error_code"] == 23, r.text
        assert r.json()["details"][0]["field"] == "TrangThaiHoSo"
        assert province.status_of(code) == current


def test_the_legal_table_is_the_one_in_domain_md():
    expected = {(1, 2), (1, 3), (2, 4), (4, 5), (4, 6), (4, 8), (4, 9), (5, 4), (5, 8), (6, 4), (6, 9), (7, 8), (9, 10)}
    expected |= {(a, 7) for a in STATUSES if a not in (3, 7, 8, 10)}
    assert {(a, b) for a, b in PAIRS if legal(a, b)} == expected


def test_lenient_mode_applies_an_illegal_transition_with_a_warning(province):
    province.client.put("/_sandbox/switches/lenient_transitions", json={})
    code = at_status(province, 2)
    r = province.progress(progress(1, 9, "20241117080000"))
    body = r.json()
    assert body["error_code"] == 0
    assert body["data"][0]["warnings"][0]["rule"] == "transition"
    assert body["warnings"][0]["MaHoSo"] == code
    assert province.status_of(code) == 9


def test_lenient_warning_is_written_to_the_journal(province):
    province.client.patch(f"/_sandbox/units/{province.unit}", json={"transition_mode": "lenient"})
    at_status(province, 2)
    r = province.progress(progress(1, 10, "20241117080000"))
    rid = r.headers["x-request-id"]
    entries = province.client.get("/_sandbox/journal", params={"request_id": rid}).json()["entries"]
    assert entries[0]["notes"]["warnings"][0]["rule"] == "transition"


def test_identical_record_sent_twice_is_a_replay_applied_once(province):
    code = at_status(province, 2)
    rec = progress(1, 4, "20241116080000")
    assert province.progress(rec).json()["error_code"] == 0
    r = province.progress(rec)
    assert r.status_code == 200
    assert r.json()["error_code"] == 24
    history = province.lookup(code, history=True).json()["data"]["LichSu"]
    assert [e["kind"] for e in history].count("progress") == 1


def test_same_idempotency_key_is_a_replay_even_if_the_record_differs(province):
    at_status(province, 2)
    first = progress(1, 4, "20241116080000", IdempotencyKey="k-1")
    again = progress(1, 4, "20241116080000", IdempotencyKey="k-1", NoiDungXuLy="gửi lại")
    assert province.progress(first).json()["error_code"] == 0
    assert province.progress(again).json()["error_code"] == 24


def test_replay_within_one_batch_is_applied_once(province):
    at_status(province, 2)
    rec = progress(1, 4, "20241116080000")
    body = province.progress([rec, rec]).json()
    assert [i["error_code"] for i in body["data"]] == [0, 24]
    assert body["error_code"] == 0


def test_older_record_after_a_newer_one_is_not_applied(province):
    code = at_status(province, 2)
    assert province.progress(progress(1, 4, "20241116100000")).json()["error_code"] == 0
    r = province.progress(progress(1, 9, "20241116090000"))
    assert r.json()["error_code"] == 25
    assert r.json()["details"][0]["rule"] == "out_of_order"
    assert province.status_of(code) == 4


def test_out_of_order_record_is_kept_in_the_history(province):
    code = at_status(province, 2)
    province.progress([progress(1, 4, "20241116100000"), progress(1, 5, "20241116090000")])
    history = province.lookup(code, history=True).json()["data"]["LichSu"]
    assert [(e["TrangThai"], e["outcome"]) for e in history if e["kind"] == "progress"] == [
        (4, "applied"),
        (5, "out_of_order"),
    ]


def test_record_with_the_same_time_as_the_newest_is_applied(province):
    code = at_status(province, 2)
    province.progress(progress(1, 4, "20241116100000"))
    assert province.progress(progress(1, 5, "20241116100000")).json()["error_code"] == 0
    assert province.status_of(code) == 5


def test_progress_for_a_missing_dossier_is_not_found(province):
    assert province.progress(progress(99, 4, "20241116100000")).json()["error_code"] == 22


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"ThoiDiemXuLy": "hôm nay"}, "ThoiDiemXuLy", "date_format"),
        ({"TrangThai": 12}, "TrangThai", "enum"),
        ({"NguoiXuLy": None}, "NguoiXuLy", "required"),
        (
            {"NgayBatDau": "20241120000000", "NgayKetThucTheoQuyDinh": "20241119000000"},
            "NgayKetThucTheoQuyDinh",
            "date_order",
        ),
    ],
)
def test_invalid_progress_record_names_field_and_rule(province, overrides, field, rule):
    at_status(province, 2)
    body = province.progress(progress(1, 4, "20241116100000", **overrides)).json()
    assert body["error_code"] == 20
    assert any(d["field"] == field and d["rule"] == rule for d in body["details"]), body


def test_finishing_records_the_end_of_processing(province):
    code = at_status(province, 4)
    province.progress(progress(1, 9, "20241118150000"))
    assert province.lookup(code).json()["data"]["NgayKetThucXuLy"] == "20241118150000"
