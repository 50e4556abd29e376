"""Errors of the identity service in the envelopes its real counterparts use.

OAuth 2.0 / OpenID Connect endpoints answer ``{"error", "error_description"}`` (RFC 6749
§5.2) through the foundation's :class:`vnsandbox.errors.OAuthError`, built here by the helpers
below; the population API uses the sandbox envelope with its own codes.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from vnsandbox.context import current_request_id
from vnsandbox.errors import ErrorBody, OAuthError, OAuthErrorBody, SandboxError
from vnsandbox.openapi import Responses, error_responses


def invalid_request(en: str, vi: str) -> OAuthError:
    return OAuthError("invalid_request", en, vi)


def invalid_client(en: str, vi: str, *, basic: bool = False) -> OAuthError:
    headers = {"WWW-Authenticate": 'Basic realm="vneid"'} if basic else None
    return OAuthError("invalid_client", en, vi, status_code=401, headers=headers)


def invalid_grant(en: str, vi: str, *, keep_changes: bool = False) -> OAuthError:
    return OAuthError("invalid_grant", en, vi, keep_changes=keep_changes)


def invalid_token(en: str, vi: str, *, status_code: int = 401, error: str = "invalid_token") -> OAuthError:
    """A bearer-token error (RFC 6750): the reason is also in ``WWW-Authenticate``."""
    challenge = f'Bearer realm="vneid", error="{error}", error_description="{en}"'
    return OAuthError(error, en, vi, status_code=status_code, headers={"WWW-Authenticate": challenge})


class AuthorizeError(Exception):
    """An error of the authorization endpoint, sent back to the client's redirect URI."""

    def __init__(self, error: str, message_en: str, message_vi: str) -> None:
        super().__init__(message_en)
        self.error = error
        self.message_en = message_en
        self.message_vi = message_vi

    def description(self) -> str:
        return f"{self.message_vi} ({self.message_en})"


class PopulationError(SandboxError):
    """An error of the population verification API, with the result code ``MaKetQua``."""

    result_code: str = ""

    def __init__(
        self,
        message_en: str,
        message_vi: str,
        *,
        code: str,
        status_code: int,
        result_code: str,
        headers: dict[str, str] | None = None,
        keep_changes: bool = False,
    ) -> None:
        super().__init__(
            message_en, message_vi, code=code, status_code=status_code, headers=headers, keep_changes=keep_changes
        )
        self.result_code = result_code

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["MaKetQua"] = self.result_code
        body["request_id"] = current_request_id()
        return body


class PopulationErrorBody(ErrorBody):
    """An error of the population API: the sandbox envelope with the result code ``MaKetQua``."""

    MaKetQua: str = Field(description="the verification result code (docs/identity.md)")


def oauth_errors(*statuses: int, **descriptions: str) -> Responses:
    """``responses=`` declaring OAuth 2.0 error replies."""
    return error_responses(*statuses, envelope=OAuthErrorBody, **descriptions)


def population_errors(*statuses: int, **descriptions: str) -> Responses:
    """``responses=`` declaring population API errors (with ``MaKetQua``)."""
    return error_responses(*statuses, envelope=PopulationErrorBody, **descriptions)
