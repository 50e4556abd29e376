"""The per-tenant test clock. Every service reads "now" through it.

The offset lives in each service's database (table ``sandbox_clock``), so background
workers (expiry, outbox retries) see it too, and so do all replicas. The gateway's
clock endpoint advances the clock of every service at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from vnsandbox.bounds import MAX_CLOCK_OFFSET_S, clock_offset_in_range
from vnsandbox.db import ClockOffset
from vnsandbox.errors import ValidationFailed

#: Called with the tenant once a unit of work that moved its clock commits: what a service
#: keeps of clock-dependent answers (the identity provider's encoded JWKS) is dropped then.
_listeners: list[Callable[[str], None]] = []


def on_change(listener: Callable[[str], None]) -> None:
    """Call ``listener(tenant)`` after each committed move of a tenant's clock in this process."""
    if listener not in _listeners:
        _listeners.append(listener)


def _notify(tenant: str) -> None:
    for listener in list(_listeners):
        listener(tenant)


_CLOCK = ClockOffset.__table__
#: One column by primary key, as a Core statement: read on most requests, it skips the ORM's
#: per-statement work (the tenant is its key, so the session's tenant scope adds nothing).
_OFFSET = select(_CLOCK.c.offset_seconds).where(_CLOCK.c.tenant == bindparam("tenant"))


def offset_seconds(session: Session, tenant: str) -> float:
    return offset_of(session.execute(_OFFSET, {"tenant": tenant}).scalar())


def offset_of(stored: float | None) -> float:
    """The offset in force for a tenant whose ``sandbox_clock`` row holds ``stored`` (None: no row)."""
    if stored is None:
        return 0.0
    # Kept within range even for an offset stored before the range was enforced.
    return max(-MAX_CLOCK_OFFSET_S, min(MAX_CLOCK_OFFSET_S, float(stored)))


def checked_offset(seconds: float) -> float:
    """``seconds`` as a new offset, or 422 ``CLOCK_OUT_OF_RANGE`` when "now" would be more than
    ``MAX_CLOCK_OFFSET_S`` (100 years) from real time (however it was reached: repeated advances too)."""
    if not clock_offset_in_range(seconds):
        years = MAX_CLOCK_OFFSET_S // (365 * 86_400)
        raise ValidationFailed(
            f"The test clock may be at most {years} years ({MAX_CLOCK_OFFSET_S} s) from real time",
            f"Đồng hồ thử nghiệm chỉ được lệch tối đa {years} năm ({MAX_CLOCK_OFFSET_S} giây) so với thời gian thực",
            code="CLOCK_OUT_OF_RANGE",
            details=[{"field": "offset_seconds", "rule": "range", "message": f"±{MAX_CLOCK_OFFSET_S}"}],
        )
    return float(seconds)


def now(session: Session, tenant: str) -> datetime:
    """Current time for ``tenant`` (UTC, timezone-aware), test-clock offset applied."""
    return datetime.now(UTC) + timedelta(seconds=offset_seconds(session, tenant))


def set_offset(session: Session, tenant: str, seconds: float) -> float:
    row = session.get(ClockOffset, tenant)
    if row is None:
        row = ClockOffset(tenant=tenant, offset_seconds=seconds)
        session.add(row)
    else:
        row.offset_seconds = seconds
    session.flush()
    if _listeners:
        event.listen(session, "after_commit", lambda _s: _notify(tenant), once=True)
    return seconds
