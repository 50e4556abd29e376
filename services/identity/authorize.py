"""Authorization requests: validation, the login decision and authorization codes. No HTTP types.

:func:`validate` checks a request in named steps; :func:`decide` answers a valid one (a headless
login, the reuse of the browser's login session, ``prompt=none``, or the login page) and
:func:`login_page_decision` what the login page posts; :func:`complete` logs a citizen in and
issues the code. What the browser gets is an :data:`Outcome`. Problems the client may hear of
go to its redirect URI (:class:`AuthorizeErrorAt`); an unknown client or redirect URI is an
:class:`OAuthError` shown as a page, never redirected (RFC 6749 §4.1.2.1).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from services.identity import clients, people
from services.identity.errors import AuthorizeError, invalid_request
from services.identity.models import AuthorizationCode, Client, LoginSession, Person, aware
from services.identity.oidc import machine_scope_texts, machine_scopes, with_query
from services.identity.schemas import AuthorizeRequest, person_to_wire
from services.identity.session import current_session
from services.identity.settings import IdentitySettings
from vnsandbox import clock, switches
from vnsandbox.errors import OAuthError
from vnsandbox.vn import cccd

#: Error switches of the authorization endpoint: switch → OAuth ``error`` sent to the client.
AUTHORIZE_SWITCHES = {
    "ACCESS_DENIED": "access_denied",
    "LOGIN_REQUIRED": "login_required",
    "TEMPORARILY_UNAVAILABLE": "temporarily_unavailable",
    "SERVER_ERROR": "server_error",
}
#: What the client is told for each error an authorize switch sends: English, Vietnamese.
SWITCH_TEXTS = {
    "access_denied": ("The user denied the request", "Người dùng từ chối yêu cầu"),
    "login_required": ("The user must log in", "Người dùng cần đăng nhập"),
    "temporarily_unavailable": ("The service is temporarily unavailable", "Hệ thống định danh tạm thời không khả dụng"),
    "server_error": ("The server encountered an error", "Hệ thống định danh gặp lỗi"),
}
LEVEL_ERROR = "unmet_authentication_requirements"
#: A headless login choice (header or ``login_hint``) that refuses instead of logging in.
DENY_CHOICES = ("deny", "tu-choi")


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


class AuthorizeErrorAt(Exception):
    """An authorization error to send to the client's redirect URI."""

    def __init__(self, auth: Authorization, error: AuthorizeError) -> None:
        super().__init__(error.message_en)
        self.auth = auth
        self.error = error

    @property
    def url(self) -> str:
        return self.auth.error_url(self.error)


# -- what the browser gets -----------------------------------------------------------------------


@dataclass(frozen=True)
class Redirect:
    """Back to the client (a code or an error); ``sid``: a new login session to remember."""

    url: str
    sid: str | None = None


@dataclass(frozen=True)
class LoginPage:
    """The VNeID login page: the personas to choose from, and why the last choice failed."""

    auth: Authorization
    personas: list[dict[str, Any]] = field(default_factory=list)
    query: str = ""
    message: str | None = None
    number: str = ""


@dataclass(frozen=True)
class ErrorPage:
    """An error shown to the user, since the client or its redirect URI cannot be trusted."""

    error: OAuthError


Outcome = Redirect | LoginPage | ErrorPage


# -- validation ----------------------------------------------------------------------------------------


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
    """Check an authorization request; redirectable problems raise :class:`AuthorizeErrorAt`."""
    client, redirect_uri = resolve_client(session, tenant, req)
    auth = Authorization(req, client, redirect_uri, client.required_level)
    try:
        for check in CHECKS:
            check(auth, settings)
    except AuthorizeError as error:
        raise AuthorizeErrorAt(auth, error) from None
    return auth


def _check_response(auth: Authorization, _settings: IdentitySettings) -> None:
    if auth.request.response_type != "code":
        raise AuthorizeError(
            "unsupported_response_type", "Only response_type=code is supported", "Chỉ hỗ trợ response_type=code"
        )
    if auth.request.response_mode not in (None, "query"):
        raise AuthorizeError("invalid_request", "Only response_mode=query", "Chỉ hỗ trợ response_mode=query")


def _check_code_flow_allowed(auth: Authorization, _settings: IdentitySettings) -> None:
    if "authorization_code" not in auth.client.grant_types:
        raise AuthorizeError(
            "unauthorized_client",
            "This client may not use the authorization code flow",
            "Ứng dụng không được dùng luồng authorization code",
        )


def _check_scopes(auth: Authorization, _settings: IdentitySettings) -> None:
    machine = machine_scopes(auth.request.scopes)
    if machine:
        raise AuthorizeError("invalid_scope", *machine_scope_texts(machine))
    unknown = [s for s in auth.request.scopes if s not in auth.client.scopes]
    if unknown:
        raise AuthorizeError(
            "invalid_scope",
            f"Scopes not allowed for this client: {' '.join(unknown)}",
            f"Phạm vi không được phép: {' '.join(unknown)}",
        )


def _check_pkce(auth: Authorization, settings: IdentitySettings) -> None:
    """PKCE as the client and the settings require; a challenge without a method is ``plain``."""
    req = auth.request
    if req.code_challenge is None:
        if req.code_challenge_method is not None:
            raise AuthorizeError(
                "invalid_request",
                "code_challenge_method without code_challenge",
                "Có code_challenge_method nhưng thiếu code_challenge",
            )
        if auth.client.require_pkce:
            raise AuthorizeError(
                "invalid_request", "PKCE is required for this client", "Ứng dụng này bắt buộc dùng PKCE"
            )
        return
    method = req.code_challenge_method or "plain"
    if method not in ("S256", "plain") or (method == "plain" and settings.pkce_require_s256):
        allowed = "S256" if settings.pkce_require_s256 else "S256 or plain"
        raise AuthorizeError(
            "invalid_request", f"code_challenge_method must be {allowed}", f"code_challenge_method phải là {allowed}"
        )
    if not 43 <= len(req.code_challenge) <= 128:
        raise AuthorizeError(
            "invalid_request", "code_challenge must be 43–128 characters", "code_challenge phải dài 43–128 ký tự"
        )
    req.code_challenge_method = method


def _check_acr_values(auth: Authorization, _settings: IdentitySettings) -> None:
    """``acr_values`` may raise the level the login needs above the client's own."""
    if not auth.request.acr_values:
        return
    levels = [v for v in auth.request.acr_values.split() if v in ("1", "2")]
    if not levels:
        raise AuthorizeError("invalid_request", "acr_values must be 1 and/or 2", "acr_values phải là 1 và/hoặc 2")
    auth.required_level = max(auth.client.required_level, min(int(v) for v in levels))


def _check_max_age(auth: Authorization, _settings: IdentitySettings) -> None:
    if auth.request.max_age is not None and not auth.request.max_age.isdigit():
        raise AuthorizeError("invalid_request", "max_age must be seconds", "max_age phải là số giây")


#: The checks of :func:`validate`, in the order a request is refused by the first that fails.
CHECKS: tuple[Callable[[Authorization, IdentitySettings], None], ...] = (
    _check_response,
    _check_code_flow_allowed,
    _check_scopes,
    _check_pkce,
    _check_acr_values,
    _check_max_age,
)


# -- switches ------------------------------------------------------------------------------------------


def take_switches(session: Session, tenant: str, auth: Authorization) -> float:
    """Raise the error an authorize switch asks for; returns the SLOW_APPROVAL delay (0: none)."""
    scope = auth.client.client_id
    hit = switches.take(session, tenant, list(AUTHORIZE_SWITCHES), scope)
    if hit is not None:
        error = AUTHORIZE_SWITCHES[hit.name]
        raise AuthorizeErrorAt(auth, AuthorizeError(error, *SWITCH_TEXTS[error]))
    slow = switches.take(session, tenant, "SLOW_APPROVAL", scope)
    return 0.0 if slow is None else float(slow.params.get("delay_seconds", 3.0))


def level_of(session: Session, tenant: str, client_id: str, person: Person) -> int:
    if person.level >= 2 and switches.peek(session, tenant, "LEVEL_TOO_LOW", client_id) is not None:
        return 1
    return person.level


# -- the login decision ----------------------------------------------------------------------------------


def decide(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    auth: Authorization,
    *,
    choice: str | None,
    sid: str | None,
    now: datetime,
) -> Redirect | LoginPage:
    """Answer a valid request: ``choice`` (a CCCD, or ``deny``) logs in headlessly, a usable
    login session ``sid`` is reused, ``prompt=none`` without one is ``login_required``, and
    anything else gets the login page."""
    req = auth.request
    if choice is not None and choice.strip().lower() in DENY_CHOICES:
        return Redirect(denied_url(auth))
    login = current_session(session, tenant, sid, now, settings.session_ttl_seconds)
    if choice:
        url, login = complete(session, tenant, auth, choice.strip(), now, settings)
        return Redirect(url, sid=login.sid)
    if login is not None and session_usable(login, req, now):
        url, login = complete(session, tenant, auth, login.cccd, now, settings, login)
        return Redirect(url)
    if "none" in req.prompts:
        raise AuthorizeErrorAt(
            auth, AuthorizeError("login_required", "The user is not logged in", "Người dùng chưa đăng nhập")
        )
    return login_page(session, tenant, auth)


def session_usable(login: LoginSession | None, req: AuthorizeRequest, now: datetime) -> bool:
    if login is None or "login" in req.prompts:
        return False
    return not (req.max_age is not None and now - aware(login.auth_time) > timedelta(seconds=int(req.max_age)))


def login_page(
    session: Session, tenant: str, auth: Authorization, query: str = "", message: str | None = None, number: str = ""
) -> LoginPage:
    """The login page listing the active, living personas matching ``query`` (at most 50)."""
    today = clock.now(session, tenant).date()
    found = people.search(session, tenant, query, limit=50)
    personas = [person_to_wire(p, today) for p in found if p.level > 0 and p.death_date is None]
    return LoginPage(auth, personas, query, message, number)


def login_page_decision(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    auth: Authorization,
    *,
    action: str,
    number: str | None,
    query: str,
) -> Redirect | LoginPage:
    """What the login page posted: ``deny``, ``search`` (by ``query``), or ``approve`` of ``number``.
    A malformed, unknown or inactive number shows the page again with the reason."""
    if action == "deny":
        return Redirect(denied_url(auth))
    if action == "search" or not number:
        return login_page(session, tenant, auth, query)
    number = number.strip()
    problems = cccd.problems(number, today=clock.now(session, tenant).date())
    if problems:
        return login_page(session, tenant, auth, query, "; ".join(p.message_vi for p in problems), number[:12])
    try:
        url, login = complete(session, tenant, auth, number, clock.now(session, tenant), settings)
    except AuthorizeErrorAt as exc:
        if exc.error.error != "access_denied":
            raise
        # An unknown or inactive account: the citizen may try another number.
        return login_page(session, tenant, auth, query, exc.error.message_vi, number)
    return Redirect(url, sid=login.sid)


def denied_url(auth: Authorization) -> str:
    return auth.error_url(AuthorizeError("access_denied", "The user denied the request", "Người dùng từ chối yêu cầu"))


# -- logging in and the code ---------------------------------------------------------------------------


def check_person(session: Session, tenant: str, auth: Authorization, number: str, today: date | None = None) -> int:
    """The level a login of ``number`` gets, or the OIDC error refusing it (given ``today``, a
    number meaning a birth after today's year is refused naming ``BIRTH_IN_FUTURE`` and its rule)."""
    try:
        person = _account(session, tenant, number, today)
        level = level_of(session, tenant, auth.client.client_id, person)
        if level < auth.required_level:
            raise AuthorizeError(
                LEVEL_ERROR,
                f"This service requires a level-{auth.required_level} electronic identity; the account is level "
                f"{level}",
                f"Dịch vụ yêu cầu tài khoản định danh điện tử mức độ {auth.required_level}; tài khoản hiện tại "
                f"mức độ {level}",
            )
    except AuthorizeError as error:
        raise AuthorizeErrorAt(auth, error) from None
    return level


def _account(session: Session, tenant: str, number: str, today: date | None) -> Person:
    """The active VNeID account of ``number``, or ``access_denied`` saying why there is none."""
    future = [p for p in cccd.problems(number, today=today) if p.rule == cccd.FUTURE_BIRTH_RULE]
    if future:
        raise AuthorizeError(
            "access_denied",
            f"BIRTH_IN_FUTURE: number {number}: {future[0].message_en} "
            f"(field SoDinhDanh, rule {cccd.FUTURE_BIRTH_RULE})",
            f"BIRTH_IN_FUTURE: số {number}: {future[0].message_vi} "
            f"(trường SoDinhDanh, quy tắc {cccd.FUTURE_BIRTH_RULE})",
        )
    found = people.find(session, tenant, number) if not cccd.format_problems(number) else None
    if found is None:
        raise AuthorizeError(
            "access_denied",
            f"No VNeID account for number {number}",
            f"Không có tài khoản định danh điện tử cho số {number}",
        )
    if found.level < 1 or found.death_date is not None:
        raise AuthorizeError(
            "access_denied",
            "The VNeID account is not active",
            "Tài khoản định danh điện tử chưa được kích hoạt hoặc đã bị khóa",
        )
    return found


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
