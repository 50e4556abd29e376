"""Wire routes of the identity service (thin: parse, call :mod:`services.identity.service`,
shape the reply).

OpenID Connect at WSO2-style paths (``/oauth2/...``) and the population verification API
(``/population/v1/...``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.types import Scope

from services.identity import quick, service
from services.identity.authorize import ErrorPage, LoginPage, Outcome
from services.identity.clients import Credentials
from services.identity.errors import oauth_errors, population_errors
from services.identity.schemas import (
    AuthorizeForm,
    ClientAuthForm,
    LoginForm,
    LogoutForm,
    TokenForm,
    TokenValueForm,
    UserinfoForm,
    VerifyBatchIn,
    VerifyIn,
)
from services.identity.service import PopulationCaller
from services.identity.settings import IdentitySettings
from vnsandbox.context import current_tenant
from vnsandbox.db import SessionDep, in_unit_of_work
from vnsandbox.errors import OAuthError
from vnsandbox.middleware import Answer, QuickReply
from vnsandbox.openapi import media_response, secured
from vnsandbox.service import json_bytes, public_base_url, scope_base_url, service_index

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


#: The login pages: HTML, a redirect to the client, or an HTML error page.
PAGE_REPLIES: dict[int | str, dict[str, Any]] = {
    200: media_response("text/html", "The VNeID login page (Vietnamese)"),
    302: {"description": "Back to the client's redirect URI with `code` or `error` (and `state`)"},
    303: {"description": "Back to the client's redirect URI (after a form post)"},
    400: media_response("text/html", "Error page: unknown client or unregistered redirect URI (never a redirect)"),
}
LOGOUT_REPLIES: dict[int | str, dict[str, Any]] = {
    200: media_response("text/html", "The logged-out page"),
    302: {"description": "To the registered `post_logout_redirect_uri` (with `state`)"},
    303: {"description": "To the registered `post_logout_redirect_uri` (after a form post)"},
    400: media_response("text/html", "Error page: unregistered `post_logout_redirect_uri` or a bad hint"),
}
#: Endpoints a client calls with its credentials (Basic, or in the form).
CLIENT_AUTH = secured("clientBasic", optional=True)
CLIENT_ERRORS = oauth_errors(
    400, 401, s400="`invalid_request`, `invalid_grant`, `unsupported_grant_type`, …", s401="`invalid_client`"
)
BEARER_ERRORS = oauth_errors(
    400,
    401,
    403,
    s400="`invalid_request`: no access token",
    s401="`invalid_token` (also in `WWW-Authenticate`)",
    s403="`insufficient_scope`",
)
POPULATION_ERRORS = {
    **BEARER_ERRORS,
    **population_errors(
        404,
        503,
        504,
        s404="`CITIZEN_NOT_FOUND`",
        s503="`POPULATION_UNAVAILABLE` (switch)",
        s504="`POPULATION_TIMEOUT` (switch)",
    ),
}


def settings_of(request: Request) -> IdentitySettings:
    s: IdentitySettings = request.app.state.settings
    return s


SettingsDep = Annotated[IdentitySettings, Depends(settings_of)]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.get("/", summary="Service index", tags=["index"])
def index(request: Request) -> dict[str, Any]:
    """What this service imitates and where its documentation is."""
    base = public_base_url(request)
    return service_index(request, issuer=base, openid_configuration=f"{base}/.well-known/openid-configuration")


# -- discovery -----------------------------------------------------------------------------------


@router.get(
    "/.well-known/openid-configuration",
    tags=["oidc"],
    summary="OpenID Provider metadata",
    response_model=dict[str, Any],
)
async def discovery(request: Request) -> Response:
    """OpenID Connect Discovery 1.0 metadata. The issuer is the URL the caller used (direct or
    through the gateway's ``/vneid/v1``), so every URL here works from where the caller is."""
    return json_bytes(service.discovery_document(public_base_url(request), settings_of(request)))


@router.get("/oauth2/jwks", tags=["oidc"], summary="JSON Web Key Set", response_model=dict[str, Any])
async def jwks(request: Request) -> Response:
    """Public keys verifying tokens: the active key and retired keys whose tokens may be valid."""
    tenant = current_tenant()
    body = service.cached_jwks(tenant)
    if body is None:
        settings = settings_of(request)
        body = await in_unit_of_work(request, lambda session: service.jwks(session, tenant, settings))
    return json_bytes(body)


# -- authorization --------------------------------------------------------------------------------


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


def _reply(request: Request, outcome: Outcome, post: bool) -> Response:
    """The browser's reply to an authorization or login-page outcome."""
    if isinstance(outcome, ErrorPage):
        return _error_page(request, outcome.error)
    if isinstance(outcome, LoginPage):
        return _login_page(request, outcome)
    response = _redirect(outcome.url, post)
    if outcome.sid is not None:
        response.set_cookie(
            service.SESSION_COOKIE,
            outcome.sid,
            httponly=True,
            samesite="lax",
            secure=public_base_url(request).startswith("https://"),
            path=_cookie_path(request),
        )
    return response


def _login_page(request: Request, page: LoginPage) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "login.html",
        {
            "params": page.auth.request.as_params(),
            "client": page.auth.client,
            "required_level": page.auth.required_level,
            "personas": page.personas,
            "query": page.query,
            "message": page.message,
            "number": page.number,
        },
    )


def _authorize(
    request: Request, session: Session, settings: IdentitySettings, params: dict[str, str], headless: str | None
) -> Outcome:
    return service.authorization(
        session,
        current_tenant(),
        settings,
        params,
        headless=headless,
        sid=request.cookies.get(service.SESSION_COOKIE),
        notes=request.state.journal_notes,
    )


@router.get("/oauth2/authorize", tags=["oidc"], summary="Authorization endpoint (login page)", responses=PAGE_REPLIES)
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
    outcome = _authorize(request, session, settings, dict(request.query_params), x_sandbox_login)
    return _reply(request, outcome, post=False)


@router.post("/oauth2/authorize", tags=["oidc"], summary="Authorization endpoint (form post)", responses=PAGE_REPLIES)
def authorize_post(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[AuthorizeForm, Form()],
    x_sandbox_login: Annotated[str | None, Header()] = None,
) -> Response:
    """The authorization request sent as a form (OpenID Connect allows GET and POST)."""
    outcome = _authorize(request, session, settings, form.model_dump(exclude_none=True), x_sandbox_login)
    return _reply(request, outcome, post=True)


@router.post("/oauth2/login", tags=["oidc"], summary="Login page decision", responses=PAGE_REPLIES)
def login_decision(
    request: Request, session: SessionDep, settings: SettingsDep, form: Annotated[LoginForm, Form()]
) -> Response:
    """What the login page posts: ``action=approve`` with ``SoDinhDanh`` logs that persona in,
    ``action=deny`` ("Từ chối") answers the client with ``error=access_denied``,
    ``action=search`` filters the persona list by ``q``."""
    params = form.model_dump(exclude_none=True, exclude={"SoDinhDanh", "action", "q"})
    outcome = service.login(
        session, current_tenant(), settings, params, action=form.action, number=form.SoDinhDanh, query=form.q or ""
    )
    return _reply(request, outcome, post=True)


# -- token endpoint and friends --------------------------------------------------------------------


def _credentials(request: Request, form: ClientAuthForm) -> Credentials:
    return Credentials(
        authorization=request.headers.get("authorization"),
        client_id=form.client_id,
        client_secret=form.client_secret,
        assertion_type=form.client_assertion_type,
        assertion=form.client_assertion,
    )


@router.post(
    "/oauth2/token",
    tags=["oidc"],
    summary="Token endpoint",
    openapi_extra=CLIENT_AUTH,
    responses=CLIENT_ERRORS,
    response_model=None,
)
async def token(request: Request, form: Annotated[TokenForm, Form()]) -> JSONResponse:
    """Grants ``authorization_code`` (PKCE checked), ``refresh_token`` (rotated: the old one is
    spent; reusing it revokes the family) and ``client_credentials``. Clients authenticate with
    ``client_secret_basic``, ``client_secret_post`` or ``private_key_jwt`` as registered.
    Errors follow RFC 6749 §5.2: ``{"error", "error_description"}``."""
    issuer = public_base_url(request)
    settings = settings_of(request)
    creds = _credentials(request, form)
    tenant = current_tenant()
    result = await in_unit_of_work(
        request, lambda session: service.token_request(session, tenant, settings, issuer, creds, form)
    )
    return JSONResponse(result, headers=NO_STORE)


#: The fields a ``client_credentials`` request may carry for :func:`quick_token` to answer it.
_QUICK_FIELDS = frozenset({"grant_type", "scope", "client_id", "client_secret"})
_FORM_TYPE = b"application/x-www-form-urlencoded"
_NO_STORE_RAW = tuple((k.lower().encode(), v.encode()) for k, v in NO_STORE.items())


def quick_token(app: FastAPI) -> QuickReply:
    """``client_credentials`` with a client secret (Basic or in the form), a system's most
    frequent call, answered before any routing when it succeeds: a plain form read here, then
    :func:`services.identity.quick.client_credentials` (one read, the signature, the token row)
    gives the reply :func:`token` gives. Anything else (another grant,
    a query string, a form FastAPI reads otherwise, any refusal) is left to the route (None)."""
    settings: IdentitySettings = app.state.settings
    db = app.state.db

    async def answer(scope: Scope, raw: bytes) -> Answer | None:
        if scope.get("query_string") or not raw or not raw.isascii():
            return None
        authorization = content_type = None
        for key, value in scope["headers"]:
            lowered = key.lower()
            if lowered == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif lowered == b"content-type" and content_type is None:
                content_type = value
        if content_type is None or content_type.split(b";", 1)[0].strip().lower() != _FORM_TYPE:
            return None
        fields = _plain_form(raw.decode())
        if fields is None or fields.get("grant_type") != "client_credentials":
            return None
        creds = Credentials(authorization, fields.get("client_id"), fields.get("client_secret"), None, None)
        tenant = scope["state"]["tenant"]
        issuer = scope_base_url(scope, settings)
        reply = await quick.client_credentials(db, tenant, settings, issuer, creds, fields.get("scope"))
        if reply is None:
            return None
        body = json.dumps(reply, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        return Answer(body, _NO_STORE_RAW)

    return answer


def _plain_form(text: str) -> dict[str, str] | None:
    """A URL-encoded form of :data:`_QUICK_FIELDS`, each once, non-empty and printable ASCII
    once decoded (what FastAPI's form parsing reads the same way); None for anything else."""
    fields: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        if name not in _QUICK_FIELDS or name in fields or not value or not value.isascii() or not value.isprintable():
            return None
        fields[name] = value
    return fields


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


def _userinfo(request: Request, session: Session, settings: IdentitySettings, token_value: str) -> JSONResponse:
    purpose = unquote(request.headers.get("x-purpose", ""))
    claims = service.userinfo(session, current_tenant(), settings, token_value, purpose)
    return JSONResponse(claims, headers=NO_STORE)


@router.get(
    "/oauth2/userinfo",
    tags=["oidc"],
    summary="UserInfo endpoint",
    openapi_extra=secured("vneidBearer"),
    responses=BEARER_ERRORS,
)
def userinfo_get(request: Request, session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """The logged-in citizen's attributes with the real SSO's Vietnamese names (``HoVaTen``,
    ``SoDinhDanh``, ``NgayThangNamSinh``, …) beside the standard claims, by scope."""
    return _userinfo(request, session, settings, _bearer(request))


@router.post(
    "/oauth2/userinfo",
    tags=["oidc"],
    summary="UserInfo endpoint (POST)",
    openapi_extra=secured("vneidBearer", optional=True),
    responses=BEARER_ERRORS,
)
def userinfo_post(
    request: Request, session: SessionDep, settings: SettingsDep, form: Annotated[UserinfoForm, Form()]
) -> JSONResponse:
    """Same as GET; the token may also come as the form field ``access_token``."""
    return _userinfo(request, session, settings, _bearer(request, form.access_token))


@router.post(
    "/oauth2/introspect",
    tags=["oidc"],
    summary="Token introspection (RFC 7662)",
    openapi_extra=CLIENT_AUTH,
    responses=CLIENT_ERRORS,
)
def introspect(
    request: Request, session: SessionDep, settings: SettingsDep, form: Annotated[TokenValueForm, Form()]
) -> JSONResponse:
    """Whether a token is active, with its scope, client, subject and times. A client only sees
    its own tokens as active."""
    issuer = public_base_url(request)
    creds = _credentials(request, form)
    result = service.introspect(session, current_tenant(), settings, issuer, creds, form.token)
    return JSONResponse(result, headers=NO_STORE)


@router.post(
    "/oauth2/revoke",
    tags=["oidc"],
    summary="Token revocation (RFC 7009)",
    openapi_extra=CLIENT_AUTH,
    responses=CLIENT_ERRORS,
)
def revoke(request: Request, session: SessionDep, form: Annotated[TokenValueForm, Form()]) -> Response:
    """Revoke an access or refresh token (a refresh token takes the access tokens of its login
    along). Always 200 for a token that is unknown or already revoked."""
    issuer = public_base_url(request)
    service.revoke(session, current_tenant(), issuer, _credentials(request, form), form.token)
    return Response(status_code=200, headers=NO_STORE)


def _logout(request: Request, session: Session, form: LogoutForm, post: bool) -> Response:
    try:
        target = service.logout(session, current_tenant(), request.cookies.get(service.SESSION_COOKIE), form)
    except OAuthError as exc:
        return _error_page(request, exc, logout=True)
    response: Response
    if target is not None:
        response = _redirect(target, post)
    else:
        response = templates.TemplateResponse(request, "logged_out.html", {})
    response.delete_cookie(service.SESSION_COOKIE, path=_cookie_path(request))
    return response


@router.get("/oauth2/logout", tags=["oidc"], summary="RP-initiated logout (end_session)", responses=LOGOUT_REPLIES)
def logout_get(request: Request, session: SessionDep) -> Response:
    """Ends the VNeID login session. ``post_logout_redirect_uri`` must be registered for the
    client named by ``id_token_hint`` or ``client_id`` (exact match); ``state`` is passed back."""
    form = LogoutForm.model_validate(dict(request.query_params))
    return _logout(request, session, form, post=False)


@router.post("/oauth2/logout", tags=["oidc"], summary="RP-initiated logout (form post)", responses=LOGOUT_REPLIES)
def logout_post(request: Request, session: SessionDep, form: Annotated[LogoutForm, Form()]) -> Response:
    """Same as GET, with the parameters in a form."""
    return _logout(request, session, form, post=True)


# -- population verification API ---------------------------------------------------------------------


def population_caller(request: Request, session: SessionDep, settings: SettingsDep) -> PopulationCaller:
    """The caller's access token, which must be a system's own (``client_credentials``, bound to no
    citizen) and carry the ``population:verify`` scope; applies the
    population switches (the switch's use is committed before an error is answered)."""
    notes = request.state.journal_notes
    return service.population_caller(session, current_tenant(), settings, _bearer(request), notes)


CallerDep = Annotated[PopulationCaller, Depends(population_caller)]
PurposeHeader = Annotated[
    str, Header(alias="X-Purpose", description="why the data is read (audited; UTF-8 may be percent-encoded)")
]


@router.get(
    "/population/v1/citizens/{number}",
    tags=["population"],
    summary="Look up a citizen by number",
    openapi_extra=secured("vneidBearer"),
    responses=POPULATION_ERRORS,
)
def citizen_lookup(number: str, session: SessionDep, caller: CallerDep, purpose: PurposeHeader = "") -> dict[str, Any]:
    """The population record of ``number`` with ``MaKetQua``: ``00`` valid, ``02`` deceased,
    ``03`` document expired. Not found is 404 with ``MaKetQua`` ``01``; an invalid number is
    422 ``INVALID_CCCD`` naming the broken rule (``BIRTH_IN_FUTURE`` for a number whose birth year
    is after the test clock's year). Audited."""
    return service.citizen_lookup(session, current_tenant(), caller, number, unquote(purpose))


@router.post(
    "/population/v1/verify",
    tags=["population"],
    summary="Verify a citizen's data",
    openapi_extra=secured("vneidBearer"),
    responses=POPULATION_ERRORS,
)
def citizen_verify(
    body: VerifyIn, session: SessionDep, caller: CallerDep, purpose: PurposeHeader = ""
) -> dict[str, Any]:
    """Compare the submitted fields with the population database: per field ``KHOP`` (match) or
    ``KHONG_KHOP``, and ``MaKetQua``: ``00`` all good, ``01`` not found, ``02`` deceased, ``03``
    document expired, ``05`` a field mismatches. An invalid number is 422 ``INVALID_CCCD``."""
    return service.citizen_verify(session, current_tenant(), caller, body, unquote(purpose))


@router.post(
    "/population/v1/verify/batch",
    tags=["population"],
    summary="Verify many citizens",
    openapi_extra=secured("vneidBearer"),
    responses=POPULATION_ERRORS,
)
def citizen_verify_batch(
    body: VerifyBatchIn,
    session: SessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    purpose: PurposeHeader = "",
) -> dict[str, Any]:
    """Up to the batch limit (``IDENTITY_VERIFY_BATCH_LIMIT``, default 100) items, answered in
    order; more is 413 ``BATCH_TOO_LARGE``. An invalid number is that item's ``MaKetQua`` ``04``
    (with ``LoiSoDinhDanh``), not a failure of the batch."""
    return service.citizen_verify_batch(session, current_tenant(), settings, caller, body, unquote(purpose))
