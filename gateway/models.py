"""The gateway's own tables: tenants, consumers and fault rules. Every table has ``tenant``.

The hot path never reads these tables per request: :mod:`gateway.config` loads them into
memory and reloads them every ``GATEWAY_CONFIG_REFRESH_S`` seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Float, Integer, MetaData, String
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
