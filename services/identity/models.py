"""State of the identity service: its tables. Every table carries a ``tenant`` column.

Tenancy: rows whose tenant is :data:`BASE_TENANT` (``_base``, a name no real tenant can
take) are the shared read-only layer: the base population generated once per database,
the built-in development client and the first signing key. Every tenant sees the base
layer plus its own rows; its own rows win (same CCCD, same client id), so a tenant can
edit, delete or mark deceased a base person without anyone else noticing. ``/_sandbox/reset``
wipes only the tenant's own rows, which brings the base layer back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Date, DateTime, Index, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vnsandbox.db import NAMING, SHARED_TENANT, utcnow

#: Tenant name of the shared base layer (the middleware refuses names starting with ``_``).
BASE_TENANT = SHARED_TENANT


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Person(Base):
    """A resident in the population database (CSDLQG về dân cư), with their VNeID account."""

    __tablename__ = "identity_person"
    __table_args__ = (
        UniqueConstraint("tenant", "cccd", name="uq_identity_person_tenant_cccd"),
        Index("ix_identity_person_tenant_name", "tenant", "full_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    #: Personal identification number (12 digits), the key of a person.
    cccd: Mapped[str] = mapped_column(String(12))
    #: Stable opaque id handed out as ``sub`` and ``TechID``.
    tech_id: Mapped[str] = mapped_column(String(36))
    full_name: Mapped[str] = mapped_column(String(128))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))  # "M" / "F"
    #: ISO 3166-1 alpha-3 nationality (``VNM`` for citizens).
    nationality: Mapped[str] = mapped_column(String(3), default="VNM")
    #: Permanent address (địa chỉ thường trú), formatted, and its ward / province codes.
    address: Mapped[str] = mapped_column(String(256), default="")
    ward_code: Mapped[str] = mapped_column(String(8), default="")
    province_code: Mapped[str] = mapped_column(String(4), default="")
    household_id: Mapped[str] = mapped_column(String(16), default="")
    #: Relation to the head of household: ``head``, ``spouse``, ``child``, ``parent``.
    household_role: Mapped[str] = mapped_column(String(16), default="head")
    phone: Mapped[str] = mapped_column(String(16), default="")
    email: Mapped[str] = mapped_column(String(128), default="")
    #: VNeID assurance level: 0 no account, 1 mức độ 1, 2 mức độ 2.
    level: Mapped[int] = mapped_column(Integer, default=2)
    #: ``citizen`` / ``business`` / ``agency`` (LoaiTaiKhoan 1/2/3).
    account_type: Mapped[str] = mapped_column(String(16), default="citizen")
    death_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    document_issued: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: ``None``: no expiry (over 60) or no card (under 14).
    document_expires: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: A tenant's tombstone hiding a base person.
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``base`` (generated for every tenant), ``seed`` (generated for one tenant), ``persona``.
    source: Mapped[str] = mapped_column(String(16), default="persona")


class PopulationInfo(Base):
    """What was generated into a tenant's layer (or the base layer): seed, count, when."""

    __tablename__ = "identity_population_info"

    tenant: Mapped[str] = mapped_column(String(63), primary_key=True)
    seed: Mapped[int] = mapped_column(Integer)
    people: Mapped[int] = mapped_column(Integer)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Client(Base):
    """A relying party (a province's system) registered with the provider."""

    __tablename__ = "identity_client"
    __table_args__ = (UniqueConstraint("tenant", "client_id", name="uq_identity_client_tenant_client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    client_id: Mapped[str] = mapped_column(String(128))
    client_secret: Mapped[str] = mapped_column(String(256), default="")
    name: Mapped[str] = mapped_column(String(256), default="")
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Accepted ``token_endpoint_auth_method`` values.
    auth_methods: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Public keys (a JWKS) for ``private_key_jwt``.
    jwks: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Lowest assurance level this client accepts (1 or 2).
    required_level: Mapped[int] = mapped_column(Integer, default=1)
    #: Refuse authorization requests without PKCE.
    require_pkce: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SigningKey(Base):
    """An RSA key signing tokens. Retired keys stay published until their tokens expire."""

    __tablename__ = "identity_signing_key"
    __table_args__ = (UniqueConstraint("tenant", "kid", name="uq_identity_signing_key_tenant_kid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    kid: Mapped[str] = mapped_column(String(64))
    private_pem: Mapped[str] = mapped_column(String(4096))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuthorizationCode(Base):
    """An authorization code: single use, short-lived, bound to client, redirect URI and PKCE."""

    __tablename__ = "identity_auth_code"
    __table_args__ = (UniqueConstraint("tenant", "code", name="uq_identity_auth_code_tenant_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    code: Mapped[str] = mapped_column(String(128))
    client_id: Mapped[str] = mapped_column(String(128))
    cccd: Mapped[str] = mapped_column(String(12))
    redirect_uri: Mapped[str] = mapped_column(String(1024))
    scope: Mapped[str] = mapped_column(String(1024))
    nonce: Mapped[str | None] = mapped_column(String(512), nullable=True)
    code_challenge: Mapped[str | None] = mapped_column(String(256), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(8), nullable=True)
    acr: Mapped[str] = mapped_column(String(8))
    session_id: Mapped[str] = mapped_column(String(64))
    auth_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class IssuedToken(Base):
    """An access or refresh token the provider issued (for introspection and revocation)."""

    __tablename__ = "identity_token"
    __table_args__ = (UniqueConstraint("tenant", "jti", name="uq_identity_token_tenant_jti"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    #: JWT id of an access token, or the refresh token itself.
    jti: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # access / refresh
    client_id: Mapped[str] = mapped_column(String(128))
    #: The person's CCCD, or empty for client_credentials.
    cccd: Mapped[str] = mapped_column(String(12), default="")
    subject: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(String(1024))
    acr: Mapped[str] = mapped_column(String(8), default="")
    nonce: Mapped[str | None] = mapped_column(String(512), nullable=True)
    session_id: Mapped[str] = mapped_column(String(64), default="")
    auth_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: The authorization code it came from (a replayed code revokes them all).
    code: Mapped[str] = mapped_column(String(128), default="", index=True)
    #: Refresh-token family: every token of one login shares it (reuse revokes the family).
    family: Mapped[str] = mapped_column(String(64), default="", index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginSession(Base):
    """A browser's login session at the provider (cookie ``vneid_sid``)."""

    __tablename__ = "identity_login_session"
    __table_args__ = (UniqueConstraint("tenant", "sid", name="uq_identity_login_session_tenant_sid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    sid: Mapped[str] = mapped_column(String(64))
    cccd: Mapped[str] = mapped_column(String(12))
    acr: Mapped[str] = mapped_column(String(8))
    auth_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class UsedAssertion(Base):
    """``jti`` of client assertions already used (``private_key_jwt`` replay protection)."""

    __tablename__ = "identity_used_assertion"
    __table_args__ = (UniqueConstraint("tenant", "jti", name="uq_identity_used_assertion_tenant_jti"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    jti: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
