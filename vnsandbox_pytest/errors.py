"""Typed errors carrying each platform's own code and message."""

from __future__ import annotations

from typing import Any

import httpx


class PlatformError(Exception):
    """A platform answered with an error: ``code`` and ``message`` as the platform sent them."""

    platform = "sandbox"

    def __init__(self, status: int, code: str | int, message: str, body: Any = None, message_en: str = "") -> None:
        self.status = status
        self.code = code
        self.message = message
        self.message_en = message_en
        self.body = body
        english = f" ({message_en})" if message_en and message_en != message else ""
        super().__init__(f"{self.platform} {status} code {code!r}: {message}{english}")


class ControlError(PlatformError):
    """The sandbox's own envelope (``error_code``, ``message``, ``message_en``): control plane, gateway."""

    platform = "sandbox"


class VNeIDError(PlatformError):
    """An OAuth / OIDC error of VNeID (``error``, ``error_description``) or a population-API code."""

    platform = "VNeID"


class DVCQGError(PlatformError):
    """A DVCQG reply whose numeric ``error_code`` is not 0; ``records`` holds the per-record answers."""

    platform = "DVCQG"

    @property
    def records(self) -> list[dict[str, Any]]:
        data = self.body.get("data") if isinstance(self.body, dict) else None
        return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


class PayGovError(PlatformError):
    """A PayGov reply whose ``error_code`` is not ``"0"``/``0``, or whose checksum does not verify."""

    platform = "PayGov"


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return resp.text


def raise_for(resp: httpx.Response, kind: type[PlatformError] = ControlError) -> Any:
    """The reply's JSON, or the typed error for a 4xx/5xx reply in whichever envelope it came."""
    body = _json(resp)
    if resp.status_code < 400:
        return body
    if isinstance(body, dict):
        if "error" in body and "error_code" not in body:
            raise kind(resp.status_code, str(body["error"]), str(body.get("error_description", "")), body)
        code: str | int = body.get("error_code") or body.get("MaLoi") or resp.status_code
        message = str(body.get("message", body.get("MoTaLoi", "")))
        raise kind(resp.status_code, code, message, body, str(body.get("message_en", "")))
    raise kind(resp.status_code, resp.status_code, str(body)[:200], body)
