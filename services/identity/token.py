"""The token endpoint and its friends: client authentication, the grants, verifying access
tokens, introspection (RFC 7662) and revocation (RFC 7009). No HTTP types.

Grants: ``authorization_code`` (PKCE checked; a code is spent on first use, and its reuse
revokes what it issued), ``refresh_token`` (rotated: reusing a spent one revokes the family)
and ``client_credentials`` (a system's own token). Errors that must survive the request's
rollback carry ``keep_changes``. The tokens themselves are made by :mod:`minting`. Every time is
the tenant's test-clock time.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime
from typing import Any

import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.identity import clients, keys, minting, people
from services.identity.errors import invalid_grant, invalid_request, invalid_token
from services.identity.models import AuthorizationCode, Client, IssuedToken, aware
from services.identity.oidc import b64url, machine_scope_texts, machine_scopes, ts
from services.identity.schemas import TokenGrant
from services.identity.settings import IdentitySettings
from vnsandbox.errors import OAuthError

# -- client authentication ---------------------------------------------------------------------------


def authenticate(session: Session, tenant: str, issuer: str, creds: clients.Credentials, now: datetime) -> Client:
    """The client a token, introspection or revocation request authenticates as; a client
    assertion may name any of these endpoints (or the issuer) as its audience."""
    audiences = [f"{issuer}/oauth2/token", issuer, f"{issuer}/oauth2/introspect", f"{issuer}/oauth2/revoke"]
    return clients.authenticate(session, tenant, creds, audiences, now)


# -- grants ------------------------------------------------------------------------------------------


def grant(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    client: Client,
    form: TokenGrant,
    now: datetime,
) -> dict[str, Any]:
    """Run one token request of an authenticated client."""
    grant_type = form.grant_type
    if grant_type is None:
        raise invalid_request("grant_type is missing", "Thiếu grant_type")
    if grant_type not in clients.GRANT_TYPES:
        raise OAuthError(
            "unsupported_grant_type", f"Unsupported grant_type {grant_type!r}", "grant_type không được hỗ trợ"
        )
    if grant_type not in client.grant_types:
        raise OAuthError(
            "unauthorized_client", f"This client may not use {grant_type}", f"Ứng dụng không được dùng {grant_type}"
        )
    return GRANTS[grant_type](session, tenant, settings, issuer, client, form, now)


def refuse_machine_scopes(scope: str) -> None:
    """``invalid_scope`` when a citizen's code or refresh token would carry a machine scope."""
    machine = machine_scopes(scope.split())
    if machine:
        raise OAuthError("invalid_scope", *machine_scope_texts(machine), keep_changes=True)


def _pkce_ok(code: AuthorizationCode, verifier: str | None) -> bool:
    if code.code_challenge is None:
        return verifier is None
    if verifier is None or not 43 <= len(verifier) <= 128:
        return False
    s256 = code.code_challenge_method == "S256"
    computed = b64url(hashlib.sha256(verifier.encode()).digest()) if s256 else verifier
    return secrets.compare_digest(computed, code.code_challenge)


def revoke_from_code(session: Session, tenant: str, code: str) -> int:
    result = session.execute(
        update(IssuedToken).where(IssuedToken.tenant == tenant, IssuedToken.code == code).values(revoked=True)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _spend_code(session: Session, tenant: str, client: Client, form: TokenGrant, now: datetime) -> AuthorizationCode:
    """The request's authorization code, marked used; every refusal after the marking keeps it spent."""
    if not form.code:
        raise invalid_request("code is missing", "Thiếu code")
    code = session.scalar(
        select(AuthorizationCode)
        .where(AuthorizationCode.tenant == tenant, AuthorizationCode.code == form.code)
        .with_for_update()
    )
    if code is None or code.client_id != client.client_id:
        raise invalid_grant("Unknown authorization code", "Mã ủy quyền không tồn tại")
    if code.used_at is not None:
        revoke_from_code(session, tenant, code.code)
        raise invalid_grant(
            "The authorization code was already used; tokens issued from it are revoked",
            "Mã ủy quyền đã được sử dụng; các token cấp từ mã này đã bị thu hồi",
            keep_changes=True,
        )
    code.used_at = now
    if aware(code.expires_at) <= now:
        raise invalid_grant("The authorization code has expired", "Mã ủy quyền đã hết hạn", keep_changes=True)
    if form.redirect_uri != code.redirect_uri:
        raise invalid_grant(
            "redirect_uri differs from the authorization request",
            "redirect_uri khác với yêu cầu ủy quyền",
            keep_changes=True,
        )
    if not _pkce_ok(code, form.code_verifier):
        raise invalid_grant(
            "PKCE verification failed (code_verifier)", "Xác minh PKCE thất bại (code_verifier)", keep_changes=True
        )
    refuse_machine_scopes(code.scope)
    return code


def _code_grant(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    client: Client,
    form: TokenGrant,
    now: datetime,
) -> dict[str, Any]:
    code = _spend_code(session, tenant, client, form, now)
    person = people.find(session, tenant, code.cccd)
    if person is None:
        raise invalid_grant("The account no longer exists", "Tài khoản không còn tồn tại", keep_changes=True)
    issue = minting.Issue(
        subject=person.tech_id,
        scope=code.scope,
        number=person.cccd,
        acr=code.acr,
        auth_time=aware(code.auth_time),
        code=code.code,
        family=uuid.uuid4().hex,
        session_id=code.session_id,
    )
    access, row = minting.access_token(session, tenant, settings, issuer, client, now, issue)
    out = minting.response(access, row, settings)
    if "openid" in code.scope.split():
        out["id_token"] = minting.id_token(session, tenant, settings, issuer, client, now, access, row, code.nonce)
    if "refresh_token" in client.grant_types:
        out["refresh_token"] = minting.refresh_token(session, tenant, settings, now, row, code.nonce)
    session.flush()
    return out


def _rotate_refresh_token(
    session: Session, tenant: str, client: Client, form: TokenGrant, now: datetime
) -> tuple[IssuedToken, str]:
    """The request's refresh token, now spent, and the scope the new tokens get. A spent one
    used again means someone holds a copy: its whole family is revoked."""
    if not form.refresh_token:
        raise invalid_request("refresh_token is missing", "Thiếu refresh_token")
    old = session.scalar(
        select(IssuedToken)
        .where(IssuedToken.tenant == tenant, IssuedToken.jti == form.refresh_token, IssuedToken.kind == "refresh")
        .with_for_update()
    )
    if old is None or old.client_id != client.client_id:
        raise invalid_grant("Unknown refresh token", "Refresh token không tồn tại")
    if old.revoked:
        session.execute(
            update(IssuedToken)
            .where(IssuedToken.tenant == tenant, IssuedToken.family == old.family)
            .values(revoked=True)
        )
        raise invalid_grant(
            "The refresh token was already used or revoked",
            "Refresh token đã được sử dụng hoặc đã bị thu hồi",
            keep_changes=True,
        )
    if aware(old.expires_at) <= now:
        raise invalid_grant("The refresh token has expired", "Refresh token đã hết hạn")
    refuse_machine_scopes(old.scope)
    scope = old.scope
    if form.scope:
        wider = [s for s in form.scope.split() if s not in old.scope.split()]
        if wider:
            raise OAuthError(
                "invalid_scope",
                f"Scopes beyond the original grant: {' '.join(wider)}",
                f"Phạm vi vượt quá lần cấp ban đầu: {' '.join(wider)}",
            )
        scope = form.scope
    old.revoked = True
    return old, scope


def _refresh_grant(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    client: Client,
    form: TokenGrant,
    now: datetime,
) -> dict[str, Any]:
    old, scope = _rotate_refresh_token(session, tenant, client, form, now)
    issue = minting.Issue(
        subject=old.subject,
        scope=scope,
        number=old.cccd,
        acr=old.acr,
        auth_time=aware(old.auth_time) if old.auth_time else None,
        code=old.code,
        family=old.family,
        session_id=old.session_id,
    )
    access, row = minting.access_token(session, tenant, settings, issuer, client, now, issue)
    out = minting.response(access, row, settings)
    if "openid" in scope.split() and old.cccd:
        out["id_token"] = minting.id_token(session, tenant, settings, issuer, client, now, access, row, None)
    out["refresh_token"] = minting.refresh_token(session, tenant, settings, now, row, old.nonce)
    session.flush()
    return out


def _client_credentials(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    client: Client,
    form: TokenGrant,
    now: datetime,
) -> dict[str, Any]:
    requested, refused = machine_scope(client.scopes, form.scope)
    if refused:
        raise OAuthError(
            "invalid_scope",
            f"Scopes not allowed for client_credentials: {' '.join(refused)}",
            f"Phạm vi không được phép với client_credentials: {' '.join(refused)}",
        )
    issue = minting.Issue(subject=client.client_id, scope=" ".join(requested))
    access, row = minting.access_token(session, tenant, settings, issuer, client, now, issue)
    session.flush()
    return minting.response(access, row, settings)


def machine_scope(client_scopes: list[str], scope: str | None) -> tuple[list[str], list[str]]:
    """The scopes a ``client_credentials`` token asks for (the client's system scopes when
    ``scope`` names none) and those of them the client may not have."""
    system_scopes = [s for s in client_scopes if s not in clients.OIDC_SCOPES]
    requested = scope.split() if scope else system_scopes
    return requested, [s for s in requested if s not in system_scopes]


#: grant_type → the function running it (the grant types of :data:`clients.GRANT_TYPES`).
GRANTS = {
    "authorization_code": _code_grant,
    "refresh_token": _refresh_grant,
    "client_credentials": _client_credentials,
}


# -- using tokens ------------------------------------------------------------------------------------


def verify_access_token(
    session: Session, tenant: str, settings: IdentitySettings, token_value: str, now: datetime
) -> IssuedToken:
    """The live access token behind ``token_value`` or ``invalid_token`` (401)."""
    try:
        header = jwt.get_unverified_header(token_value)
    except jwt.PyJWTError:
        raise invalid_token("The access token is malformed", "Access token không đúng định dạng") from None
    horizon = max(settings.access_token_ttl_seconds, settings.id_token_ttl_seconds)
    key = keys.verification_key(session, tenant, str(header.get("kid")), now, horizon)
    if key is None:
        raise invalid_token("The access token's key id is unknown", "Khóa ký của access token không xác định")
    try:
        claims = keys.verified_claims(token_value, key.public_jwk)
    except jwt.PyJWTError:
        raise invalid_token(
            "The access token's signature does not verify", "Chữ ký của access token không hợp lệ"
        ) from None
    row = session.scalar(
        select(IssuedToken).where(
            IssuedToken.tenant == tenant, IssuedToken.jti == str(claims.get("jti")), IssuedToken.kind == "access"
        )
    )
    if row is None or row.revoked:
        raise invalid_token("The access token was revoked", "Access token đã bị thu hồi")
    if aware(row.expires_at) <= now:
        raise invalid_token("The access token has expired", "Access token đã hết hạn")
    return row


def is_machine_token(row: IssuedToken) -> bool:
    """A token of a system itself (``client_credentials``), bound to no citizen's login."""
    return not row.cccd and not row.code and not row.session_id and row.subject == row.client_id


def _refresh_row(session: Session, tenant: str, token_value: str) -> IssuedToken | None:
    return session.scalar(
        select(IssuedToken).where(
            IssuedToken.tenant == tenant, IssuedToken.jti == token_value, IssuedToken.kind == "refresh"
        )
    )


def introspect(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    client: Client,
    token_value: str,
    now: datetime,
) -> dict[str, Any]:
    """RFC 7662: what ``token_value`` is, for its own client (inactive for everyone else)."""
    row = _refresh_row(session, tenant, token_value)
    if row is None:
        try:
            row = verify_access_token(session, tenant, settings, token_value, now)
        except OAuthError:
            return {"active": False}
    if row.revoked or aware(row.expires_at) <= now or row.client_id != client.client_id:
        return {"active": False}
    out: dict[str, Any] = {
        "active": True,
        "scope": row.scope,
        "client_id": row.client_id,
        "sub": row.subject,
        "aud": row.client_id,
        "iss": issuer,
        "exp": ts(aware(row.expires_at)),
        "iat": ts(aware(row.issued_at)),
        "token_type": "Bearer" if row.kind == "access" else "refresh_token",
    }
    if row.acr:
        out["acr"] = row.acr
    if row.cccd:
        out["username"] = row.cccd
    return out


def revoke(session: Session, tenant: str, client: Client, token_value: str) -> None:
    """RFC 7009: revoke a token of this client (a refresh token takes its access tokens along)."""
    row = _refresh_row(session, tenant, token_value)
    if row is not None:
        if row.client_id == client.client_id:
            session.execute(
                update(IssuedToken)
                .where(IssuedToken.tenant == tenant, IssuedToken.family == row.family, IssuedToken.family != "")
                .values(revoked=True)
            )
            row.revoked = True
        return
    try:
        jti = str(jwt.decode(token_value, options={"verify_signature": False}).get("jti", ""))
    except jwt.PyJWTError:
        return
    session.execute(
        update(IssuedToken)
        .where(
            IssuedToken.tenant == tenant,
            IssuedToken.jti == jti,
            IssuedToken.kind == "access",
            IssuedToken.client_id == client.client_id,
        )
        .values(revoked=True)
    )
