"""Wire routes of the identity service (thin: parse, call the service layer, shape the reply).

OpenID Connect at WSO2-style paths (``/oauth2/...``) and the population verification API
(``/population/v1/...``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Depends, Form, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from services.identity import clients, keys, oidc, people
from services.identity.errors import AuthorizeError, PopulationError, invalid_request, invalid_token
from services.identity.models import Client, IssuedToken
from services.identity.schemas import (
    VerifyBatchIn,
    VerifyIn,
    person_to_wire,
    released_fields,
    userinfo_claims,
    verification_to_wire,
)
from services.identity.settings import IdentitySettings
from vnsandbox import audit, clock, switches
from vnsandbox.context import current_tenant
from vnsandbox.db import SessionDep
from vnsandbox.errors import OAuthError, PayloadTooLarge, SandboxError
from vnsandbox.service import public_base_url, service_index
from vnsandbox.vn import cccd

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

HEADLESS_HEADER = "x-sandbox-login"
SERVICE = "identity"


def settings_of(request: Request) -> IdentitySettings:
    s: IdentitySettings = request.app.state.settings
    return s


SettingsDep = Annotated[IdentitySettings, Depends(settings_of)]


@router.get("/", summary="Service index", tags=["index"])
def index(request: Request) -> dict[str, Any]:
    """What this service imitates and where its documentation is."""
    base = public_base_url(request)
    return service_index(request, issuer=base, openid_configuration=f"{base}/.well-known/openid-configuration")


# -- discovery -----------------------------------------------------------------------------------


@router.get("/.well-known/openid-configuration", tags=["oidc"], summary="OpenID Provider metadata")
def discovery(request: Request, settings: SettingsDep) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 metadata. The issuer is the URL the caller used (direct or
    through the gateway's ``/vneid/v1``), so every URL here works from where the caller is."""
    iss = public_base_url(request)
    return {
        "issuer": iss,
        "authorization_endpoint": f"{iss}/oauth2/authorize",
        "token_endpoint": f"{iss}/oauth2/token",
        "userinfo_endpoint": f"{iss}/oauth2/userinfo",
        "jwks_uri": f"{iss}/oauth2/jwks",
        "end_session_endpoint": f"{iss}/oauth2/logout",
        "introspection_endpoint": f"{iss}/oauth2/introspect",
        "revocation_endpoint": f"{iss}/oauth2/revoke",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(clients.GRANT_TYPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": [*clients.OIDC_SCOPES, clients.POPULATION_SCOPE],
        "token_endpoint_auth_methods_supported": list(clients.AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(clients.ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": list(clients.AUTH_METHODS[:3]),
        "revocation_endpoint_auth_methods_supported": list(clients.AUTH_METHODS[:3]),
        "code_challenge_methods_supported": ["S256"] if settings.pkce_require_s256 else ["S256", "plain"],
        "acr_values_supported": ["1", "2"],
        "prompt_values_supported": ["none", "login"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_supported": [
            "sub",
            "TechID",
            "LoaiTaiKhoan",
            "HoVaTen",
            "SoDinhDanh",
            "NgayThangNamSinh",
            "GioiTinh",
            "DiaChiThuongTru",
            "SoDienThoai",
            "Email",
            "loginIdp",
            "MucDoXacThuc",
            "acr",
            "name",
            "given_name",
            "family_name",
            "birthdate",
            "gender",
            "address",
            "phone_number",
            "email",
        ],
        "ui_locales_supported": ["vi"],
    }


@router.get("/oauth2/jwks", tags=["oidc"], summary="JSON Web Key Set")
def jwks(session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Public keys verifying tokens: the active key and retired keys whose tokens may be valid."""
    tenant = current_tenant()
    now = clock.now(session, tenant)
    horizon = max(settings.access_token_ttl_seconds, settings.id_token_ttl_seconds)
    return {"keys": [k.public_jwk for k in keys.published(session, tenant, now, horizon)]}


# -- authorization --------------------------------------------------------------------------------


# The authorization request as a form post (no docstring: it would become the schema's description).
class AuthorizeForm(oidc.AuthorizeRequest):
    pass


def _error_page(request: Request, exc: OAuthError, logout: bool = False) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "error.html",
        {"error": exc.error, "message_vi": exc.message_vi, "message_en": exc.message_en, "logout": logout},
        status_code=exc.status_code,
    )


def _redirect(url: str, post: bool) -> RedirectResponse:
    return RedirectResponse(url, status_code=303 if post else 302)


def _cookie_path(request: Request) -> str:
    """The session cookie stays under the provider's own path (``/vneid/v1/`` behind the gateway)."""
    return urlsplit(public_base_url(request)).path.rstrip("/") + "/"


def _with_session_cookie(response: Response, request: Request, sid: str) -> Response:
    response.set_cookie(
        oidc.SESSION_COOKIE,
        sid,
        httponly=True,
        samesite="lax",
        secure=public_base_url(request).startswith("https://"),
        path=_cookie_path(request),
    )
    return response


def _validated(
    request: Request, session: Session, tenant: str, settings: IdentitySettings, params: dict[str, str], post: bool
) -> oidc.Authorization | Response:
    """The validated authorization request, or the reply to an invalid one: an error page when
    the client or redirect URI cannot be trusted, else a redirect carrying the error."""
    req = oidc.AuthorizeRequest.from_params(params)
    try:
        return oidc.validate(session, tenant, req, settings)
    except OAuthError as exc:
        return _error_page(request, exc)
    except oidc.AuthorizeErrorAt as exc:
        return _redirect(exc.url, post)


def _authorize(
    request: Request,
    session: Session,
    settings: IdentitySettings,
    params: dict[str, str],
    headless: str | None,
    post: bool,
) -> Response:
    tenant = current_tenant()
    auth = _validated(request, session, tenant, settings, params, post)
    if isinstance(auth, Response):
        return auth
    req = auth.request
    try:
        delay = oidc.apply_authorize_switches(session, tenant, auth)
        if delay > 0:
            _slow_approval(request, session, settings, delay)
        now = clock.now(session, tenant)
        choice = headless or req.login_hint
        if choice is not None and choice.strip().lower() in ("deny", "tu-choi"):
            return _redirect(oidc.denied_url(auth), post)
        login = oidc.current_session(
            session, tenant, request.cookies.get(oidc.SESSION_COOKIE), now, settings.session_ttl_seconds
        )
        if choice:
            url, login = oidc.complete(session, tenant, auth, choice.strip(), now, settings)
            return _with_session_cookie(_redirect(url, post), request, login.sid)
        if oidc.session_usable(login, req, now):
            assert login is not None
            url, login = oidc.complete(session, tenant, auth, login.cccd, now, settings, login)
            return _redirect(url, post)
        if "none" in req.prompts:
            raise oidc.AuthorizeErrorAt(
                auth,
                AuthorizeError("login_required", "The user is not logged in", "Người dùng chưa đăng nhập"),
            )
    except oidc.AuthorizeErrorAt as exc:
        return _redirect(exc.url, post)
    return _login_page(request, session, auth, query="", message=None)


def _slow_approval(request: Request, session: Session, settings: IdentitySettings, delay: float) -> None:
    """Wait as a citizen slow to approve in the VNeID app would make the client wait.

    The switch's use is committed first, so the wait holds no database lock.
    """
    delay = min(delay, settings.slow_approval_max_seconds)
    request.state.journal_notes["slow_approval_seconds"] = delay
    session.commit()
    time.sleep(delay)


def _login_page(
    request: Request,
    session: Session,
    auth: oidc.Authorization,
    query: str,
    message: str | None,
    number: str = "",
) -> HTMLResponse:
    tenant = current_tenant()
    today = clock.now(session, tenant).date()
    found = people.search(session, tenant, query, limit=50)
    personas = [person_to_wire(p, today) for p in found if p.level > 0 and p.death_date is None]
    return templates.TemplateResponse(
        request,
        "login.html",
        {
            "params": auth.request.as_params(),
            "client": auth.client,
            "required_level": auth.required_level,
            "personas": personas,
            "query": query,
            "message": message,
            "number": number,
        },
    )


@router.get("/oauth2/authorize", tags=["oidc"], summary="Authorization endpoint (login page)")
def authorize_get(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    x_sandbox_login: Annotated[str | None, Header(description="CCCD to log in headlessly, or `deny`")] = None,
) -> Response:
    """Start a login: shows the VNeID login page, or with ``login_hint`` (a CCCD) or the header
    ``X-Sandbox-Login: <CCCD>`` logs that persona in without a browser and redirects with a code.
    Errors go to the client's redirect URI (``error``, ``error_description``, ``state``); an
    unknown client or unregistered redirect URI gets an error page instead (never a redirect)."""
    return _authorize(request, session, settings, dict(request.query_params), x_sandbox_login, post=False)


@router.post("/oauth2/authorize", tags=["oidc"], summary="Authorization endpoint (form post)")
def authorize_post(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[AuthorizeForm, Form()],
    x_sandbox_login: Annotated[str | None, Header()] = None,
) -> Response:
    """The authorization request sent as a form (OpenID Connect allows GET and POST)."""
    return _authorize(request, session, settings, form.model_dump(exclude_none=True), x_sandbox_login, post=True)


class LoginForm(AuthorizeForm):
    SoDinhDanh: str | None = None
    action: str = "approve"
    q: str | None = None


@router.post("/oauth2/login", tags=["oidc"], summary="Login page decision")
def login_decision(
    request: Request, session: SessionDep, settings: SettingsDep, form: Annotated[LoginForm, Form()]
) -> Response:
    """What the login page posts: ``action=approve`` with ``SoDinhDanh`` logs that persona in,
    ``action=deny`` ("Từ chối") answers the client with ``error=access_denied``,
    ``action=search`` filters the persona list by ``q``."""
    tenant = current_tenant()
    params = form.model_dump(exclude_none=True, exclude={"SoDinhDanh", "action", "q"})
    auth = _validated(request, session, tenant, settings, params, True)
    if isinstance(auth, Response):
        return auth
    if form.action == "deny":
        return _redirect(oidc.denied_url(auth), True)
    if form.action == "search" or not form.SoDinhDanh:
        return _login_page(request, session, auth, form.q or "", None)
    number = form.SoDinhDanh.strip()
    problems = cccd.problems(number, today=clock.now(session, tenant).date())
    if problems:
        message = "; ".join(p.message_vi for p in problems)
        return _login_page(request, session, auth, form.q or "", message, number[:12])
    try:
        now = clock.now(session, tenant)
        url, login = oidc.complete(session, tenant, auth, number, now, settings)
    except oidc.AuthorizeErrorAt as exc:
        if exc.error.error == "access_denied":
            # An unknown or inactive account: the citizen may try another number.
            return _login_page(request, session, auth, form.q or "", exc.error.message_vi, number)
        return _redirect(exc.url, True)
    return _with_session_cookie(_redirect(url, True), request, login.sid)


# -- token endpoint and friends --------------------------------------------------------------------


class ClientAuthForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    client_id: str | None = None
    client_secret: str | None = None
    client_assertion_type: str | None = None
    client_assertion: str | None = None


# Client authentication, then the grant's parameters (this base order keeps that field order).
class TokenForm(oidc.TokenForm, ClientAuthForm):
    pass


class TokenValueForm(ClientAuthForm):
    token: str | None = None
    token_type_hint: str | None = None


def _authenticate(request: Request, session: Session, form: ClientAuthForm) -> Client:
    tenant = current_tenant()
    iss = public_base_url(request)
    creds = clients.Credentials(
        authorization=request.headers.get("authorization"),
        client_id=form.client_id,
        client_secret=form.client_secret,
        assertion_type=form.client_assertion_type,
        assertion=form.client_assertion,
    )
    audiences = [f"{iss}/oauth2/token", iss, f"{iss}/oauth2/introspect", f"{iss}/oauth2/revoke"]
    return clients.authenticate(session, tenant, creds, audiences, clock.now(session, tenant))


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post("/oauth2/token", tags=["oidc"], summary="Token endpoint")
def token(
    request: Request, session: SessionDep, settings: SettingsDep, form: Annotated[TokenForm, Form()]
) -> JSONResponse:
    """Grants ``authorization_code`` (PKCE checked), ``refresh_token`` (rotated: the old one is
    spent; reusing it revokes the family) and ``client_credentials``. Clients authenticate with
    ``client_secret_basic``, ``client_secret_post`` or ``private_key_jwt`` as registered.
    Errors follow RFC 6749 §5.2: ``{"error", "error_description"}``."""
    client = _authenticate(request, session, form)
    tenant = current_tenant()
    try:
        result = oidc.token(
            session,
            tenant,
            settings,
            public_base_url(request),
            client,
            form,
            clock.now(session, tenant),
        )
    except OAuthError as exc:
        if exc.keep_changes:
            session.commit()
        raise
    return JSONResponse(result, headers=NO_STORE)


def _bearer(request: Request, form_token: str | None = None) -> str:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    if form_token:
        return form_token
    raise OAuthError(
        "invalid_request",
        "Missing bearer access token",
        "Thiếu access token",
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="vneid"'},
    )


def _userinfo(request: Request, session: Session, settings: IdentitySettings, token_value: str) -> dict[str, Any]:
    tenant = current_tenant()
    now = clock.now(session, tenant)
    row = oidc.verify_access_token(session, tenant, settings, token_value, now)
    if not row.cccd or "openid" not in row.scope.split():
        raise invalid_token(
            "The access token does not carry the openid scope of a citizen's login",
            "Access token không có phạm vi openid của một lần đăng nhập",
            status_code=403,
            error="insufficient_scope",
        )
    person = people.find(session, tenant, row.cccd)
    if person is None:
        raise invalid_token("The account no longer exists", "Tài khoản không còn tồn tại")
    claims = userinfo_claims(person, row.scope.split(), row.acr)
    audit.record(
        session,
        tenant,
        service=SERVICE,
        client=row.client_id,
        subject=person.cccd,
        fields=released_fields(claims),
        purpose=unquote(request.headers.get("x-purpose", "")),
        action="userinfo",
        at=now,
    )
    return claims


@router.get("/oauth2/userinfo", tags=["oidc"], summary="UserInfo endpoint")
def userinfo_get(request: Request, session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """The logged-in citizen's attributes with the real SSO's Vietnamese names (``HoVaTen``,
    ``SoDinhDanh``, ``NgayThangNamSinh``, …) beside the standard claims, by scope."""
    return JSONResponse(_userinfo(request, session, settings, _bearer(request)), headers=NO_STORE)


class UserinfoForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    access_token: str | None = None


@router.post("/oauth2/userinfo", tags=["oidc"], summary="UserInfo endpoint (POST)")
def userinfo_post(
    request: Request, session: SessionDep, settings: SettingsDep, form: Annotated[UserinfoForm, Form()]
) -> JSONResponse:
    """Same as GET; the token may also come as the form field ``access_token``."""
    return JSONResponse(_userinfo(request, session, settings, _bearer(request, form.access_token)), headers=NO_STORE)


@router.post("/oauth2/introspect", tags=["oidc"], summary="Token introspection (RFC 7662)")
def introspect(
    request: Request, session: SessionDep, settings: SettingsDep, form: Annotated[TokenValueForm, Form()]
) -> JSONResponse:
    """Whether a token is active, with its scope, client, subject and times. A client only sees
    its own tokens as active."""
    client = _authenticate(request, session, form)
    if not form.token:
        raise invalid_request("token is missing", "Thiếu token")
    tenant = current_tenant()
    result = oidc.introspect(
        session, tenant, settings, public_base_url(request), client, form.token, clock.now(session, tenant)
    )
    return JSONResponse(result, headers=NO_STORE)


@router.post("/oauth2/revoke", tags=["oidc"], summary="Token revocation (RFC 7009)")
def revoke(request: Request, session: SessionDep, form: Annotated[TokenValueForm, Form()]) -> Response:
    """Revoke an access or refresh token (a refresh token takes the access tokens of its login
    along). Always 200 for a token that is unknown or already revoked."""
    client = _authenticate(request, session, form)
    if not form.token:
        raise invalid_request("token is missing", "Thiếu token")
    oidc.revoke(session, current_tenant(), client, form.token)
    return Response(status_code=200, headers=NO_STORE)


class LogoutForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id_token_hint: str | None = None
    client_id: str | None = None
    post_logout_redirect_uri: str | None = None
    state: str | None = None


def _logout(request: Request, session: Session, form: LogoutForm, post: bool) -> Response:
    tenant = current_tenant()
    try:
        target = oidc.end_session(
            session,
            tenant,
            request.cookies.get(oidc.SESSION_COOKIE),
            form.id_token_hint,
            form.client_id,
            form.post_logout_redirect_uri,
            form.state,
            clock.now(session, tenant),
        )
    except OAuthError as exc:
        return _error_page(request, exc, logout=True)
    response: Response
    if target is not None:
        response = _redirect(target, post)
    else:
        response = templates.TemplateResponse(request, "logged_out.html", {})
    response.delete_cookie(oidc.SESSION_COOKIE, path=_cookie_path(request))
    return response


@router.get("/oauth2/logout", tags=["oidc"], summary="RP-initiated logout (end_session)")
def logout_get(request: Request, session: SessionDep) -> Response:
    """Ends the VNeID login session. ``post_logout_redirect_uri`` must be registered for the
    client named by ``id_token_hint`` or ``client_id`` (exact match); ``state`` is passed back."""
    form = LogoutForm.model_validate(dict(request.query_params))
    return _logout(request, session, form, post=False)


@router.post("/oauth2/logout", tags=["oidc"], summary="RP-initiated logout (form post)")
def logout_post(request: Request, session: SessionDep, form: Annotated[LogoutForm, Form()]) -> Response:
    """Same as GET, with the parameters in a form."""
    return _logout(request, session, form, post=True)


# -- population verification API ---------------------------------------------------------------------


@dataclass
class PopulationCaller:
    """Who calls the population API, and whether a switch hides every person from it."""

    token: IssuedToken
    not_found: bool = False


def population_caller(request: Request, session: SessionDep, settings: SettingsDep) -> PopulationCaller:
    """The caller's access token, which must be a system's own (``client_credentials``, bound to no
    citizen) and carry the ``population:verify`` scope; applies the
    population switches (the switch's use is committed before an error is answered)."""
    tenant = current_tenant()
    row = oidc.verify_access_token(session, tenant, settings, _bearer(request), clock.now(session, tenant))
    if not oidc.is_machine_token(row):
        raise invalid_token(
            "The population API takes a system's own access token (grant_type=client_credentials), "
            "not the token of a citizen's login",
            "API dân cư chỉ nhận access token của hệ thống (grant_type=client_credentials), "
            "không nhận token đăng nhập của công dân",
            status_code=403,
            error="insufficient_scope",
        )
    if clients.POPULATION_SCOPE not in row.scope.split():
        raise invalid_token(
            f"The access token lacks the scope {clients.POPULATION_SCOPE}",
            f"Access token thiếu phạm vi {clients.POPULATION_SCOPE}",
            status_code=403,
            error="insufficient_scope",
        )
    hit = switches.take(session, tenant, list(people.SWITCHES), row.client_id)
    if hit is None:
        return PopulationCaller(row)
    if hit.name == "POPULATION_NOT_FOUND":
        return PopulationCaller(row, not_found=True)
    session.commit()
    if hit.name == "POPULATION_TIMEOUT":
        delay = min(float(hit.params.get("delay_seconds", 5.0)), settings.slow_approval_max_seconds)
        request.state.journal_notes["population_timeout_seconds"] = delay
        time.sleep(delay)
        raise PopulationError(
            "The population database did not answer in time",
            "CSDL quốc gia về dân cư không phản hồi kịp thời",
            code="POPULATION_TIMEOUT",
            status_code=504,
            result_code=people.RESULT_TIMEOUT,
        )
    raise PopulationError(
        "The population database is temporarily unavailable",
        "CSDL quốc gia về dân cư tạm thời không khả dụng",
        code="POPULATION_UNAVAILABLE",
        status_code=503,
        result_code=people.RESULT_UNAVAILABLE,
        headers={"Retry-After": "30"},
    )


CallerDep = Annotated[PopulationCaller, Depends(population_caller)]
PurposeHeader = Annotated[
    str, Header(alias="X-Purpose", description="why the data is read (audited; UTF-8 may be percent-encoded)")
]


def _record(
    session: Session, token_row: IssuedToken, subject: str, fields: list[str], purpose: str, action: str
) -> None:
    tenant = current_tenant()
    audit.record(
        session,
        tenant,
        service=SERVICE,
        client=token_row.client_id,
        subject=subject,
        fields=fields,
        purpose=unquote(purpose),
        action=action,
        at=clock.now(session, tenant),
    )


@router.get("/population/v1/citizens/{number}", tags=["population"], summary="Look up a citizen by number")
def citizen_lookup(number: str, session: SessionDep, caller: CallerDep, purpose: PurposeHeader = "") -> dict[str, Any]:
    """The population record of ``number`` with ``MaKetQua``: ``00`` valid, ``02`` deceased,
    ``03`` document expired. Not found is 404 with ``MaKetQua`` ``01``; an invalid number is
    422 ``INVALID_CCCD`` naming the broken rule (``BIRTH_IN_FUTURE`` for a number whose birth year
    is after the test clock's year). Audited."""
    tenant = current_tenant()
    people.check_number(number, today=clock.now(session, tenant).date())
    person = None if caller.not_found else people.find(session, tenant, number)
    if person is None:
        raise PopulationError(
            f"No person with number {number} in the population database",
            f"Không tìm thấy công dân có số định danh {number}",
            code="CITIZEN_NOT_FOUND",
            status_code=404,
            result_code=people.RESULT_NOT_FOUND,
        )
    today = clock.now(session, tenant).date()
    record = person_to_wire(person)
    fields = [k for k in record if k not in ("SoDinhDanh", "TechID")]
    _record(session, caller.token, number, fields, purpose, "lookup")
    code = people.status_code(person, today)
    vi, en = people.RESULT_TEXT[code]
    return {"MaKetQua": code, "MoTaKetQua": vi, "MoTaKetQua_en": en, "CongDan": record}


@router.post("/population/v1/verify", tags=["population"], summary="Verify a citizen's data")
def citizen_verify(
    body: VerifyIn, session: SessionDep, caller: CallerDep, purpose: PurposeHeader = ""
) -> dict[str, Any]:
    """Compare the submitted fields with the population database: per field ``KHOP`` (match) or
    ``KHONG_KHOP``, and ``MaKetQua``: ``00`` all good, ``01`` not found, ``02`` deceased, ``03``
    document expired, ``05`` a field mismatches. An invalid number is 422 ``INVALID_CCCD``."""
    people.check_number(body.SoDinhDanh, today=clock.now(session, current_tenant()).date())
    return _verify_one(session, caller, body, purpose)


def _verify_one(session: Session, caller: PopulationCaller, body: VerifyIn, purpose: str) -> dict[str, Any]:
    tenant = current_tenant()
    today = clock.now(session, tenant).date()
    result = people.verify(session, tenant, body.SoDinhDanh, body.submitted(), today, hidden=caller.not_found)
    if result.person is not None:
        fields = [k for k, v in body.model_dump(exclude={"SoDinhDanh"}).items() if v is not None]
        _record(session, caller.token, body.SoDinhDanh, fields or ["SoDinhDanh"], purpose, "verify")
    return verification_to_wire(result)


@router.post("/population/v1/verify/batch", tags=["population"], summary="Verify many citizens")
def citizen_verify_batch(
    body: VerifyBatchIn, request: Request, session: SessionDep, caller: CallerDep, purpose: PurposeHeader = ""
) -> dict[str, Any]:
    """Up to the batch limit (``IDENTITY_VERIFY_BATCH_LIMIT``, default 100) items, answered in
    order; more is 413 ``BATCH_TOO_LARGE``. An invalid number is that item's ``MaKetQua`` ``04``
    (with ``LoiSoDinhDanh``), not a failure of the batch."""
    limit = settings_of(request).verify_batch_limit
    if len(body.DanhSach) > limit:
        raise PayloadTooLarge(
            f"At most {limit} items per batch (got {len(body.DanhSach)})",
            f"Tối đa {limit} mục mỗi lô (nhận {len(body.DanhSach)})",
            code="BATCH_TOO_LARGE",
            details=[{"field": "DanhSach", "rule": "max_items", "message": str(limit)}],
        )
    if not body.DanhSach:
        raise SandboxError("DanhSach is empty", "DanhSach rỗng", code="EMPTY_BATCH", status_code=422)
    items = [_verify_one(session, caller, item, purpose) for item in body.DanhSach]
    return {"SoLuong": len(items), "KetQua": items}
