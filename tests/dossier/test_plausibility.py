"""Times a record cannot have: later than the portal's clock (plus a tolerance) or, for a
progress step, before the dossier was received. Refused with code 28, never applied, so one
wrong clock at a province cannot lock a dossier against the correct records that follow."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from services.dossier import rules
from services.dossier.settings import DossierSettings
from tests.dossier.conftest import DEV_UNIT, progress, record

#: The tenant's test clock is set to 2024-11-25 12:00:00 in Vietnam (05:00 UTC).
NOW = datetime(2024, 11, 25, 5, 0, 0, tzinfo=UTC)


@pytest.fixture
def p(province):
    r = province.client.post("/_sandbox/clock", json={"offset_seconds": NOW.timestamp() - time.time()})
    assert r.status_code == 200, r.text
    return province


def wire(moment: datetime) -> str:
    value = rules.to_wire_time(moment)
    assert value is not None
    return value


def refused(response, field: str, rule: str) -> None:
    body = response.json()
    assert (response.status_code, body["error_code"]) == (422, 28), body
    assert [(d["field"], d["rule"]) for d in body["details"]] == [(field, rule)]


def test_progress_dated_in_the_future_is_refused(p):
    p.sync(record())
    refused(p.progress(progress(1, 4, "20991231000000")), "ThoiDiemXuLy", "future")
    assert p.status_of(record()["MaHoSo"]) == 2


def test_correct_record_after_a_refused_future_one_is_applied(p):
    p.sync(record())
    p.progress(progress(1, 4, "20991231000000"))
    assert p.progress(progress(1, 4, "20241116090000")).json()["error_code"] == 0
    assert p.status_of(record()["MaHoSo"]) == 4


def test_progress_within_the_tolerance_is_applied(p):
    p.sync(record())
    ahead = wire(NOW + timedelta(seconds=60))  # the default tolerance is 300 s
    assert p.progress(progress(1, 4, ahead)).json()["error_code"] == 0


def test_progress_beyond_the_tolerance_is_refused(p):
    p.sync(record())
    refused(p.progress(progress(1, 4, wire(NOW + timedelta(hours=1)))), "ThoiDiemXuLy", "future")


def test_progress_dated_before_the_receipt_is_refused(p):
    p.sync(record(NgayTiepNhan="20241115080000"))
    refused(p.progress(progress(1, 4, "20241115075959")), "ThoiDiemXuLy", "before_receipt")


def test_dossier_received_in_the_future_is_refused(p):
    refused(p.sync(record(NgayTiepNhan="20991115080000", NgayHenTra="20991120170000")), "NgayTiepNhan", "future")


def test_due_date_in_the_future_is_accepted(p):
    assert p.sync(record(NgayHenTra="20991120170000")).json()["error_code"] == 0


def test_finished_in_the_future_is_refused(p):
    rec = record(TrangThaiHoSo=9, NgayKetThucXuLy="20991116080000")
    refused(p.sync(rec), "NgayKetThucXuLy", "future")


def test_dossier_code_dated_in_the_future_is_refused(p):
    refused(p.sync(record(MaHoSo=f"{DEV_UNIT}-991115-00001")), "MaHoSo", "future_date")


def test_owner_born_in_the_future_is_refused(p):
    # Digit 4 = 2: born 2000–2099; digits 5–6 = 99: born 2099.
    refused(p.sync(record(SoGiayToChuHoSo="001299012345")), "SoGiayToChuHoSo", "cccd_birth_future")


def test_owner_born_this_year_is_accepted(p):
    assert p.sync(record(SoGiayToChuHoSo="001224012345")).json()["error_code"] == 0


def test_future_time_with_another_problem_is_a_validation_error(p):
    body = p.sync(record(NgayTiepNhan="20991115080000", NgayHenTra="20991120170000", MaTTHC="9.999999")).json()
    assert body["error_code"] == 20
    assert {(d["field"], d["rule"]) for d in body["details"]} == {
        ("NgayTiepNhan", "future"),
        ("MaTTHC", "catalogue"),
    }


def test_refused_future_progress_is_listed_in_reconciliation(p):
    p.sync(record())
    p.progress(progress(1, 4, "20991231000000"))
    rejected = p.client.get("/_sandbox/reconciliation", params={"MaDonVi": DEV_UNIT}).json()["data"]
    assert [(r["MaHoSo"], r["error_code"]) for r in rejected["rejected_updates"]] == [(record()["MaHoSo"], 28)]


def test_tolerance_is_the_bound_exactly():
    latest = datetime(2024, 11, 25, 5, 5, 0)
    assert rules.progress_time_problems({}, latest, latest, None) == []
    assert rules.progress_time_problems({}, latest + timedelta(seconds=1), latest, None)[0]["rule"] == "future"


def test_negative_tolerance_is_refused_at_start():
    with pytest.raises(ValueError, match="future_tolerance_s"):
        DossierSettings(future_tolerance_s=-1)
