"""Writing wire times (``yyyyMMddHHmmss``, Vietnam time): the same text ``strftime`` writes,
read back to the same second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from vnsandbox.vn.wiretime import VN_TZ, WIRE_TIME, format_wire_time, parse_wire_time, wire_time_of_epoch

EPOCHS = st.floats(min_value=0, max_value=253_402_300_799 - 7 * 3600, allow_nan=False)
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
MOMENTS = st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=OFFSETS)


@given(EPOCHS)
def test_an_epoch_is_written_as_strftime_writes_its_vietnam_time(ts):
    text = wire_time_of_epoch(ts)
    assert text == datetime.fromtimestamp(ts, UTC).astimezone(VN_TZ).strftime(WIRE_TIME)
    assert parse_wire_time(text) == datetime.fromtimestamp(ts, VN_TZ).replace(microsecond=0)


@given(MOMENTS)
def test_a_datetime_is_written_in_vietnam_time(moment):
    assert format_wire_time(moment) == moment.astimezone(VN_TZ).strftime(WIRE_TIME)
    assert parse_wire_time(format_wire_time(moment)) == moment.replace(microsecond=0)


def test_a_naive_datetime_is_utc_and_known_values():
    assert format_wire_time(datetime(2024, 11, 15, 1, 0, 0)) == "20241115080000"
    assert wire_time_of_epoch(0) == "19700101070000"
    assert format_wire_time(datetime(999, 12, 31, 23, 0, tzinfo=VN_TZ)) == "09991231230000"
