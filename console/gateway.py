"""The console's only way to the platforms: HTTP calls to the gateway, as a tenant's consumer.

A tenant's consumer gets a token from the gateway's token endpoint (``client_credentials``),
kept in memory until the gateway refuses it (a token expires on the tenant's test clock, so
advancing the clock can end it at once), then asked for again. Without credentials (the
``default`` tenant of an open embedded gateway) calls go out anonymously.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from vnsandbox.errors import SandboxError


@dataclass(frozen=True)
class Operator:
    """Who the console acts as: a tenant, with its consumer's credentials (none for an open ``default``)."""

    tenant: str
    client_id: str = ""
    client_secret: str = ""


class GatewayRefused(SandboxError):
    """The gateway (or a platform behind it) refused a call the console made; its reply is kept."""

    status_code = 502
    code = "GATEWAY_REFUSED"
    message_vi = "Cổng kết nối từ chối yêu cầu"
    message_en = "The gateway refused the call"

    def __init__(self, status: int, body: Any) -> None:
        self.reply_status = status
        self.reply_body = body
        vi, en = _messages(body)
        super().__init__(f"{status}: {en}", f"{status}: {vi}")


def _messages(body: Any) -> tuple[str, str]:
    """The Vietnamese and English messages of a platform's error reply, whatever its envelope."""
    if not isinstance(body, dict):
        return str(body)[:200], str(body)[:200]
    vi = str(body.get("message") or body.get("error_description") or body.get("error_code") or body.get("error") or "")
    return vi, str(body.get("message_en") or vi)


class GatewayDown(SandboxError):
    status_code = 502
    code = "GATEWAY_UNREACHABLE"
    message_vi = "Không kết nối được tới cổng kết nối"
    message_en = "The gateway could not be reached"


class GatewayClient:
    def __init__(self, base_url: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport)
        self._tokens: dict[str, str] = {}

    async def close(self) -> None:
        await self.http.aclose()

    async def token(self, op: Operator, fresh: bool = False) -> str:
        if not fresh and op.client_id in self._tokens:
            return self._tokens[op.client_id]
        r = await self._send(
            "POST",
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(op.client_id, op.client_secret),
        )
        body = _json(r)
        if r.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise GatewayRefused(r.status_code, body)
        self._tokens[op.client_id] = str(body["access_token"])
        return self._tokens[op.client_id]

    async def request(self, op: Operator, method: str, path: str, **kw: Any) -> httpx.Response:
        """One call as ``op``; a refused token is renewed once."""
        headers = dict(kw.pop("headers", None) or {})
        if not op.client_id:
            headers["X-Sandbox-Tenant"] = op.tenant
            return await self._send(method, path, headers=headers, **kw)
        # A call that needs Authorization for the platform itself (a DVCQG unit's API key) carries
        # the gateway's token as X-Gateway-Token instead.
        header = "X-Gateway-Token" if "Authorization" in headers else "Authorization"
        for fresh in (False, True):
            token = await self.token(op, fresh)
            headers[header] = token if header == "X-Gateway-Token" else f"Bearer {token}"
            r = await self._send(method, path, headers=headers, **kw)
            if r.status_code != 401:
                return r
        return r

    async def json(self, op: Operator, method: str, path: str, ok: tuple[int, ...] = (200, 201), **kw: Any) -> Any:
        r = await self.request(op, method, path, **kw)
        body = _json(r)
        if r.status_code not in ok:
            raise GatewayRefused(r.status_code, body)
        return body

    async def browser_link(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """A call to one of a tenant's browser-facing links (``/t/{tenant}/{sig}/...``, as a service
        hands them out with the gateway's public address), made to the console's gateway address."""
        path = urlsplit(url).path
        start = path.find("/t/")
        query = urlsplit(url).query
        return await self._send(method, (path[start:] if start >= 0 else path) + (f"?{query}" if query else ""), **kw)

    async def create_tenant(self, description: str) -> dict[str, Any]:
        r = await self._send("POST", "/_sandbox/tenants", json={"description": description})
        body = _json(r)
        if r.status_code != 201 or not isinstance(body, dict):
            raise GatewayRefused(r.status_code, body)
        return body

    async def self_service_tenants(self) -> bool:
        """Whether anyone may create a tenant (the gateway's ``/_sandbox/version``); when the
        gateway does not say, the console offers it and shows the gateway's refusal if any."""
        try:
            body = _json(await self._send("GET", "/_sandbox/version"))
        except GatewayDown:
            return True
        return not isinstance(body, dict) or body.get("self_service_tenants", True) is not False

    async def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            return await self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise GatewayDown(f"The gateway could not be reached: {exc.__class__.__name__}") from exc


def _json(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return r.text
