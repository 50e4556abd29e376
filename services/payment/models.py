"""State of the payment service: its tables. Every table carries a ``tenant`` column.

Times are stored as epoch seconds in the tenant's test-clock time (floats compare the
same on SQLite and PostgreSQL); wire times are rendered in Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Float, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vnsandbox.db import NAMING

PENDING, SUCCESS, FAILED, CANCELLED, EXPIRED = "pending", "success", "failed", "cancelled", "expired"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Partner(Base):
    """A province's system registered with the platform (``MaDoiTac``)."""

    __tablename__ = "payment_partner"
    __table_args__ = (UniqueConstraint("tenant", "code", name="uq_payment_partner_tenant_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(255), default="")
    secret: Mapped[str] = mapped_column(String(256))
    #: ``sha256`` (default) or ``sha512``: the HMAC of the checksum ``MaXacThuc``.
    algorithm: Mapped[str] = mapped_column(String(16), default="sha256")
    #: Message type → field order of its checksum, overriding the defaults.
    field_orders: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notice_url: Mapped[str] = mapped_column(String(2048), default="")
    return_url: Mapped[str] = mapped_column(String(2048), default="")
    #: ``sandbox`` (X-Sandbox-Signature) or ``standard-webhooks`` on result notices (vnsandbox.standard_webhooks).
    signature_scheme: Mapped[str] = mapped_column(String(32), default="sandbox", server_default="sandbox")
    created_ts: Mapped[float] = mapped_column(Float)


class Payment(Base):
    """One payment opened by INIT (``MaThamChieu`` of a partner → ``MaGiaoDich``)."""

    __tablename__ = "payment_transaction"
    __table_args__ = (
        UniqueConstraint("tenant", "partner_code", "reference", name="uq_payment_transaction_reference"),
        UniqueConstraint("tenant", "transaction_id", name="uq_payment_transaction_transaction_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    partner_code: Mapped[str] = mapped_column(String(50))
    #: ``MaThamChieu``: the partner's reference.
    reference: Mapped[str] = mapped_column(String(64))
    #: ``MaGiaoDich``: the platform's transaction id.
    transaction_id: Mapped[str] = mapped_column(String(32))
    #: Secret part of the hosted page URL.
    page_token: Mapped[str] = mapped_column(String(64), index=True)
    #: Hash of the INIT content, to tell a retry from a conflicting reuse of the reference.
    fingerprint: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="VND")
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    #: ``MaLoi`` of the outcome (empty while pending).
    result_code: Mapped[str] = mapped_column(String(4), default="")
    bank_code: Mapped[str] = mapped_column(String(32), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    dossier_code: Mapped[str] = mapped_column(String(64), default="")
    payer_name: Mapped[str] = mapped_column(String(255), default="")
    #: The INIT message as received (the receipt data comes from its ``ThongTinBienLai``).
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_ts: Mapped[float] = mapped_column(Float)
    expires_ts: Mapped[float] = mapped_column(Float, index=True)
    completed_ts: Mapped[float | None] = mapped_column(Float, nullable=True)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)


class Refund(Base):
    """A full or partial refund of a paid transaction."""

    __tablename__ = "payment_refund"
    __table_args__ = (UniqueConstraint("tenant", "partner_code", "reference", name="uq_payment_refund_reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    partner_code: Mapped[str] = mapped_column(String(50))
    payment_id: Mapped[int] = mapped_column(Integer, index=True)
    #: ``MaThamChieuHoanTien``: the partner's reference of the refund.
    reference: Mapped[str] = mapped_column(String(64))
    #: ``MaHoanTien``: the platform's refund id.
    refund_id: Mapped[str] = mapped_column(String(32))
    fingerprint: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_ts: Mapped[float] = mapped_column(Float)
