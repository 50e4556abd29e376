"""What the OpenID Connect provider's parts share: the switch catalogue, the discovery
metadata, URL and scope helpers, and the housekeeping of expired codes and tokens.

The behaviour itself is split by concern (no HTTP types in any of them): :mod:`authorize`
(authorization requests, the login decision, codes), :mod:`token` (client authentication,
grants, verifying, introspecting and revoking tokens) with :mod:`minting` (making them), and
:mod:`session` (login sessions, logout). :mod:`service` is the entry point the router calls.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import delete
from sqlalchemy.orm import Session

from services.identity import clients
from services.identity.models import AuthorizationCode, IssuedToken, UsedAssertion
from services.identity.settings import IdentitySettings

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

CLAIMS_SUPPORTED = [
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
]


def discovery(issuer: str, settings: IdentitySettings) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 metadata of the provider reached at ``issuer``."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth2/authorize",
        "token_endpoint": f"{issuer}/oauth2/token",
        "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
        "jwks_uri": f"{issuer}/oauth2/jwks",
        "end_session_endpoint": f"{issuer}/oauth2/logout",
        "introspection_endpoint": f"{issuer}/oauth2/introspect",
        "revocation_endpoint": f"{issuer}/oauth2/revoke",
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
        "claims_supported": list(CLAIMS_SUPPORTED),
        "ui_locales_supported": ["vi"],
    }


#: Encoded discovery documents by (issuer, S256 only): the issuer is the URL the caller used,
#: so the cache is bounded (a direct caller may choose its ``X-Forwarded-Host`` in the embedded mode).
_documents: dict[tuple[str, bool], bytes] = {}
DOCUMENTS_KEPT = 256


def discovery_document(issuer: str, settings: IdentitySettings) -> bytes:
    """:func:`discovery` encoded as JSON, once per issuer."""
    key = (issuer, settings.pkce_require_s256)
    body = _documents.get(key)
    if body is None:
        body = json.dumps(discovery(issuer, settings), ensure_ascii=False, separators=(",", ":")).encode()
        if len(_documents) >= DOCUMENTS_KEPT:
            _documents.clear()
        _documents[key] = body
    return body


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ts(value: datetime) -> int:
    """A JWT time (seconds since the epoch)."""
    return int(value.timestamp())


def with_query(uri: str, params: dict[str, str | None]) -> str:
    """``uri`` with ``params`` added to its query (keeping the query it already has)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def machine_scopes(scopes: list[str]) -> list[str]:
    """The scopes among ``scopes`` that only a system's own token may carry."""
    return [s for s in scopes if s in clients.MACHINE_SCOPES]


def machine_scope_texts(machine: list[str]) -> tuple[str, str]:
    """The refusal of machine scopes in a citizen's login: English, Vietnamese."""
    names = " ".join(machine)
    return (
        f"The scope {names} is for a system's own access token (grant_type=client_credentials), "
        "never for a citizen's login",
        f"Phạm vi {names} chỉ dành cho access token của hệ thống (grant_type=client_credentials), "
        "không dùng cho đăng nhập của công dân",
    )


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
