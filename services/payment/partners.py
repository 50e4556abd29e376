"""Partners of the payment platform (``MaDoiTac``): the registry, the built-in development
partner, registering, replacing and removing one, and the check of its callback URLs.

No HTTP types here; functions take the request's unit of work and never commit it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from services.payment import errors
from services.payment.models import Partner
from services.payment.protocol import DEFAULT_FIELD_ORDERS, PartnerKey
from services.payment.schemas import PartnerIn
from services.payment.settings import PaymentSettings
from vnsandbox import clock
from vnsandbox.outbound import OutboundRefused, policy_of
from vnsandbox.standard_webhooks import SANDBOX, published_secret


@dataclass(frozen=True)
class PartnerConfig:
    """A partner as the protocol sees it (stored, or the built-in development partner)."""

    key: PartnerKey
    name: str
    notice_url: str
    return_url: str
    builtin: bool
    signature_scheme: str = SANDBOX

    @property
    def code(self) -> str:
        return self.key.code

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "secret": self.key.secret,
            "algorithm": self.key.algorithm,
            "field_orders": {t: self.key.order(t) for t in DEFAULT_FIELD_ORDERS},
            "notice_url": self.notice_url,
            "return_url": self.return_url,
            "builtin": self.builtin,
            "signature_scheme": self.signature_scheme,
            "standard_webhooks_secret": published_secret(self.key.secret),
        }


class PartnerColumns(Protocol):
    """What :func:`config_of` reads: a :class:`Partner`, or a row of :data:`_FIND_PARTNER`."""

    code: str
    secret: str
    algorithm: str
    field_orders: dict[str, Any]
    name: str
    notice_url: str
    return_url: str
    signature_scheme: str


def config_of(row: PartnerColumns) -> PartnerConfig:
    """A stored partner as the protocol sees it."""
    return PartnerConfig(
        key=PartnerKey(row.code, row.secret, row.algorithm, dict(row.field_orders or {})),
        name=row.name,
        notice_url=row.notice_url,
        return_url=row.return_url,
        builtin=False,
        signature_scheme=row.signature_scheme or SANDBOX,
    )


def dev_partner(settings: PaymentSettings) -> PartnerConfig:
    return PartnerConfig(
        key=PartnerKey(settings.dev_partner_code, settings.dev_partner_secret),
        name="Đối tác phát triển mặc định (sandbox)",
        notice_url=settings.dev_partner_notice_url,
        return_url=settings.dev_partner_return_url,
        builtin=True,
    )


_PARTNERS = cast(Table, Partner.__table__)
_COLUMNS = ("code", "secret", "algorithm", "field_orders", "name", "notice_url", "return_url", "signature_scheme")
#: Built once (every message reads it), as a Core statement: the columns :func:`config_of` reads,
#: by the tenant's own key (no ORM entity to build, no statement to construct per call).
_FIND_PARTNER = select(*(_PARTNERS.c[name] for name in _COLUMNS)).where(
    _PARTNERS.c.tenant == bindparam("tenant"), _PARTNERS.c.code == bindparam("code")
)


def find_partner(session: Session, tenant: str, settings: PaymentSettings, code: str) -> PartnerConfig | None:
    row = session.execute(_FIND_PARTNER, {"tenant": tenant, "code": code}).first()
    return partner_of(None if row is None else cast(PartnerColumns, row), settings, code)


def partner_of(stored: PartnerColumns | None, settings: PaymentSettings, code: str) -> PartnerConfig | None:
    """The partner ``code`` names: the tenant's ``stored`` one (its row, as read), else the
    built-in development partner where it is enabled; None for an unknown code."""
    if stored is not None:
        return config_of(stored)
    if settings.dev_partner_enabled and code == settings.dev_partner_code:
        return dev_partner(settings)
    return None


def get_partner(session: Session, tenant: str, settings: PaymentSettings, code: str) -> PartnerConfig:
    """The partner with that code; ``PARTNER_UNKNOWN`` if the tenant has none."""
    partner = find_partner(session, tenant, settings, code)
    if partner is None:
        raise errors.PartnerUnknown(details=[{"field": "MaDoiTac", "rule": "registered", "message": code}])
    return partner


def list_partners(session: Session, tenant: str, settings: PaymentSettings) -> list[PartnerConfig]:
    rows = [
        config_of(r) for r in session.scalars(select(Partner).where(Partner.tenant == tenant).order_by(Partner.code))
    ]
    codes = {p.code for p in rows}
    if settings.dev_partner_enabled and settings.dev_partner_code not in codes:
        rows.insert(0, dev_partner(settings))
    return rows


def check_callback_urls(settings: PaymentSettings, urls: dict[str, str]) -> None:
    """``OUTBOUND_URL_REFUSED`` (422, naming the field) for a URL the outbound policy refuses."""
    policy = policy_of(settings)
    for name, url in urls.items():
        try:
            if url:
                policy.check_url(url)
        except OutboundRefused as exc:
            raise errors.CallbackUrlRefused(exc.message_en, exc.message_vi, details=[exc.detail(name)]) from None


def upsert_partner(session: Session, tenant: str, code: str, data: PartnerIn) -> PartnerConfig:
    if not code or len(code) > 50 or not code.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise errors.PartnerInvalid(
            details=[{"field": "MaDoiTac", "rule": "pattern", "message": "1-50 letters, digits, '.', '_', '-'"}]
        )
    row = session.scalar(select(Partner).where(Partner.tenant == tenant, Partner.code == code))
    if row is None:
        row = Partner(tenant=tenant, code=code, created_ts=clock.now(session, tenant).timestamp())
        session.add(row)
    row.name = data.name
    row.secret = data.secret
    row.algorithm = data.algorithm
    row.field_orders = dict(data.field_orders)
    row.notice_url = data.notice_url
    row.return_url = data.return_url
    row.signature_scheme = data.signature_scheme
    session.flush()
    return config_of(row)


def delete_partner(session: Session, tenant: str, code: str) -> None:
    """Remove a partner (its payments stay); ``PARTNER_UNKNOWN`` if the tenant has none with that code."""
    row = session.scalar(select(Partner).where(Partner.tenant == tenant, Partner.code == code))
    if row is None:
        raise errors.PartnerUnknown(details=[{"field": "MaDoiTac", "rule": "registered", "message": code}])
    session.delete(row)
