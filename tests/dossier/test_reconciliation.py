"""Reconciliation (đối soát) against a scenario whose figures are known in advance."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime

import pytest

from tests.dossier.conftest import progress, record

#: The test clock is set to 2024-11-25 12:00:00 in Vietnam (05:00 UTC).
NOW_UTC = datetime(2024, 11, 25, 5, 0, 0, tzinfo=UTC)


@pytest.fixture
def scenario(province):
    province.client.post("/_sandbox/clock", json={"offset_seconds": NOW_UTC.timestamp() - time.time()})
    d = {
        1: record(1, NgayTiepNhan="20241115080000", NgayHenTra="20241120170000"),
        2: record(2, NgayTiepNhan="20241118080000", NgayHenTra="20241201170000"),
        3: record(
            3,
            NgayTiepNhan="20241110080000",
            NgayHenTra="20241112170000",
            TrangThaiHoSo=9,
            NgayKetThucXuLy="20241112100000",
        ),
        4: record(4, NgayTiepNhan="20241115080000", NgayHenTra="20241122170000"),
        5: record(5, NgayTiepNhan="20241025080000", NgayHenTra="20241030170000"),  # before the period
        6: record(6, MaTTHC="9.999999"),
    }
    body = province.sync(list(d.values())).json()
    assert [i["error_code"] for i in body["data"]] == [0, 0, 0, 0, 0, 20]
    assert province.progress(progress(2, 4, "20241118090000")).json()["error_code"] == 0
    assert province.progress(progress(4, 9, "20241118090000")).json()["error_code"] == 23
    return province


def report(province, **params):
    params = {"TuNgay": "20241101", "DenNgay": "20241130", **params}
    r = province.client.get("/api/doisoat", params=params, headers={"session": province.token})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def code(n: int) -> str:
    return str(record(n)["MaHoSo"])


def test_counts_by_status_cover_the_period_only(scenario):
    rep = report(scenario)
    assert rep["total"] == 4
    assert {k: v for k, v in rep["counts_by_status"].items() if v} == {"2": 2, "4": 1, "9": 1}


def test_status_mismatch_lists_the_refused_report(scenario):
    assert report(scenario)["status_mismatches"] == [
        {"MaHoSo": code(4), "TrangThaiTrenCong": 2, "TrangThaiTinhGuiGanNhat": 9}
    ]


def test_overdue_lists_unfinished_dossiers_past_their_due_date(scenario):
    overdue = {o["MaHoSo"]: o["QuaHanGio"] for o in report(scenario)["overdue"]}
    assert overdue.keys() == {code(1), code(4)}
    assert overdue[code(1)] == pytest.approx(115.0, abs=0.1)
    assert overdue[code(4)] == pytest.approx(67.0, abs=0.1)


def test_rejected_updates_are_listed_with_reasons(scenario):
    rep = report(scenario)
    assert [(r["service"], r["error_code"]) for r in rep["rejected_updates"]] == [
        ("DongBoHoSoMC", 20),
        ("CapNhatTienDoHoSoMC", 23),
    ]
    assert rep["rejected_by_rule"] == {"MaTTHC:catalogue": 1, "TrangThaiHoSo:transition": 1}


def test_sync_lag_distribution(scenario):
    lag = report(scenario)["sync_lag"]
    dossiers = lag["dossiers"]
    assert dossiers["count"] == 4
    assert dossiers["min_s"] == pytest.approx(619200, abs=60)
    assert dossiers["p50_s"] == pytest.approx(878400, abs=60)
    assert dossiers["max_s"] == pytest.approx(1310400, abs=60)
    assert dossiers["buckets"] == {"<1h": 0, "1h-24h": 0, "1d-3d": 0, ">3d": 4}
    assert lag["progress"]["count"] == 1
    assert lag["progress"]["max_s"] == pytest.approx(615600, abs=60)


def test_csv_has_the_same_figures(scenario):
    r = scenario.client.get(
        "/api/doisoat",
        params={"TuNgay": "20241101", "DenNgay": "20241130", "format": "csv"},
        headers={"session": scenario.token},
    )
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {"section": "summary", "MaHoSo": "", "key": "total", "value": "4", "detail": ""} in rows
    assert [row["MaHoSo"] for row in rows if row["section"] == "overdue"] == [code(1), code(4)]
    assert [row["value"] for row in rows if row["section"] == "status_mismatch"] == ["2"]


def test_control_plane_report_for_one_unit(scenario):
    r = scenario.client.get(
        "/_sandbox/reconciliation", params={"MaDonVi": "000.00.01.H22", "TuNgay": "20241101", "DenNgay": "20241130"}
    )
    assert r.json()["data"]["total"] == 4


def test_malformed_period_names_the_field(scenario):
    r = scenario.client.get("/api/doisoat", params={"TuNgay": "nov"}, headers={"session": scenario.token})
    assert r.json()["error_code"] == 20
    assert r.json()["details"][0]["field"] == "TuNgay"


def test_province_list_is_compared_with_the_portal(province):
    province.sync([record(1), record(2, TrangThaiHoSo=4)])
    province.client.put("/_sandbox/switches/sync_drop", json={"remaining": 1})
    assert province.sync(record(3)).json()["error_code"] == 0  # answered success, dropped
    mine = [
        {"MaHoSo": code(1), "TrangThaiHoSo": 2},
        {"MaHoSo": code(2), "TrangThaiHoSo": 9},
        {"MaHoSo": code(3), "TrangThaiHoSo": 2},
    ]
    body = province.call({"service": "DoiSoatHoSo", "data": mine}).json()
    assert body["error_code"] == 0
    assert body["data"] == {
        "total": 3,
        "matched": 1,
        "missing_on_portal": [code(3)],
        "status_differs": [{"MaHoSo": code(2), "TrangThaiTrenCong": 4, "TrangThaiTinh": 9}],
        "not_yours": [],
    }
