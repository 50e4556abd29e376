"""The browser's VNeID login sessions and RP-initiated logout (``end_session``). No HTTP types.

A login leaves a session (cookie :data:`SESSION_COOKIE`) that later authorization requests of
any client may reuse, until it is older than the configured lifetime or ended by a logout.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.identity import clients, keys
from services.identity.errors import invalid_request
from services.identity.models import LoginSession, aware
from services.identity.oidc import with_query

SESSION_COOKIE = "vneid_sid"


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
    hinted_client, hinted_sid = _hint(session, tenant, id_token_hint)
    if client_id and hinted_client and client_id != hinted_client:
        raise invalid_request(
            "client_id differs from the id_token_hint's audience", "client_id khác aud của id_token_hint"
        )
    target = None
    if post_logout_redirect_uri is not None:
        target = _logout_target(session, tenant, client_id or hinted_client, post_logout_redirect_uri, state)
    sids = [s for s in (sid, hinted_sid) if s]
    if sids:
        for row in session.scalars(
            select(LoginSession).where(LoginSession.tenant == tenant, or_(*(LoginSession.sid == s for s in sids)))
        ):
            row.ended_at = now
    session.flush()
    return target


def _hint(session: Session, tenant: str, id_token_hint: str | None) -> tuple[Any, Any]:
    """The client (audience) and login session an ID token hint names, checked to be our own token."""
    if not id_token_hint:
        return None, None
    try:
        claims = jwt.decode(id_token_hint, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise invalid_request("id_token_hint is not a JWT", "id_token_hint không phải JWT") from None
    aud = claims.get("aud")
    hinted_client = aud[0] if isinstance(aud, list) and aud else aud
    hinted_sid = claims.get("sid")
    _check_own_token(session, tenant, id_token_hint)
    return hinted_client, hinted_sid


def _logout_target(session: Session, tenant: str, cid: Any, uri: str, state: str | None) -> str:
    """Where to send the browser after logout: ``uri`` if registered for the client ``cid``."""
    client = clients.find(session, tenant, str(cid)) if cid else None
    if client is None:
        raise invalid_request(
            "post_logout_redirect_uri needs id_token_hint or client_id",
            "post_logout_redirect_uri cần id_token_hint hoặc client_id",
        )
    if uri not in client.post_logout_redirect_uris:
        raise invalid_request(
            "post_logout_redirect_uri is not registered for this client (exact match required)",
            "post_logout_redirect_uri chưa được đăng ký cho ứng dụng (phải khớp chính xác)",
        )
    return with_query(uri, {"state": state})


def _check_own_token(session: Session, tenant: str, token_value: str) -> None:
    """An ID token hint must carry one of our signatures (expiry does not matter here)."""
    try:
        kid = str(jwt.get_unverified_header(token_value).get("kid"))
    except jwt.PyJWTError:
        raise invalid_request("id_token_hint is malformed", "id_token_hint không hợp lệ") from None
    for key in keys.key_set(session, tenant):
        if key.kid == kid:
            try:
                keys.verified_claims(token_value, key.public_jwk)
                return
            except jwt.PyJWTError:
                break
    raise invalid_request("id_token_hint was not issued by this provider", "id_token_hint không do hệ thống này cấp")
