"""Units (đơn vị), their sync accounts, sessions, and who is calling. No HTTP types here.

Functions take the request's session and tenant and never commit (the router's unit of work
does, once).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.dossier.errors import Code, DvcqgError, detail
from services.dossier.models import SyncSession, Unit
from services.dossier.settings import (
    DEV_UNIT_API_KEY,
    DEV_UNIT_CODE,
    DEV_UNIT_NAME,
    DEV_UNIT_PASSWORD,
    DEV_UNIT_USERNAME,
    DossierSettings,
)
from vnsandbox import clock
from vnsandbox.outbound import OutboundPolicy, OutboundRefused
from vnsandbox.signing import GATEWAY_TOKEN_ISSUER, gateway_token_key
from vnsandbox.standard_webhooks import SANDBOX, new_secret, published_secret


def now_naive(session: Session, tenant: str) -> datetime:
    """The tenant's test-clock time as naive UTC (how the tables store times)."""
    return clock.now(session, tenant).replace(tzinfo=None)


@lru_cache(maxsize=1024)
def hash_password(password: str, salt: str) -> str:
    """PBKDF2 of a sync-account password (cached: the same test credentials are checked often)."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 20_000).hex()


def check_password(unit: Unit, password: str) -> bool:
    return hmac.compare_digest(hash_password(password, unit.salt), unit.password_hash)


def unit_to_wire(unit: Unit, with_secrets: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "MaDonVi": unit.code,
        "TenDonVi": unit.name,
        "MaDonViCha": unit.parent_code,
        "username": unit.username,
        "gateway_client_id": unit.gateway_client_id,
        "webhook_url": unit.webhook_url,
        "signature_scheme": unit.signature_scheme or SANDBOX,
        "transition_mode": unit.transition_mode,
    }
    if with_secrets:
        out["api_key"] = unit.api_key
        out["webhook_secret"] = unit.webhook_secret
        out["standard_webhooks_secret"] = published_secret(unit.webhook_secret) if unit.webhook_secret else None
    return out


def get_unit(session: Session, tenant: str, code: str) -> Unit | None:
    return session.scalar(select(Unit).where(Unit.tenant == tenant, Unit.code == code))


def ensure_dev_unit(session: Session, tenant: str, settings: DossierSettings) -> None:
    """In embedded mode every tenant has the development unit (documented credentials)."""
    if not settings.dev_unit_enabled or get_unit(session, tenant, DEV_UNIT_CODE) is not None:
        return
    salt = "dev-unit"  # the same documented credentials everywhere; lets the hash be cached
    unit = Unit(
        tenant=tenant,
        code=DEV_UNIT_CODE,
        name=DEV_UNIT_NAME,
        username=DEV_UNIT_USERNAME,
        password_hash=hash_password(DEV_UNIT_PASSWORD, salt),
        salt=salt,
        api_key=DEV_UNIT_API_KEY,
        created_at=now_naive(session, tenant),
    )
    # Nothing is read inside the savepoint: on SQLite a read there would pin a snapshot that
    # a concurrent first request's commit makes stale ("database is locked" on the insert).
    try:
        with session.begin_nested():
            session.add(unit)
    except IntegrityError:  # created by a concurrent request meanwhile
        pass


UNIT_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9.]{2,40}$")


def create_unit(session: Session, tenant: str, body: Mapping[str, Any], outbound: OutboundPolicy) -> Unit:
    code = str(body.get("MaDonVi") or "")
    problems = []
    if not UNIT_CODE_RE.match(code):
        problems.append(
            detail("MaDonVi", "format", "Mã đơn vị gồm chữ in hoa, chữ số và dấu chấm", "Unit code: A-Z, 0-9 and dots")
        )
    for f in ("username", "password"):
        if not isinstance(body.get(f), str) or not body[f]:
            problems.append(detail(f, "required", f"Thiếu {f}", f"{f} is required"))
    parent = body.get("MaDonViCha")
    if parent and get_unit(session, tenant, str(parent)) is None:
        problems.append(detail("MaDonViCha", "unknown_unit", "Đơn vị cha chưa đăng ký", "Parent unit not registered"))
    if problems:
        raise DvcqgError(Code.VALIDATION, details=problems)
    if get_unit(session, tenant, code) is not None or session.scalar(
        select(Unit).where(Unit.tenant == tenant, Unit.username == body["username"])
    ):
        raise DvcqgError(Code.ALREADY_EXISTS, "The unit or username already exists", "Đơn vị hoặc tài khoản đã tồn tại")
    salt = secrets.token_hex(8)
    unit = Unit(
        tenant=tenant,
        code=code,
        name=str(body.get("TenDonVi") or ""),
        parent_code=str(parent) if parent else None,
        username=body["username"],
        password_hash=hash_password(body["password"], salt),
        salt=salt,
        api_key=body.get("api_key") or "dvcqg-" + secrets.token_urlsafe(24),
        gateway_client_id=body.get("gateway_client_id"),
        created_at=now_naive(session, tenant),
    )
    apply_unit_changes(unit, body, outbound)
    session.add(unit)
    session.flush()
    return unit


def check_webhook_url(url: Any, outbound: OutboundPolicy) -> None:
    """Code 20 (422) naming ``webhook_url`` unless it is an http(s) URL the outbound policy allows."""
    if url is None:
        return
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise DvcqgError(
            Code.VALIDATION,
            details=[detail("webhook_url", "format", "URL phải bắt đầu bằng http(s)://", "Must be an http(s) URL")],
        )
    try:
        outbound.check_url(url)
    except OutboundRefused as exc:
        raise DvcqgError(
            Code.VALIDATION,
            exc.message_en,
            exc.message_vi,
            details=[detail("webhook_url", "outbound_url", exc.message_vi, exc.message_en)],
        ) from None


def apply_unit_changes(unit: Unit, body: Mapping[str, Any], outbound: OutboundPolicy) -> None:
    """Webhook endpoint and secret, transition mode, password, gateway client id."""
    if "webhook_url" in body:
        url = body["webhook_url"]
        check_webhook_url(url, outbound)
        unit.webhook_url = url
        if url and not unit.webhook_secret:
            unit.webhook_secret = new_secret()
    if body.get("webhook_secret"):
        unit.webhook_secret = str(body["webhook_secret"])
    if body.get("signature_scheme"):
        unit.signature_scheme = str(body["signature_scheme"])
    if "transition_mode" in body:
        mode = body["transition_mode"]
        if mode not in ("strict", "lenient", None):
            raise DvcqgError(
                Code.VALIDATION,
                details=[detail("transition_mode", "enum", "strict hoặc lenient", "strict or lenient")],
            )
        unit.transition_mode = mode
    if body.get("password") and unit.id is not None:
        unit.salt = secrets.token_hex(8)
        unit.password_hash = hash_password(str(body["password"]), unit.salt)
    if "gateway_client_id" in body:
        unit.gateway_client_id = body["gateway_client_id"]


# --------------------------------------------------------------------------- auth


def login(
    session: Session, tenant: str, settings: DossierSettings, unit_code: str, username: Any, password: Any
) -> tuple[SyncSession, datetime]:
    ensure_dev_unit(session, tenant, settings)
    if not unit_code:
        raise DvcqgError(Code.UNIT_MISSING, "Name the sending unit in the MaDonVi header", "Thiếu tiêu đề MaDonVi")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise DvcqgError(
            Code.MALFORMED,
            "username and password are required strings",
            "Cần username và password",
            details=[detail("username", "required", "Thiếu username/password", "username/password required")],
        )
    unit = get_unit(session, tenant, unit_code)
    if unit is None:
        raise DvcqgError(Code.UNIT_MISSING, f"Unit {unit_code} is not registered", f"Đơn vị {unit_code} chưa đăng ký")
    account = session.scalar(select(Unit).where(Unit.tenant == tenant, Unit.username == username))
    if account is None or not check_password(account, password):
        raise DvcqgError(Code.WRONG_CREDENTIALS)
    if account.code != unit.code:
        raise DvcqgError(Code.UNIT_MISMATCH)
    now = now_naive(session, tenant)
    row = SyncSession(
        tenant=tenant,
        token=secrets.token_hex(24),
        unit_code=unit.code,
        expires_at=now + timedelta(seconds=settings.session_ttl_s),
        revoked=0,
    )
    session.add(row)
    return row, row.expires_at


@dataclass(frozen=True)
class CallerUnit:
    """What a call needs of the calling unit: its code and its transition mode."""

    code: str
    transition_mode: str | None


@dataclass
class Caller:
    """Who is calling: the unit, the codes it may sync for, and how it authenticated."""

    unit: CallerUnit
    codes: frozenset[str]
    sync_session: SyncSession | None = None


def gateway_token_client(token: str, gateway_secret: str, tenant: str, now: datetime) -> str:
    """The client id of a gateway access token (HS256 JWT) presented directly to this service.

    Checked: signature, issuer, that it was issued for this tenant, and expiry on the
    tenant's test clock. Invalid → code 16, expired → code 18."""
    try:
        claims = jwt.decode(
            token,
            gateway_token_key(gateway_secret),
            algorithms=["HS256"],
            issuer=GATEWAY_TOKEN_ISSUER,
            options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub", "tenant", "iss"]},
        )
    except jwt.PyJWTError:
        raise DvcqgError(Code.TOKEN_INVALID) from None
    if claims["tenant"] != tenant:
        raise DvcqgError(Code.TOKEN_INVALID, "The token was issued for another tenant", "Mã truy cập của tenant khác")
    if float(claims["exp"]) <= now.replace(tzinfo=UTC).timestamp():
        raise DvcqgError(Code.TOKEN_EXPIRED)
    return str(claims["sub"])


_UNITS = Unit.__table__.c


def _family_statement(column: Any) -> Select[Any]:
    """The read of :func:`_unit_with_family` for one identifying column, built once (Core, with
    its own tenant filter: the session's tenant scope adds nothing to it)."""
    matched = _UNITS[column.key]
    return (
        select(_UNITS.code, _UNITS.parent_code, _UNITS.transition_mode, matched.label("matched"))
        .where(
            _UNITS.tenant == bindparam("tenant"),
            or_(matched == bindparam("value"), _UNITS.parent_code.is_not(None), _UNITS.code == DEV_UNIT_CODE),
        )
        .order_by(_UNITS.id)
    )


_FAMILY = {column.key: _family_statement(column) for column in (Unit.api_key, Unit.gateway_client_id, Unit.code)}


def _unit_with_family(
    session: Session, tenant: str, settings: DossierSettings, column: Any, value: str
) -> tuple[CallerUnit, frozenset[str]] | None:
    """The unit whose ``column`` equals ``value`` and the codes of its family, in one read.

    The one statement reads the matching units, every unit that has a parent (what the
    family is computed from; a flat tenant has none) and, in embedded mode, the development
    unit, which is created (and the statement read again) when it is missing. Several units
    matching (two with one API key): the first by id."""
    stmt = _FAMILY[column.key]
    params = {"tenant": tenant, "value": value}
    rows = session.execute(stmt, params).all()
    if settings.dev_unit_enabled and not any(u.code == DEV_UNIT_CODE for u in rows):
        ensure_dev_unit(session, tenant, settings)
        rows = session.execute(stmt, params).all()
    return family_of([(u.code, u.parent_code, u.transition_mode, u.matched == value) for u in rows])


def family_of(rows: Sequence[Sequence[Any]]) -> tuple[CallerUnit, frozenset[str]] | None:
    """The caller's unit and the codes of its family, from the rows of the family read
    (``code, parent_code, transition_mode, matched``, in id order): the first matching unit
    is the caller's, or None when no unit matched."""
    unit = next((u for u in rows if u[3]), None)
    if unit is None:
        return None
    children: dict[str, list[str]] = {}
    for u in rows:
        if u[1]:
            children.setdefault(u[1], []).append(u[0])
    return CallerUnit(unit[0], unit[2]), _descendants(unit[0], children)


def _descendants(code: str, children: Mapping[str, list[str]]) -> frozenset[str]:
    """``code`` and every code below it in ``children`` (any depth, cycles ignored)."""
    out = {code}
    todo = [code]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return frozenset(out)


def authenticate(
    session: Session,
    tenant: str,
    settings: DossierSettings,
    *,
    session_token: str | None,
    bearer: str | None,
    consumer: str | None,
) -> Caller:
    """Resolve a session token, a bearer (gateway access token, unit API key or session) or
    a gateway client (``consumer``, passed only when the gateway's signature over it checked
    out). A gateway client acts for the unit whose ``gateway_client_id`` names it.

    A unit API key or a gateway client costs one read (the unit and its family together,
    :func:`_unit_with_family`); a session token one more."""
    found: tuple[CallerUnit, frozenset[str]] | None = None
    row: SyncSession | None = None
    token = session_token
    if not token and bearer and bearer.count(".") == 2:
        client_id = gateway_token_client(bearer, settings.gateway_secret, tenant, now_naive(session, tenant))
        found = _unit_with_family(session, tenant, settings, Unit.gateway_client_id, client_id)
        if found is None:
            raise DvcqgError(
                Code.TOKEN_INVALID,
                f"Gateway client {client_id} acts for no unit (set the unit's gateway_client_id)",
                f"Ứng dụng {client_id} chưa gắn với đơn vị nào",
            )
    elif not token and bearer:
        found = _unit_with_family(session, tenant, settings, Unit.api_key, bearer)
        if found is None:
            token = bearer
    if found is None and token:
        row = session.scalar(select(SyncSession).where(SyncSession.tenant == tenant, SyncSession.token == token))
        if row is None or row.revoked:
            raise DvcqgError(Code.TOKEN_INVALID if bearer and not session_token else Code.SESSION_INVALID)
        if row.expires_at <= now_naive(session, tenant):
            raise DvcqgError(Code.SESSION_EXPIRED)
        found = _unit_with_family(session, tenant, settings, Unit.code, row.unit_code)
    if found is None and consumer:
        found = _unit_with_family(session, tenant, settings, Unit.gateway_client_id, consumer)
    if found is None:
        raise DvcqgError(Code.SESSION_MISSING)
    return Caller(found[0], found[1], row)
