"""The identity service's entry points: one function per wire endpoint, called by the router.
No HTTP types here: the router parses the request, calls one of these and shapes the reply.

The behaviour lives in modules named for their concern:

- :mod:`authorize` — authorization requests: validation, the login decision, authorization codes;
- :mod:`token` — client authentication, the grants, verifying, introspecting and revoking
  tokens; :mod:`minting` makes them;
- :mod:`session` — the browser's login sessions and logout;
- :mod:`people` — the population database (lookups, verification); :mod:`population` generates it;
- :mod:`clients` — the client registry; :mod:`keys` — signing keys; :mod:`oidc` — what the
  OpenID Connect parts share (switch catalogue, discovery metadata).

Nothing here commits: the request's unit of work (the router's session dependency) commits
once after the reply is built, and before an error whose changes must stay (``keep_changes``:
a spent code, a revoked token family, the counted use of a failure switch) is answered. The one
exception is :func:`wait_holding_no_lock`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.identity import authorize, clients, keys, people, token
from services.identity import session as login_sessions
from services.identity.authorize import Authorization, ErrorPage, Outcome, Redirect
from services.identity.errors import PopulationError, invalid_request, invalid_token
from services.identity.keys import cached_jwks as cached_jwks
from services.identity.models import IssuedToken
from services.identity.oidc import discovery_document as discovery_document
from services.identity.schemas import (
    AuthorizeRequest,
    LogoutForm,
    TokenGrant,
    VerifyBatchIn,
    VerifyIn,
    person_to_wire,
    released_fields,
    userinfo_claims,
    verification_to_wire,
)
from services.identity.settings import IdentitySettings
from vnsandbox import audit, clock, switches
from vnsandbox.errors import OAuthError, PayloadTooLarge, SandboxError

SERVICE = "identity"
SESSION_COOKIE = login_sessions.SESSION_COOKIE
#: Journal notes of a request (the router passes ``request.state.journal_notes``).
Notes = dict[str, Any]


def wait_holding_no_lock(session: Session, seconds: float) -> None:
    """Wait as a slow national system makes its caller wait, holding no database lock.

    The one commit outside the request's unit of work: what the request did so far (the use of
    the switch asking for the wait) is committed first, so the wait blocks no parallel request.
    A sync function, so the wait occupies a worker thread, never the event loop.
    """
    session.commit()
    time.sleep(seconds)


def jwks(session: Session, tenant: str, settings: IdentitySettings) -> bytes:
    """Public keys verifying tokens, encoded: the active key and retired keys whose tokens may be
    valid (kept per tenant; :func:`cached_jwks` answers from memory until a rotation, a move of
    the clock or the cache's lifetime)."""
    horizon = max(settings.access_token_ttl_seconds, settings.id_token_ttl_seconds)
    return keys.jwks(session, tenant, clock.now(session, tenant), horizon)


# -- authorization -----------------------------------------------------------------------------------


def _validated(
    session: Session, tenant: str, settings: IdentitySettings, params: dict[str, str]
) -> Authorization | Outcome:
    """The valid authorization request, or what an invalid one gets: an error page when the
    client or redirect URI cannot be trusted, else a redirect carrying the error."""
    try:
        return authorize.validate(session, tenant, AuthorizeRequest.from_params(params), settings)
    except OAuthError as exc:
        return ErrorPage(exc)
    except authorize.AuthorizeErrorAt as exc:
        return Redirect(exc.url)


def authorization(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    params: dict[str, str],
    *,
    headless: str | None,
    sid: str | None,
    notes: Notes,
) -> Outcome:
    """``/oauth2/authorize``: validate, apply the authorize switches (an error to the client, or
    the wait of SLOW_APPROVAL), then the login decision. ``headless``: the CCCD (or ``deny``) of
    the ``X-Sandbox-Login`` header; ``sid``: the browser's login-session cookie."""
    auth = _validated(session, tenant, settings, params)
    if not isinstance(auth, Authorization):
        return auth
    try:
        delay = authorize.take_switches(session, tenant, auth)
        if delay > 0:
            delay = min(delay, settings.slow_approval_max_seconds)
            notes["slow_approval_seconds"] = delay
            wait_holding_no_lock(session, delay)
        choice = headless or auth.request.login_hint
        return authorize.decide(session, tenant, settings, auth, choice=choice, sid=sid, now=clock.now(session, tenant))
    except authorize.AuthorizeErrorAt as exc:
        return Redirect(exc.url)


def login(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    params: dict[str, str],
    *,
    action: str,
    number: str | None,
    query: str,
) -> Outcome:
    """``/oauth2/login``: what the login page posted, for the authorization request in ``params``."""
    auth = _validated(session, tenant, settings, params)
    if not isinstance(auth, Authorization):
        return auth
    try:
        return authorize.login_page_decision(session, tenant, settings, auth, action=action, number=number, query=query)
    except authorize.AuthorizeErrorAt as exc:
        return Redirect(exc.url)


# -- tokens --------------------------------------------------------------------------------------------


def token_request(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    creds: clients.Credentials,
    form: TokenGrant,
) -> dict[str, Any]:
    """``/oauth2/token``: authenticate the client, run its grant."""
    now = clock.now(session, tenant)
    client = token.authenticate(session, tenant, issuer, creds, now)
    return token.grant(session, tenant, settings, issuer, client, form, now)


def introspect(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    creds: clients.Credentials,
    token_value: str | None,
) -> dict[str, Any]:
    """``/oauth2/introspect`` (RFC 7662) for an authenticated client."""
    client = token.authenticate(session, tenant, issuer, creds, clock.now(session, tenant))
    if not token_value:
        raise invalid_request("token is missing", "Thiếu token")
    return token.introspect(session, tenant, settings, issuer, client, token_value, clock.now(session, tenant))


def revoke(session: Session, tenant: str, issuer: str, creds: clients.Credentials, token_value: str | None) -> None:
    """``/oauth2/revoke`` (RFC 7009) for an authenticated client."""
    client = token.authenticate(session, tenant, issuer, creds, clock.now(session, tenant))
    if not token_value:
        raise invalid_request("token is missing", "Thiếu token")
    token.revoke(session, tenant, client, token_value)


def userinfo(
    session: Session, tenant: str, settings: IdentitySettings, token_value: str, purpose: str
) -> dict[str, Any]:
    """``/oauth2/userinfo``: the claims of the citizen behind a login's access token (audited)."""
    now = clock.now(session, tenant)
    row = token.verify_access_token(session, tenant, settings, token_value, now)
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
        purpose=purpose,
        action="userinfo",
        at=now,
    )
    return claims


def logout(session: Session, tenant: str, sid: str | None, form: LogoutForm) -> str | None:
    """``/oauth2/logout``: end the login session; where to send the browser, if anywhere."""
    return login_sessions.end_session(
        session,
        tenant,
        sid,
        form.id_token_hint,
        form.client_id,
        form.post_logout_redirect_uri,
        form.state,
        clock.now(session, tenant),
    )


# -- population verification API ------------------------------------------------------------------------


@dataclass
class PopulationCaller:
    """Who calls the population API, and whether a switch hides every person from it."""

    token: IssuedToken
    not_found: bool = False


def population_caller(
    session: Session, tenant: str, settings: IdentitySettings, token_value: str, notes: Notes
) -> PopulationCaller:
    """The caller's access token, which must be a system's own (``client_credentials``, bound to
    no citizen) and carry the ``population:verify`` scope; applies the population switches."""
    row = token.verify_access_token(session, tenant, settings, token_value, clock.now(session, tenant))
    if not token.is_machine_token(row):
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
    if hit.name == "POPULATION_TIMEOUT":
        delay = min(float(hit.params.get("delay_seconds", 5.0)), settings.slow_approval_max_seconds)
        notes["population_timeout_seconds"] = delay
        wait_holding_no_lock(session, delay)
        raise PopulationError(
            "The population database did not answer in time",
            "CSDL quốc gia về dân cư không phản hồi kịp thời",
            code="POPULATION_TIMEOUT",
            status_code=504,
            result_code=people.RESULT_TIMEOUT,
            keep_changes=True,
        )
    raise PopulationError(
        "The population database is temporarily unavailable",
        "CSDL quốc gia về dân cư tạm thời không khả dụng",
        code="POPULATION_UNAVAILABLE",
        status_code=503,
        result_code=people.RESULT_UNAVAILABLE,
        headers={"Retry-After": "30"},
        keep_changes=True,
    )


def _record(
    session: Session, tenant: str, caller: PopulationCaller, subject: str, fields: list[str], purpose: str, action: str
) -> None:
    audit.record(
        session,
        tenant,
        service=SERVICE,
        client=caller.token.client_id,
        subject=subject,
        fields=fields,
        purpose=purpose,
        action=action,
        at=clock.now(session, tenant),
    )


def citizen_lookup(
    session: Session, tenant: str, caller: PopulationCaller, number: str, purpose: str
) -> dict[str, Any]:
    """The population record of ``number`` with its ``MaKetQua`` (audited)."""
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
    _record(session, tenant, caller, number, fields, purpose, "lookup")
    code = people.status_code(person, today)
    vi, en = people.RESULT_TEXT[code]
    return {"MaKetQua": code, "MoTaKetQua": vi, "MoTaKetQua_en": en, "CongDan": record}


def citizen_verify(
    session: Session, tenant: str, caller: PopulationCaller, body: VerifyIn, purpose: str
) -> dict[str, Any]:
    """The submitted fields compared with the population database (an invalid number is 422)."""
    people.check_number(body.SoDinhDanh, today=clock.now(session, tenant).date())
    return _verify_one(session, tenant, caller, body, purpose)


def _verify_one(
    session: Session, tenant: str, caller: PopulationCaller, body: VerifyIn, purpose: str
) -> dict[str, Any]:
    today = clock.now(session, tenant).date()
    result = people.verify(session, tenant, body.SoDinhDanh, body.submitted(), today, hidden=caller.not_found)
    if result.person is not None:
        fields = [k for k, v in body.model_dump(exclude={"SoDinhDanh"}).items() if v is not None]
        _record(session, tenant, caller, body.SoDinhDanh, fields or ["SoDinhDanh"], purpose, "verify")
    return verification_to_wire(result)


def citizen_verify_batch(
    session: Session,
    tenant: str,
    settings: IdentitySettings,
    caller: PopulationCaller,
    body: VerifyBatchIn,
    purpose: str,
) -> dict[str, Any]:
    """Each item verified in order (an invalid number is that item's ``MaKetQua`` ``04``)."""
    limit = settings.verify_batch_limit
    if len(body.DanhSach) > limit:
        raise PayloadTooLarge(
            f"At most {limit} items per batch (got {len(body.DanhSach)})",
            f"Tối đa {limit} mục mỗi lô (nhận {len(body.DanhSach)})",
            code="BATCH_TOO_LARGE",
            details=[{"field": "DanhSach", "rule": "max_items", "message": str(limit)}],
        )
    if not body.DanhSach:
        raise SandboxError("DanhSach is empty", "DanhSach rỗng", code="EMPTY_BATCH", status_code=422)
    items = [_verify_one(session, tenant, caller, item, purpose) for item in body.DanhSach]
    return {"SoLuong": len(items), "KetQua": items}
