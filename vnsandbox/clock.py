"""The per-tenant test clock. Every service reads "now" through it.

The offset lives in each service's database (table ``sandbox_clock``), so background
workers (expiry, outbox retries) see it too, and so do all replicas. The gateway's
clock endpoint advances the clock of every service at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from vnsandbox.db import ClockOffset


def offset_seconds(session: Session, tenant: str) -> float:
    row = session.get(ClockOffset, tenant)
    return row.offset_seconds if row else 0.0


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
    return seconds
