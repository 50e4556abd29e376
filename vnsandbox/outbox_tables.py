"""The outbox's tables: a delivery (what to send where, its state and schedule) and each attempt.

Their behaviour (enqueueing, claiming, sending, recording) is :mod:`vnsandbox.outbox`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Float, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vnsandbox.db import NAMING

PENDING, DELIVERING, DELIVERED, DEAD = "pending", "delivering", "delivered", "dead"


def iso_time(ts: float | None) -> str | None:
    """An epoch time of the tenant's clock as ISO 8601 with its UTC offset (replies carry both)."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


class OutboxBase(DeclarativeBase):
    """Outbox tables; a service that sends anything adds this metadata to its spec."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class Delivery(OutboxBase):
    __tablename__ = "outbox_delivery"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    #: What is delivered (``dossier.filed``, ``payment.notice``, ...).
    kind: Mapped[str] = mapped_column(String(64))
    #: Business reference for look-ups (``MaHoSo``, ``MaThamChieu``).
    ref: Mapped[str] = mapped_column(String(128), default="", index=True)
    target_url: Mapped[str] = mapped_column(String(2048))
    payload: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(128), default="application/json")
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: When set, the delivery is signed: ``signature_header`` names the scheme (vnsandbox.standard_webhooks).
    sign_secret: Mapped[str | None] = mapped_column(String(256), nullable=True)
    signature_header: Mapped[str] = mapped_column(String(64), default="X-Sandbox-Signature")
    accept: Mapped[str] = mapped_column(String(64), default="2xx")
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    #: Due time in the tenant's clock (epoch seconds).
    next_attempt_ts: Mapped[float] = mapped_column(Float, index=True)
    #: Real epoch seconds until which a worker owns the row.
    lease_until: Mapped[float] = mapped_column(Float, default=0.0)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_ts: Mapped[float] = mapped_column(Float)
    delivered_ts: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Orders deliveries of one ref: created sequence number.
    seq: Mapped[int] = mapped_column(Integer, default=0)

    def to_dict(self, attempts: list[Attempt] | None = None) -> dict[str, Any]:
        out = {
            c: getattr(self, c)
            for c in (
                "id",
                "kind",
                "ref",
                "target_url",
                "status",
                "attempts",
                "max_attempts",
                "next_attempt_ts",
                "last_status",
                "last_error",
                "created_ts",
                "delivered_ts",
                "accept",
            )
        }
        out |= {
            "created_at": iso_time(self.created_ts),
            "next_attempt_at": iso_time(self.next_attempt_ts),
            "delivered_at": iso_time(self.delivered_ts),
        }
        out["payload"] = self.payload
        if attempts is not None:
            out["attempt_log"] = [a.to_dict() for a in attempts]
        return out


class Attempt(OutboxBase):
    """One try at a delivery, kept for the journal."""

    __tablename__ = "outbox_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(32), index=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at_ts: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[float] = mapped_column(Float)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    accepted: Mapped[int] = mapped_column(Integer, default=0)

    def to_dict(self) -> dict[str, Any]:
        out = {
            c: getattr(self, c)
            for c in ("number", "at_ts", "status_code", "error", "duration_ms", "response_body", "accepted")
        }
        out["at"] = iso_time(self.at_ts)
        return out
