"""Minting tokens: access tokens (JWT, ``at+jwt``), refresh tokens (opaque, rotated by the
refresh grant) and ID tokens, spoiled on purpose when an ID token switch is set. No HTTP types.

Each token is recorded as an :class:`IssuedToken` row (what revocation, introspection and
refresh rotation work on); signing uses the tenant's active key (:mod:`services.identity.keys`).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from services.identity import keys
from services.identity.models import Client, IssuedToken, aware
from services.identity.oidc import b64url, ts
from services.identity.settings import IdentitySettings
from vnsandbox import switches
from vnsandbox.ids import random_hex

#: Error switches that spoil the ID token the token endpoint returns.
ID_TOKEN_SWITCHES = (
    "INVALID_SIGNATURE",
    "WRONG_KEY_ID",
    "INVALID_ISSUER",
    "INVALID_AUDIENCE",
    "TOKEN_EXPIRED",
    "NONCE_MISMATCH",
)


# -- minting -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """Who and what a token is issued for: the citizen's login it comes from, if any."""

    subject: str
    scope: str
    number: str = ""
    acr: str = ""
    auth_time: datetime | None = None
    code: str = ""
    family: str = ""
    session_id: str = ""


#: The access token's row, written with one prebuilt Core ``INSERT`` (no unit-of-work flush for it).
INSERT_TOKEN = insert(cast(Table, IssuedToken.__table__))


def access_token(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    client: Client,
    now: datetime,
    issue: Issue,
) -> tuple[str, IssuedToken]:
    """A signed access token and its row (written now, after signing, so that the database's
    write lock is taken as late as possible; the row returned is a detached copy of it)."""
    key = keys.active_key(session, tenant)
    signed, values = signed_access(key, tenant, settings, issuer, client.client_id, now, issue)
    session.execute(INSERT_TOKEN, values)
    return signed, IssuedToken(**values)


def signed_access(
    key: keys.KeyData,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    client_id: str,
    now: datetime,
    issue: Issue,
) -> tuple[str, dict[str, Any]]:
    """An access token signed with ``key``, and the values of its :class:`IssuedToken` row
    (:data:`INSERT_TOKEN` writes them)."""
    jti = random_hex(16)
    expires = now + timedelta(seconds=settings.access_token_ttl_seconds)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": issue.subject,
        "aud": client_id,
        "client_id": client_id,
        "scope": issue.scope,
        "iat": ts(now),
        "nbf": ts(now),
        "exp": ts(expires),
        "jti": jti,
    }
    if issue.acr:
        claims["acr"] = issue.acr
    signed = keys.sign_with(key, claims, typ="at+jwt")
    values: dict[str, Any] = {
        "tenant": tenant,
        "jti": jti,
        "kind": "access",
        "client_id": client_id,
        "cccd": issue.number,
        "subject": issue.subject,
        "scope": issue.scope,
        "acr": issue.acr,
        "nonce": None,
        "session_id": issue.session_id,
        "auth_time": issue.auth_time,
        "code": issue.code,
        "family": issue.family,
        "issued_at": now,
        "expires_at": expires,
        "revoked": False,
    }
    return signed, values


def refresh_token(
    session: Session, tenant: str, settings: IdentitySettings, now: datetime, access: IssuedToken, nonce: str | None
) -> str:
    token = secrets.token_urlsafe(48)
    session.add(
        IssuedToken(
            tenant=tenant,
            jti=token,
            kind="refresh",
            client_id=access.client_id,
            cccd=access.cccd,
            subject=access.subject,
            scope=access.scope,
            acr=access.acr,
            nonce=nonce,
            session_id=access.session_id,
            auth_time=access.auth_time,
            code=access.code,
            family=access.family,
            issued_at=now,
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    return token


def id_token(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    client: Client,
    now: datetime,
    access_token: str,
    row: IssuedToken,
    nonce: str | None,
) -> str:
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": row.subject,
        "aud": client.client_id,
        "azp": client.client_id,
        "iat": ts(now),
        "exp": ts(now + timedelta(seconds=settings.id_token_ttl_seconds)),
        "auth_time": ts(aware(row.auth_time)) if row.auth_time else ts(now),
        "acr": row.acr,
        "amr": ["vneid"],
        "sid": row.session_id,
        "at_hash": b64url(hashlib.sha256(access_token.encode()).digest()[:16]),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    hit = switches.take(session, tenant, list(ID_TOKEN_SWITCHES), client.client_id)
    if hit is None:
        return keys.sign(session, tenant, claims)
    return _spoiled_id_token(session, tenant, settings, issuer, now, claims, hit.name)


def _spoiled_id_token(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    now: datetime,
    claims: dict[str, Any],
    switch: str,
) -> str:
    """The ID token as an ID token switch spoils it."""
    if switch == "INVALID_ISSUER":
        claims["iss"] = issuer.rstrip("/") + "/wrong-issuer"
    elif switch == "INVALID_AUDIENCE":
        claims["aud"] = "another-client"
        claims["azp"] = "another-client"
    elif switch == "TOKEN_EXPIRED":
        claims["iat"] = ts(now - timedelta(seconds=settings.id_token_ttl_seconds + 600))
        claims["exp"] = ts(now - timedelta(seconds=600))
    elif switch == "NONCE_MISMATCH":
        claims["nonce"] = secrets.token_urlsafe(16)
    elif switch == "WRONG_KEY_ID":
        return keys.sign(session, tenant, claims, kid="unknown-" + secrets.token_hex(8))
    token = keys.sign(session, tenant, claims)
    if switch == "INVALID_SIGNATURE":
        head, body, sig = token.split(".")
        raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
        raw[len(raw) // 2] ^= 0xFF
        token = f"{head}.{body}.{b64url(bytes(raw))}"
    return token


def response(access: str, row: IssuedToken, settings: IdentitySettings) -> dict[str, Any]:
    return reply(access, row.scope, settings)


def reply(access: str, scope: str, settings: IdentitySettings) -> dict[str, Any]:
    """The token endpoint's reply for an access token (without a refresh or ID token)."""
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": settings.access_token_ttl_seconds,
        "scope": scope,
    }
