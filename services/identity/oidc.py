"""The OpenID Connect provider's behaviour: authorization, tokens, userinfo, logout.

No HTTP types here: the router hands in parameters, headers it needs and the issuer URL,
and turns the results (redirect URLs, token dicts) or errors into replies. Every time is
the tenant's test-clock time.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from services.identity import clients, keys, people
from services.identity.errors import AuthorizeError, invalid_grant, invalid_request, invalid_token
from services.identity.models import (
    AuthorizationCode,
    Client,
    IssuedToken,
    LoginSession,
    Person,
    UsedAssertion,
    aware,
)
from services.identity.settings import IdentitySettings
from vnsandbox import switches
from vnsandbox.errors import OAuthError
from vnsandbox.vn import cccd

#: Error switches of the authorization endpoint: switch → OAuth ``error`` sent to the client.
AUTHORIZE_SWITCHES = {
    "ACCESS_DENIED": "access_denied",
    "LOGIN_REQUIRED": "login_required",
    "TEMPORARILY_UNAVAILABLE": "temporarily_unavailable",
    "SERVER_ERROR": "server_error",
}
#: Error switches that spoil the ID token the token endpoint returns.
ID_TOKEN_SWITCHES = (
    "INVALID_SIGNATURE",
    "WRONG_KEY_ID",
    "INVALID_ISSUER",
    "INVALID_AUDIENCE",
    "TOKEN_EXPIRED",
    "NONCE_MISMATCH",
)
SWITCHES = {
    "ACCESS_DENIED": "authorize: the citizen refuses (error=access_denied to the redirect URI)",
    "LOGIN_REQUIRED": "authorize: no usable login session (error=login_required)",
    "TEMPORARILY_UNAVAILABLE": "authorize: VNeID overloaded or in maintenance (error=temporarily_unavailable)",
    "SERVER_ERROR": "authorize: VNeID fails internally (error=server_error)",
    "INVALID_SIGNATURE": "token: the ID token's signature does not verify",
    "WRONG_KEY_ID": "token: the ID token names a key id absent from the JWKS",
    "INVALID_ISSUER": "token: the ID token's iss is not the provider's issuer",
    "INVALID_AUDIENCE": "token: the ID token's aud is another client",
    "TOKEN_EXPIRED": "token: the ID token has already expired when it is issued",
    "NONCE_MISMATCH": "token: the ID token carries a nonce other than the one sent",
    "LEVEL_TOO_LOW": "authorize: every persona counts as level 1 (refused where level 2 is required, acr=1 otherwise)",
    "SLOW_APPROVAL": "authorize: the approval in the VNeID app takes params.delay_seconds (default 3) before the "
    "redirect",
}
LEVEL_ERROR = "unmet_authentication_requirements"
SESSION_COOKIE = "vneid_sid"
LOGIN_IDP = "BCA"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def with_query(uri: str, params: dict[str, str | None]) -> str:
    """``uri`` with ``params`` added to its query (keeping the query it already has)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


# -- authorization requests ------------------------------------------------------------------


class AuthorizeRequest(BaseModel):
    """The parameters of an authorization request (query or form). The router takes the form
    post of ``/oauth2/authorize`` and ``/oauth2/login`` as this model, so the parameter list
    stands once."""

    model_config = ConfigDict(extra="ignore")

    client_id: str | None = None
    redirect_uri: str | None = None
    response_type: str | None = None
    scope: str | None = None
    state: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    acr_values: str | None = None
    prompt: str | None = None
    login_hint: str | None = None
    max_age: str | None = None
    response_mode: str | None = None

    @classmethod
    def from_params(cls, params: dict[str, str]) -> AuthorizeRequest:
        return cls(**{k: v for k, v in params.items() if k in cls.model_fields})

    def as_params(self) -> dict[str, str]:
        return {name: v for name in type(self).model_fields if (v := getattr(self, name)) is not None}

    @property
    def scopes(self) -> list[str]:
        return (self.scope or "").split()

    @property
    def prompts(self) -> set[str]:
        return set((self.prompt or "").split())


@dataclass
class Authorization:
    """A validated authorization request: the client, where to answer, what level it needs."""

    request: AuthorizeRequest
    client: Client
    redirect_uri: str
    required_level: int

    def error_url(self, error: AuthorizeError) -> str:
        return with_query(
            self.redirect_uri,
            {"error": error.error, "error_description": error.description(), "state": self.request.state},
        )


def resolve_client(session: Session, tenant: str, req: AuthorizeRequest) -> tuple[Client, str]:
    """Client and redirect URI, or an error that must NOT be redirected (RFC 6749 §4.1.2.1)."""
    if not req.client_id:
        raise invalid_request("client_id is missing", "Thiếu client_id")
    client = clients.find(session, tenant, req.client_id)
    if client is None:
        raise OAuthError("invalid_client", f"Unknown client {req.client_id!r}", "Ứng dụng không tồn tại")
    if req.redirect_uri is None:
        if len(client.redirect_uris) != 1:
            raise invalid_request("redirect_uri is missing", "Thiếu redirect_uri")
        return client, client.redirect_uris[0]
    # Exact string match: no prefix, no case folding, no normalisation (RFC 9700 §4.1.3).
    if req.redirect_uri not in client.redirect_uris:
        raise invalid_request(
            "redirect_uri is not registered for this client (exact match required)",
            "redirect_uri chưa được đăng ký cho ứng dụng (phải khớp chính xác)",
        )
    return client, req.redirect_uri


def validate(session: Session, tenant: str, req: AuthorizeRequest, settings: IdentitySettings) -> Authorization:
    """Check an authorization request; redirectable problems raise :class:`AuthorizeError`."""
    client, redirect_uri = resolve_client(session, tenant, req)
    auth = Authorization(req, client, redirect_uri, client.required_level)
    if req.response_type != "code":
        raise AuthorizeErrorAt(
            auth,
            AuthorizeError(
                "unsupported_response_type",
                "Only response_type=code is supported",
                "Chỉ hỗ trợ response_type=code",
            ),
        )
    if req.response_mode not in (None, "query"):
        raise AuthorizeErrorAt(
            auth, AuthorizeError("invalid_request", "Only response_mode=query", "Chỉ hỗ trợ response_mode=query")
        )
    if "authorization_code" not in client.grant_types:
        raise AuthorizeErrorAt(
            auth,
            AuthorizeError(
                "unauthorized_client",
                "This client may not use the authorization code flow",
                "Ứng dụng không được dùng luồng authorization code",
            ),
        )
    machine = machine_scopes(req.scopes)
    if machine:
        raise AuthorizeErrorAt(auth, AuthorizeError("invalid_scope", *_machine_scope_texts(machine)))
    unknown = [s for s in req.scopes if s not in client.scopes]
    if unknown:
        raise AuthorizeErrorAt(
            auth,
            AuthorizeError(
                "invalid_scope",
                f"Scopes not allowed for this client: {' '.join(unknown)}",
                f"Phạm vi không được phép: {' '.join(unknown)}",
            ),
        )
    method = req.code_challenge_method
    if req.code_challenge is None:
        if method is not None:
            raise AuthorizeErrorAt(
                auth,
                AuthorizeError(
                    "invalid_request",
                    "code_challenge_method without code_challenge",
                    "Có code_challenge_method nhưng thiếu code_challenge",
                ),
            )
        if client.require_pkce:
            raise AuthorizeErrorAt(
                auth,
                AuthorizeError(
                    "invalid_request", "PKCE is required for this client", "Ứng dụng này bắt buộc dùng PKCE"
                ),
            )
    else:
        method = method or "plain"
        if method not in ("S256", "plain") or (method == "plain" and settings.pkce_require_s256):
            allowed = "S256" if settings.pkce_require_s256 else "S256 or plain"
            raise AuthorizeErrorAt(
                auth,
                AuthorizeError(
                    "invalid_request",
                    f"code_challenge_method must be {allowed}",
                    f"code_challenge_method phải là {allowed}",
                ),
            )
        if not 43 <= len(req.code_challenge) <= 128:
            raise AuthorizeErrorAt(
                auth,
                AuthorizeError(
                    "invalid_request",
                    "code_challenge must be 43–128 characters",
                    "code_challenge phải dài 43–128 ký tự",
                ),
            )
        req.code_challenge_method = method
    if req.acr_values:
        levels = [v for v in req.acr_values.split() if v in ("1", "2")]
        if not levels:
            raise AuthorizeErrorAt(
                auth,
                AuthorizeError("invalid_request", "acr_values must be 1 and/or 2", "acr_values phải là 1 và/hoặc 2"),
            )
        auth.required_level = max(client.required_level, min(int(v) for v in levels))
    if req.max_age is not None and not req.max_age.isdigit():
        raise AuthorizeErrorAt(
            auth, AuthorizeError("invalid_request", "max_age must be seconds", "max_age phải là số giây")
        )
    return auth


def machine_scopes(scopes: list[str]) -> list[str]:
    """The scopes among ``scopes`` that only a system's own token may carry."""
    return [s for s in scopes if s in clients.MACHINE_SCOPES]


def _machine_scope_texts(machine: list[str]) -> tuple[str, str]:
    names = " ".join(machine)
    return (
        f"The scope {names} is for a system's own access token (grant_type=client_credentials), "
        "never for a citizen's login",
        f"Phạm vi {names} chỉ dành cho access token của hệ thống (grant_type=client_credentials), "
        "không dùng cho đăng nhập của công dân",
    )


def refuse_machine_scopes(scope: str) -> None:
    """``invalid_scope`` when a citizen's code or refresh token would carry a machine scope."""
    machine = machine_scopes(scope.split())
    if machine:
        raise OAuthError("invalid_scope", *_machine_scope_texts(machine), keep_changes=True)


def is_machine_token(row: IssuedToken) -> bool:
    """A token of a system itself (``client_credentials``), bound to no citizen's login."""
    return not row.cccd and not row.code and not row.session_id and row.subject == row.client_id


class AuthorizeErrorAt(Exception):
    """An authorization error to send to the client's redirect URI."""

    def __init__(self, auth: Authorization, error: AuthorizeError) -> None:
        super().__init__(error.message_en)
        self.auth = auth
        self.error = error

    @property
    def url(self) -> str:
        return self.auth.error_url(self.error)


def apply_authorize_switches(session: Session, tenant: str, auth: Authorization) -> float:
    """Raise the error an authorize switch asks for; returns the SLOW_APPROVAL delay (0: none)."""
    scope = auth.client.client_id
    hit = switches.take(session, tenant, list(AUTHORIZE_SWITCHES), scope)
    if hit is not None:
        error = AUTHORIZE_SWITCHES[hit.name]
        texts = {
            "access_denied": ("The user denied the request", "Người dùng từ chối yêu cầu"),
            "login_required": ("The user must log in", "Người dùng cần đăng nhập"),
            "temporarily_unavailable": (
                "The service is temporarily unavailable",
                "Hệ thống định danh tạm thời không khả dụng",
            ),
            "server_error": ("The server encountered an error", "Hệ thống định danh gặp lỗi"),
        }[error]
        raise AuthorizeErrorAt(auth, AuthorizeError(error, *texts))
    slow = switches.take(session, tenant, "SLOW_APPROVAL", scope)
    return 0.0 if slow is None else float(slow.params.get("delay_seconds", 3.0))


def level_of(session: Session, tenant: str, client_id: str, person: Person) -> int:
    if person.level >= 2 and switches.peek(session, tenant, "LEVEL_TOO_LOW", client_id) is not None:
        return 1
    return person.level


def check_person(session: Session, tenant: str, auth: Authorization, number: str, today: date | None = None) -> int:
    """The level a login of ``number`` gets, or the OIDC error refusing it (given ``today``, a
    number meaning a birth after today's year is refused naming ``BIRTH_IN_FUTURE`` and its rule)."""
    future = [p for p in cccd.problems(number, today=today) if p.rule == cccd.FUTURE_BIRTH_RULE]
    if future:
        raise AuthorizeErrorAt(
            auth,
            AuthorizeError(
                "access_denied",
                f"BIRTH_IN_FUTURE: number {number}: {future[0].message_en} "
                f"(field SoDinhDanh, rule {cccd.FUTURE_BIRTH_RULE})",
                f"BIRTH_IN_FUTURE: số {number}: {future[0].message_vi} "
                f"(trường SoDinhDanh, quy tắc {cccd.FUTURE_BIRTH_RULE})",
            ),
        )
    found = people.find(session, tenant, number) if not cccd.format_problems(number) else None
    if found is None:
        raise AuthorizeErrorAt(
            auth,
            AuthorizeError(
                "access_denied",
                f"No VNeID account for number {number}",
                f"Không có tài khoản định danh điện tử cho số {number}",
            ),
        )
    if found.level < 1 or found.death_date is not None:
        raise AuthorizeErrorAt(
            auth,
            AuthorizeError(
                "access_denied",
                "The VNeID account is not active",
                "Tài khoản định danh điện tử chưa được kích hoạt hoặc đã bị khóa",
            ),
        )
    level = level_of(session, tenant, auth.client.client_id, found)
    if level < auth.required_level:
        raise AuthorizeErrorAt(
            auth,
            AuthorizeError(
                LEVEL_ERROR,
                f"This service requires a level-{auth.required_level} electronic identity; the account is level "
                f"{level}",
                f"Dịch vụ yêu cầu tài khoản định danh điện tử mức độ {auth.required_level}; tài khoản hiện tại "
                f"mức độ {level}",
            ),
        )
    return level


def current_session(
    session: Session, tenant: str, sid: str | None, now: datetime, lifetime_seconds: int
) -> LoginSession | None:
    """The browser's live login session: not logged out, and younger than ``lifetime_seconds``."""
    if not sid:
        return None
    row = session.scalar(select(LoginSession).where(LoginSession.tenant == tenant, LoginSession.sid == sid))
    if row is None or row.ended_at is not None:
        return None
    return row if now - aware(row.auth_time) < timedelta(seconds=lifetime_seconds) else None


def session_usable(login: LoginSession | None, req: AuthorizeRequest, now: datetime) -> bool:
    if login is None or "login" in req.prompts:
        return False
    return not (req.max_age is not None and now - aware(login.auth_time) > timedelta(seconds=int(req.max_age)))


def complete(
    session: Session,
    tenant: str,
    auth: Authorization,
    number: str,
    now: datetime,
    settings: IdentitySettings,
    login: LoginSession | None = None,
) -> tuple[str, LoginSession]:
    """Log ``number`` in (or reuse ``login``) and answer the client with a code."""
    level = check_person(session, tenant, auth, number, now.date())
    acr = str(level)
    if login is None or login.cccd != number:
        login = LoginSession(tenant=tenant, sid=secrets.token_urlsafe(24), cccd=number, acr=acr, auth_time=now)
        session.add(login)
    code = AuthorizationCode(
        tenant=tenant,
        code=secrets.token_urlsafe(32),
        client_id=auth.client.client_id,
        cccd=number,
        redirect_uri=auth.redirect_uri,
        scope=" ".join(auth.request.scopes),
        nonce=auth.request.nonce,
        code_challenge=auth.request.code_challenge,
        code_challenge_method=auth.request.code_challenge_method,
        acr=acr,
        session_id=login.sid,
        auth_time=aware(login.auth_time),
        expires_at=now + timedelta(seconds=settings.authorization_code_ttl_seconds),
    )
    session.add(code)
    session.flush()
    return with_query(auth.redirect_uri, {"code": code.code, "state": auth.request.state}), login


def denied_url(auth: Authorization) -> str:
    return auth.error_url(AuthorizeError("access_denied", "The user denied the request", "Người dùng từ chối yêu cầu"))


# -- tokens ----------------------------------------------------------------------------------------


def sign(session: Session, tenant: str, claims: dict[str, Any], typ: str = "JWT") -> str:
    key = keys.active_key(session, tenant)
    return jwt.encode(
        claims, keys.private_key(key.private_pem), algorithm="RS256", headers={"kid": key.kid, "typ": typ}
    )


def _ts(value: datetime) -> int:
    return int(value.timestamp())


def _access_token(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    client: Client,
    now: datetime,
    *,
    subject: str,
    scope: str,
    number: str = "",
    acr: str = "",
    auth_time: datetime | None = None,
    code: str = "",
    family: str = "",
    session_id: str = "",
) -> tuple[str, IssuedToken]:
    jti = uuid.uuid4().hex
    expires = now + timedelta(seconds=settings.access_token_ttl_seconds)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": client.client_id,
        "client_id": client.client_id,
        "scope": scope,
        "iat": _ts(now),
        "nbf": _ts(now),
        "exp": _ts(expires),
        "jti": jti,
    }
    if acr:
        claims["acr"] = acr
    row = IssuedToken(
        tenant=tenant,
        jti=jti,
        kind="access",
        client_id=client.client_id,
        cccd=number,
        subject=subject,
        scope=scope,
        acr=acr,
        session_id=session_id,
        auth_time=auth_time,
        code=code,
        family=family,
        issued_at=now,
        expires_at=expires,
    )
    session.add(row)
    return sign(session, tenant, claims, typ="at+jwt"), row


def _refresh_token(
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


def _id_token(
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
        "iat": _ts(now),
        "exp": _ts(now + timedelta(seconds=settings.id_token_ttl_seconds)),
        "auth_time": _ts(aware(row.auth_time)) if row.auth_time else _ts(now),
        "acr": row.acr,
        "amr": ["vneid"],
        "sid": row.session_id,
        "at_hash": b64url(hashlib.sha256(access_token.encode()).digest()[:16]),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    hit = switches.take(session, tenant, list(ID_TOKEN_SWITCHES), client.client_id)
    kid_override = None
    if hit is not None:
        if hit.name == "INVALID_ISSUER":
            claims["iss"] = issuer.rstrip("/") + "/wrong-issuer"
        elif hit.name == "INVALID_AUDIENCE":
            claims["aud"] = "another-client"
            claims["azp"] = "another-client"
        elif hit.name == "TOKEN_EXPIRED":
            claims["iat"] = _ts(now - timedelta(seconds=settings.id_token_ttl_seconds + 600))
            claims["exp"] = _ts(now - timedelta(seconds=600))
        elif hit.name == "NONCE_MISMATCH":
            claims["nonce"] = secrets.token_urlsafe(16)
        elif hit.name == "WRONG_KEY_ID":
            kid_override = "unknown-" + secrets.token_hex(8)
    token = sign(session, tenant, claims)
    if kid_override is not None:
        key = keys.active_key(session, tenant)
        token = jwt.encode(
            claims, keys.private_key(key.private_pem), algorithm="RS256", headers={"kid": kid_override, "typ": "JWT"}
        )
    if hit is not None and hit.name == "INVALID_SIGNATURE":
        head, body, sig = token.split(".")
        raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
        raw[len(raw) // 2] ^= 0xFF
        token = f"{head}.{body}.{b64url(bytes(raw))}"
    return token


class TokenForm(BaseModel):
    """The grant parameters of a token request (the router's form adds client authentication)."""

    model_config = ConfigDict(extra="ignore")

    grant_type: str | None = None
    code: str | None = None
    redirect_uri: str | None = None
    code_verifier: str | None = None
    refresh_token: str | None = None
    scope: str | None = None


def _response(access: str, row: IssuedToken, settings: IdentitySettings) -> dict[str, Any]:
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": settings.access_token_ttl_seconds,
        "scope": row.scope,
    }


def token(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    client: Client,
    form: TokenForm,
    now: datetime,
) -> dict[str, Any]:
    """Run one token request of an authenticated client."""
    grant = form.grant_type
    if grant is None:
        raise invalid_request("grant_type is missing", "Thiếu grant_type")
    if grant not in clients.GRANT_TYPES:
        raise OAuthError("unsupported_grant_type", f"Unsupported grant_type {grant!r}", "grant_type không được hỗ trợ")
    if grant not in client.grant_types:
        raise OAuthError("unauthorized_client", f"This client may not use {grant}", f"Ứng dụng không được dùng {grant}")
    if grant == "authorization_code":
        return _code_grant(session, tenant, settings, issuer, client, form, now)
    if grant == "refresh_token":
        return _refresh_grant(session, tenant, settings, issuer, client, form, now)
    return _client_credentials(session, tenant, settings, issuer, client, form, now)


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


def _code_grant(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    client: Client,
    form: TokenForm,
    now: datetime,
) -> dict[str, Any]:
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
    person = people.find(session, tenant, code.cccd)
    if person is None:
        raise invalid_grant("The account no longer exists", "Tài khoản không còn tồn tại", keep_changes=True)
    family = uuid.uuid4().hex
    access, row = _access_token(
        session,
        tenant,
        settings,
        issuer,
        client,
        now,
        subject=person.tech_id,
        scope=code.scope,
        number=person.cccd,
        acr=code.acr,
        auth_time=aware(code.auth_time),
        code=code.code,
        family=family,
        session_id=code.session_id,
    )
    out = _response(access, row, settings)
    if "openid" in code.scope.split():
        out["id_token"] = _id_token(session, tenant, settings, issuer, client, now, access, row, code.nonce)
    if "refresh_token" in client.grant_types:
        out["refresh_token"] = _refresh_token(session, tenant, settings, now, row, code.nonce)
    session.flush()
    return out


def _refresh_grant(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    client: Client,
    form: TokenForm,
    now: datetime,
) -> dict[str, Any]:
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
        # A rotated refresh token used again: someone holds a copy. Revoke the whole family.
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
    access, row = _access_token(
        session,
        tenant,
        settings,
        issuer,
        client,
        now,
        subject=old.subject,
        scope=scope,
        number=old.cccd,
        acr=old.acr,
        auth_time=aware(old.auth_time) if old.auth_time else None,
        code=old.code,
        family=old.family,
        session_id=old.session_id,
    )
    out = _response(access, row, settings)
    if "openid" in scope.split() and old.cccd:
        out["id_token"] = _id_token(session, tenant, settings, issuer, client, now, access, row, None)
    out["refresh_token"] = _refresh_token(session, tenant, settings, now, row, old.nonce)
    session.flush()
    return out


def _client_credentials(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    client: Client,
    form: TokenForm,
    now: datetime,
) -> dict[str, Any]:
    system_scopes = [s for s in client.scopes if s not in clients.OIDC_SCOPES]
    requested = form.scope.split() if form.scope else system_scopes
    refused = [s for s in requested if s not in system_scopes]
    if refused:
        raise OAuthError(
            "invalid_scope",
            f"Scopes not allowed for client_credentials: {' '.join(refused)}",
            f"Phạm vi không được phép với client_credentials: {' '.join(refused)}",
        )
    access, row = _access_token(
        session, tenant, settings, issuer, client, now, subject=client.client_id, scope=" ".join(requested)
    )
    session.flush()
    return _response(access, row, settings)


# -- using tokens ----------------------------------------------------------------------------------


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
        claims = jwt.decode(
            token_value,
            keys.public_key(_jwk_json(key.public_jwk)),
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
        )
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


def _jwk_json(jwk: dict[str, Any]) -> str:
    import json

    return json.dumps(jwk, sort_keys=True)


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
    row: IssuedToken | None = session.scalar(
        select(IssuedToken).where(
            IssuedToken.tenant == tenant, IssuedToken.jti == token_value, IssuedToken.kind == "refresh"
        )
    )
    if row is None:
        try:
            row = verify_access_token(session, tenant, settings, token_value, now)
        except OAuthError:
            return {"active": False}
    if row is None or row.revoked or aware(row.expires_at) <= now or row.client_id != client.client_id:
        return {"active": False}
    out: dict[str, Any] = {
        "active": True,
        "scope": row.scope,
        "client_id": row.client_id,
        "sub": row.subject,
        "aud": row.client_id,
        "iss": issuer,
        "exp": _ts(aware(row.expires_at)),
        "iat": _ts(aware(row.issued_at)),
        "token_type": "Bearer" if row.kind == "access" else "refresh_token",
    }
    if row.acr:
        out["acr"] = row.acr
    if row.cccd:
        out["username"] = row.cccd
    return out


def revoke(session: Session, tenant: str, client: Client, token_value: str) -> None:
    """RFC 7009: revoke a token of this client (a refresh token takes its access tokens along)."""
    row = session.scalar(
        select(IssuedToken).where(
            IssuedToken.tenant == tenant, IssuedToken.jti == token_value, IssuedToken.kind == "refresh"
        )
    )
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


# -- logout ------------------------------------------------------------------------------------------


def end_session(
    session: Session,
    tenant: str,
    sid: str | None,
    id_token_hint: str | None,
    client_id: str | None,
    post_logout_redirect_uri: str | None,
    state: str | None,
    now: datetime,
) -> str | None:
    """RP-initiated logout: end the login session; the URL to send the browser to, if any."""
    hinted_client = None
    hinted_sid = None
    if id_token_hint:
        try:
            claims = jwt.decode(id_token_hint, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise invalid_request("id_token_hint is not a JWT", "id_token_hint không phải JWT") from None
        aud = claims.get("aud")
        hinted_client = aud[0] if isinstance(aud, list) and aud else aud
        hinted_sid = claims.get("sid")
        _check_own_token(session, tenant, id_token_hint)
    if client_id and hinted_client and client_id != hinted_client:
        raise invalid_request(
            "client_id differs from the id_token_hint's audience", "client_id khác aud của id_token_hint"
        )
    cid = client_id or hinted_client
    target = None
    if post_logout_redirect_uri is not None:
        client = clients.find(session, tenant, str(cid)) if cid else None
        if client is None:
            raise invalid_request(
                "post_logout_redirect_uri needs id_token_hint or client_id",
                "post_logout_redirect_uri cần id_token_hint hoặc client_id",
            )
        if post_logout_redirect_uri not in client.post_logout_redirect_uris:
            raise invalid_request(
                "post_logout_redirect_uri is not registered for this client (exact match required)",
                "post_logout_redirect_uri chưa được đăng ký cho ứng dụng (phải khớp chính xác)",
            )
        target = with_query(post_logout_redirect_uri, {"state": state})
    sids = [s for s in (sid, hinted_sid) if s]
    if sids:
        for row in session.scalars(
            select(LoginSession).where(LoginSession.tenant == tenant, or_(*(LoginSession.sid == s for s in sids)))
        ):
            row.ended_at = now
    session.flush()
    return target


def _check_own_token(session: Session, tenant: str, token_value: str) -> None:
    """An ID token hint must carry one of our signatures (expiry does not matter here)."""
    try:
        kid = str(jwt.get_unverified_header(token_value).get("kid"))
    except jwt.PyJWTError:
        raise invalid_request("id_token_hint is malformed", "id_token_hint không hợp lệ") from None
    for key in keys.key_set(session, tenant):
        if key.kid == kid:
            try:
                jwt.decode(
                    token_value,
                    keys.public_key(_jwk_json(key.public_jwk)),
                    algorithms=["RS256"],
                    options={"verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False},
                )
                return
            except jwt.PyJWTError:
                break
    raise invalid_request("id_token_hint was not issued by this provider", "id_token_hint không do hệ thống này cấp")


# -- housekeeping ------------------------------------------------------------------------------------


def purge_expired(session: Session, before: datetime) -> dict[str, int]:
    """Delete codes, tokens and client-assertion ids that expired before ``before`` (every tenant).

    Called with real time minus a margin: test clocks only move forward, so anything expired
    by real time is expired for every tenant too.
    """
    counts = {}
    for table, column in (
        (AuthorizationCode, AuthorizationCode.expires_at),
        (IssuedToken, IssuedToken.expires_at),
        (UsedAssertion, UsedAssertion.expires_at),
    ):
        result = session.execute(delete(table).where(column < before))
        counts[table.__tablename__] = int(result.rowcount)  # type: ignore[attr-defined]
    return counts
