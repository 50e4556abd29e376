"""State of the dossier service: its tables. Every table carries a ``tenant`` column.

Times are stored as naive UTC datetimes (the wire's ``yyyyMMddHHmmss`` strings are in
Asia/Ho_Chi_Minh and converted once, in ``wire.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vnsandbox.db import NAMING


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Unit(Base):
    """A unit (đơn vị) allowed to sync: its code, sync account and delivery endpoint."""

    __tablename__ = "dossier_unit"
    __table_args__ = (
        UniqueConstraint("tenant", "code", name="uq_dossier_unit_tenant_code"),
        UniqueConstraint("tenant", "username", name="uq_dossier_unit_tenant_username"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256), default="")
    #: A unit may sync for its sub-units: their codes name it as parent.
    parent_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    username: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(128))
    salt: Mapped[str] = mapped_column(String(32))
    #: Bearer key accepted instead of a session (the gateway client token seam).
    api_key: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    #: Gateway client id whose relayed calls act for this unit.
    gateway_client_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    webhook_secret: Mapped[str | None] = mapped_column(String(256), nullable=True)
    #: ``sandbox`` (X-Sandbox-Signature) or ``standard-webhooks`` (vnsandbox.standard_webhooks).
    signature_scheme: Mapped[str] = mapped_column(String(32), default="sandbox", server_default="sandbox")
    #: ``strict`` / ``lenient`` / ``None`` (the service default).
    transition_mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class SyncSession(Base):
    """A session token handed out by ``/api/login``."""

    __tablename__ = "dossier_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    unit_code: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked: Mapped[int] = mapped_column(Integer, default=0)


class Dossier(Base):
    """One dossier as the portal holds it. ``data`` is the wire record, the columns index it."""

    __tablename__ = "dossier"
    __table_args__ = (
        UniqueConstraint("tenant", "code", name="uq_dossier_tenant_code"),
        Index("ix_dossier_tenant_unit_received", "tenant", "unit_code", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    code: Mapped[str] = mapped_column(String(64))
    unit_code: Mapped[str] = mapped_column(String(64))
    procedure_code: Mapped[str] = mapped_column(String(32))
    channel: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: TrangThaiHoSo as the portal holds it.
    status: Mapped[int] = mapped_column(Integer)
    #: The last status the province reported (also when the portal did not apply it).
    reported_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owner_id_number: Mapped[str] = mapped_column(String(32), default="")
    received_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: ``province`` (synced) or ``portal`` (filed by a citizen on the portal).
    origin: Mapped[str] = mapped_column(String(16), default="province")
    #: Test-clock time the portal first stored it / last changed it.
    synced_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    #: ThoiDiemXuLy of the newest applied progress record (out-of-order detection).
    last_progress_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    paid_online: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class DossierEvent(Base):
    """History of a dossier: creation, updates, progress records, citizen actions, payments.

    ``key`` identifies a progress record for replay detection (its ``IdempotencyKey`` or a
    hash of the record); ``outcome`` says what the portal did with it.
    """

    __tablename__ = "dossier_event"
    __table_args__ = (
        Index("ix_dossier_event_tenant_code", "tenant", "dossier_code"),
        #: A progress record is applied at most once (``key`` is NULL for other events).
        Index("uq_dossier_event_tenant_code_key", "tenant", "dossier_code", "key", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    dossier_code: Mapped[str] = mapped_column(String(64))
    unit_code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status_to: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Business time (ThoiDiemXuLy, or the portal's time for portal-side events).
    at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    #: ``applied``, ``applied_with_warning``, ``out_of_order``, ``dropped``.
    outcome: Mapped[str] = mapped_column(String(32))
    warning: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RejectedUpdate(Base):
    """A record the portal refused, with the reasons (for reconciliation)."""

    __tablename__ = "dossier_rejected"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    unit_code: Mapped[str] = mapped_column(String(64), index=True)
    dossier_code: Mapped[str] = mapped_column(String(64), default="")
    service: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[int] = mapped_column(Integer)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(DateTime)


class InboxEvent(Base):
    """Something the portal sends a province (citizen-filed dossier, citizen action, payment).

    Delivered by webhook (through the outbox) and/or fetched by polling; acknowledged by a
    2xx webhook reply or by the province's acknowledgement call.
    """

    __tablename__ = "dossier_inbox"
    __table_args__ = (Index("ix_dossier_inbox_tenant_unit", "tenant", "unit_code", "acknowledged_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    unit_code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    dossier_code: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    seq: Mapped[int] = mapped_column(Integer)
    delivery_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(16), nullable=True)


class PaymentRecord(Base):
    """A successful fee payment reported by the payment service (idempotent by MaGiaoDich)."""

    __tablename__ = "dossier_payment"
    __table_args__ = (UniqueConstraint("tenant", "transaction_id", name="uq_dossier_payment_tenant_txn"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    transaction_id: Mapped[str] = mapped_column(String(128))
    dossier_code: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime)
