"""The gateway's OAuth 2.0 token endpoint (client_credentials, RFC 6749 §4.4)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.auth import KNOWN_SCOPES
from gateway.control.access import state_of
from vnsandbox.errors import OAuthError, OAuthErrorBody
from vnsandbox.openapi import error_responses, secured

token_router = APIRouter(tags=["oauth2"])


@token_router.post(
    "/oauth2/token",
    openapi_extra=secured("clientBasic", optional=True),
    responses=error_responses(
        400,
        401,
        envelope=OAuthErrorBody,
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
            raise _invalid_client("Malformed HTTP Basic credentials", "Thông tin HTTP Basic không hợp lệ") from None
    if fields.get("grant_type") != "client_credentials":
        raise OAuthError(
            "unsupported_grant_type",
            "Only grant_type=client_credentials is supported",
            "Chỉ hỗ trợ grant_type=client_credentials",
        )
    if not client_id or not client_secret:
        raise _invalid_client("client_id and client_secret are required", "Cần client_id và client_secret")
    consumer = gw.auth.check_client_secret(client_id, client_secret)
    if consumer is None:
        raise _invalid_client("Unknown client or wrong secret", "Không có ứng dụng này hoặc sai client_secret")
    requested = set(fields.get("scope", "").split())
    if not requested:
        granted = set(consumer.scopes)
    elif requested - KNOWN_SCOPES:
        unknown = " ".join(sorted(requested - KNOWN_SCOPES))
        raise OAuthError("invalid_scope", f"Unknown scopes: {unknown}", f"Phạm vi không tồn tại: {unknown}")
    elif "*" not in consumer.scopes and not requested <= consumer.scopes:
        missing = " ".join(sorted(requested - consumer.scopes))
        raise OAuthError(
            "invalid_scope",
            f"Scopes not granted to this client: {missing}",
            f"Ứng dụng không được cấp phạm vi: {missing}",
        )
    else:
        granted = requested
    access_token, ttl = gw.auth.issue(consumer, frozenset(granted), gw.settings.token_ttl_s)
    return JSONResponse(
        {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl, "scope": " ".join(sorted(granted))},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _invalid_client(message_en: str, message_vi: str) -> OAuthError:
    return OAuthError(
        "invalid_client",
        message_en,
        message_vi,
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="vnsandbox"'},
    )
