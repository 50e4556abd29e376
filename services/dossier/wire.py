"""Values on the wire of the sync API: times (``yyyyMMddHHmmss`` in Vietnam time, stored as
naive UTC) and integers (numbers or digit strings). Pure functions."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from vnsandbox.vn.wiretime import VN_OFFSET, format_wire_time, parse_wire_time_utc

__all__ = ["VN_OFFSET", "WIRE_INT_MAX", "as_int", "parse_period_bound", "parse_wire_time", "to_wire_time"]

#: ``yyyyMMddHHmmss`` in Vietnam time → naive UTC, as dossiers are stored (``ValueError`` if malformed).
parse_wire_time = parse_wire_time_utc


def to_wire_time(value: datetime | None) -> str | None:
    """Naive-UTC (as stored) or aware datetime → ``yyyyMMddHHmmss`` in Vietnam time."""
    return None if value is None else format_wire_time(value)


def parse_period_bound(value: str, end: bool) -> datetime:
    """``yyyyMMdd`` or ``yyyyMMddHHmmss`` → naive UTC; a bare day covers the whole day."""
    if re.fullmatch(r"\d{8}", value):
        value = value + ("235959" if end else "000000")
    return parse_wire_time(value)


#: Largest magnitude of an integer the sync API reads (2^53: exact in every JSON parser);
#: beyond it a number is not an integer for any field, so no field can overflow a column.
WIRE_INT_MAX = 2**53


def as_int(value: Any) -> int | None:
    """Integers arrive as numbers (up to ±2^53) or as digit strings (up to 9 digits) in
    provincial data; both are accepted."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -WIRE_INT_MAX <= value <= WIRE_INT_MAX else None
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value.strip()):
        return int(value.strip())
    return None
