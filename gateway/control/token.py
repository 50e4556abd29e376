"""The gateway's OAuth 2.0 token endpoint (client_credentials, RFC 6749 §4.4)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.auth import KNOWN_SCOPES
from gateway.control.access import state_of
from gateway.errors import GatewayOAuthErrorBody, OAuthError
from vnsandbox.openapi import error_responses, secured

token_router = APIRouter(tags=["oauth2"])


@token_router.post(
    "/oauth2/token",
    openapi_extra=secured("clientBasic", optional=True),
    responses=error_responses(
        400,
        401,
        envelope=GatewayOAuthErrorBody,
        s400="`unsupported_grant_type`, `invalid_scope` (OAuth 2.0 envelope)",
        s401="`invalid_client`: unknown client, wrong secret, or no credentials (OAuth 2.0 envelope)",
    ),
    summary="OAuth 2.0 client_credentials token endpoint",
)
@token_router.post("/token", include_in_schema=False)
async def token(request: Request) -> JSONResponse:
    """Exchange a consumer's client id and secret for an access token (RFC 6749 §4.4).

    Send ``grant_type=client_credentials`` form-encoded, with ``client_id`` and
    ``client_secret`` in the form or in HTTP Basic auth, and optionally ``scope``
    (space-separated, a subset of the consumer's scopes). The token is a JWT signed by
    the gateway; send it as ``Authorization: Bearer <token>`` (or ``X-Gateway-Token``
    when the ``Authorization`` header is needed for the upstream API itself).
    """
    gw = state_of(request)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    client_id, client_secret = fields.get("client_id"), fields.get("client_secret")
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(basic[6:].strip(), validate=True).decode()
            user, _, password = decoded.partition(":")
            client_id, client_secret = unquote(user), unquote(password)
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Malformed HTTP Basic credentials", 401) from None
    if fields.get("grant_type") != "client_credentials":
        raise OAuthError("unsupported_grant_type", "Only grant_type=client_credentials is supported")
    if not client_id or not client_secret:
        raise OAuthError("invalid_client", "client_id and client_secret are required", 401)
    consumer = gw.auth.check_client_secret(client_id, client_secret)
    if consumer is None:
        raise OAuthError("invalid_client", "Unknown client or wrong secret", 401)
    requested = set(fields.get("scope", "").split())
    if not requested:
        granted = set(consumer.scopes)
    elif requested - KNOWN_SCOPES:
        raise OAuthError("invalid_scope", f"Unknown scopes: {' '.join(sorted(requested - KNOWN_SCOPES))}")
    elif "*" not in consumer.scopes and not requested <= consumer.scopes:
        raise OAuthError(
            "invalid_scope", f"Scopes not granted to this client: {' '.join(sorted(requested - consumer.scopes))}"
        )
    else:
        granted = requested
    access_token, ttl = gw.auth.issue(consumer, frozenset(granted), gw.settings.token_ttl_s)
    return JSONResponse(
        {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl, "scope": " ".join(sorted(granted))},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
