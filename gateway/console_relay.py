"""Browsers reach the training console through the gateway: ``/console/...`` is relayed, path
unchanged, to the console process (``GATEWAY_CONSOLE_URL``), and a browser opening ``/`` (it
asks for ``text/html``) is sent to ``/console/``; API clients keep the JSON index at ``/``.

The relay is a plain reverse proxy over the gateway's upstream pool: no credentials, quota,
faults or journal (the console makes its own calls to the gateway as the tenant's consumer,
and those are authenticated and journalled like any consumer's).
"""

from __future__ import annotations

import json

import aiohttp
from starlette.types import Receive, Scope, Send

from gateway import error_page
from gateway.errors import UpstreamUnreachable
from gateway.pool import UpstreamPool
from gateway.proxy import DROP, RESPONSE_DROP
from vnsandbox.errors import PayloadTooLarge

PREFIX = "/console"
#: Never relayed to the console: what the proxy never relays (hop-by-hop headers, the gateway's
#: own credentials and the headers only it sets), and the length (the body is sent whole).
HOP = DROP | {"content-length"}
#: Not relayed from the console's reply: what the proxy drops from replies, and the length.
REPLY_DROP = RESPONSE_DROP | {"content-length"}


def is_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def wants_console(scope: Scope) -> bool:
    """``GET /`` from a browser: it asks for HTML first (API clients ask for JSON or anything)."""
    if scope["path"] != "/" or scope["method"] not in ("GET", "HEAD"):
        return False
    accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
    return accept.split(b",", 1)[0].strip().startswith(b"text/html")


async def redirect_to_console(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", b"console/"), (b"content-length", b"0"), (b"vary", b"Accept")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def relay(scope: Scope, receive: Receive, send: Send, pool: UpstreamPool, base_url: str, limit: int) -> None:
    session = pool.session
    assert session is not None, "gateway not started"
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    host = next((v for k, v in headers if k == "host"), "")
    headers = [(k, v) for k, v in headers if k not in HOP and not k.startswith("x-forwarded-")]
    headers += [("x-forwarded-host", host), ("x-forwarded-proto", scope.get("scheme", "http"))]
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    url = base_url.rstrip("/") + raw.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
    try:
        data = await _body(receive, limit)
        async with session.request(scope["method"], url, headers=headers, data=data, allow_redirects=False) as resp:
            body = await resp.read()
            out = [(k, v) for k, v in resp.raw_headers if k.decode("latin-1").lower() not in REPLY_DROP]
    except PayloadTooLarge as exc:
        await _error(send, exc)
        return
    except (aiohttp.ClientError, TimeoutError):
        down = UpstreamUnreachable(
            "The training console could not be reached", "Không kết nối được tới bảng điều khiển huấn luyện"
        )
        if error_page.browser_navigation(scope):  # a trainer's browser gets a page, not JSON
            page = error_page.render(down.status_code, down.code, down.message_vi, down.message_en, "", "")
            headers = [*error_page.html_headers(), (b"content-length", str(len(page)).encode())]
            await send({"type": "http.response.start", "status": down.status_code, "headers": headers})
            await send({"type": "http.response.body", "body": page})
            return
        await _error(send, down)
        return
    out.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": resp.status, "headers": out})
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, exc: UpstreamUnreachable | PayloadTooLarge) -> None:
    body = json.dumps(exc.body(), ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
