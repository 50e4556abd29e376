"""Pure rules: the fee schedule parsed from the catalogue, wire times, fee-check modes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.dossier import rules
from tests.dossier.conftest import DEV_UNIT, record
from vnsandbox.vn import catalogue
from vnsandbox.vn.wiretime import VN_TZ, parse_wire_time

UNITS = frozenset({DEV_UNIT})


def test_portal_fee_per_channel_is_parsed():
    fee = catalogue.parse_portal_fee("100000 VNĐ (trực tuyến, dịch vụ bưu chính); 50000 VNĐ (trực tiếp)")
    assert fee == {1: 50000, 2: 100000, 3: 100000}


def test_implausible_amount_is_not_taken_from_the_portal():
    assert catalogue.parse_portal_fee("135 VNĐ") is None


@pytest.mark.parametrize(
    ("code", "basis", "direct_fee"),
    [
        ("3.000346", "gplx", 135000),
        ("3.000333", "lltp", 200000),
        ("1.001193", "free_by_law", 0),
        ("1.000894", "province_set", None),
        ("2.000815", "per_copy", None),
        ("2.000635", "portal", 8000),
        ("1.014129", "free", 0),
    ],
)
def test_fee_schedule_rule_per_procedure(code, basis, direct_fee):
    proc = catalogue.get(code)
    assert proc is not None
    assert proc.fee.basis == basis
    assert proc.fee.amount(1) == direct_fee


def test_catalogue_has_the_shared_procedures():
    assert len(catalogue.catalogue()) == 396


def test_wire_time_is_vietnam_time_stored_as_utc():
    assert rules.parse_wire_time("20241115080000") == datetime(2024, 11, 15, 1, 0, 0)
    assert rules.to_wire_time(datetime(2024, 11, 15, 1, 0, 0)) == "20241115080000"


@pytest.mark.parametrize(
    "value",
    [
        "20240230080000",
        "20241115250000",
        "2024111508000",
        "2024-11-15080000",
        "20241115080000\n",  # a trailing newline
        "２０２４１１１５０８００００",  # fullwidth digits: not the wire's
        "2024111508000٠",  # an Arabic-Indic zero
        "+2024111508000",
        "20241115T08000",
    ],
)
def test_impossible_wire_times_are_refused(value):
    with pytest.raises(ValueError):
        rules.parse_wire_time(value)
    with pytest.raises(ValueError):
        parse_wire_time(value)  # the aware reading other platforms use


def test_the_aware_reading_is_vietnam_time():
    assert parse_wire_time("20241115080000") == datetime(2024, 11, 15, 8, tzinfo=VN_TZ)
    assert parse_wire_time("20241115080000").utcoffset() == timedelta(hours=7)


def test_fee_mismatch_only_warns_in_warn_mode():
    rec = record(MaTTHC="3.000346", DanhSachLePhi=[{"MucPhi": 1000}])
    checked = rules.check_dossier(rec, UNITS, fee_check="warn")
    assert checked.problems == []
    assert checked.warnings[0]["rule"] == "fee_schedule"


def test_fee_check_off_skips_the_schedule():
    rec = record(MaTTHC="3.000346", DanhSachLePhi=[{"MucPhi": 1000}])
    assert rules.check_dossier(rec, UNITS, fee_check="off").problems == []
