"""The gateway's own tables: tenants, consumers and fault rules; and, when the state is shared
between replicas (PostgreSQL), the journal, the quota buckets and the rules' counters.

The hot path never reads these tables per request: :mod:`gateway.config` loads them into
memory and reloads them every ``GATEWAY_CONFIG_REFRESH_S`` seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, Float, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vnsandbox.db import NAMING, utcnow


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Tenant(Base):
    """A tenant: one province, team or CI job whose data is kept apart from every other's."""

    __tablename__ = "gateway_tenant"

    tenant: Mapped[str] = mapped_column(String(63), primary_key=True)
    description: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Consumer(Base):
    """A consumer system (a province's application) allowed to call APIs through the gateway."""

    __tablename__ = "gateway_consumer"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    #: SHA-256 of the client secret (secrets are 256-bit random values, so a fast hash suffices).
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of the API key, for callers that send ``X-API-Key`` instead of a token.
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Scopes granted: an API name (``vneid``, ``dvcqg``, ``paygov``) for every method,
    #: ``<api>:read`` for GET/HEAD only, ``sandbox`` for the tenant's control plane, ``*`` for all.
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Token bucket: refill rate (requests per second) and size; ``None`` means unlimited.
    rate_per_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    burst: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FaultRule(Base):
    """A fault the gateway injects into matching calls of one tenant."""

    __tablename__ = "gateway_fault_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    #: ``latency``, ``error``, ``reset``, ``empty``, ``malformed`` or ``timeout``.
    kind: Mapped[str] = mapped_column(String(16))
    api: Mapped[str] = mapped_column(String(32), default="*")
    #: Glob over the path after the API prefix (``/dossiers/*``); ``*`` for every path.
    path: Mapped[str] = mapped_column(String(512), default="*")
    method: Mapped[str] = mapped_column(String(10), default="*")
    consumer: Mapped[str] = mapped_column(String(64), default="*")
    #: Apply to the next N matching calls only; ``None`` means until removed.
    remaining: Mapped[int | None] = mapped_column(Integer, nullable=True)
    probability: Mapped[float] = mapped_column(Float, default=1.0)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Shared state only: matching calls seen (the random draw of call k derives from
    #: ``seed`` and k) and times fired, counted by every replica.
    seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fired: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class JournalRow(Base):
    """One relayed call in the shared journal (redacted when written, off the hot path)."""

    __tablename__ = "gateway_journal"
    __table_args__ = (Index("ix_gateway_journal_tenant_ts", "tenant", "ts"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(Text)
    #: Epoch seconds when the call ended.
    ts: Mapped[float] = mapped_column(Float)
    request_id: Mapped[str] = mapped_column(Text)
    consumer: Mapped[str] = mapped_column(Text)
    api: Mapped[str] = mapped_column(Text)
    upstream: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float)
    fault: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The redacted time, query, headers and bodies (:meth:`gateway.journal.GatewayEntry.rendered`).
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class QuotaBucket(Base):
    """A consumer's token bucket shared by every replica (tokens leased in small batches)."""

    __tablename__ = "gateway_quota_bucket"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    #: Database time (epoch seconds) of the last refill, so replicas' clocks do not matter.
    updated_at: Mapped[float] = mapped_column(Float)
    #: Tokens handed out by the last lease (read back by the leasing statement).
    granted: Mapped[int] = mapped_column(Integer, default=0)


class Replica(Base):
    """A gateway replica that announced itself lately (database time, epoch seconds)."""

    __tablename__ = "gateway_replica"

    replica: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen: Mapped[float] = mapped_column(Float)
