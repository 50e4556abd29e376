"""Applying a fault the engine (:mod:`gateway.faults`) chose for a call: before the service
is called (an error reply, a dropped connection, a timeout) or to the service's reply (a
garbled body, or the reply lost: the call took effect, the province does not know)."""

from __future__ import annotations

import asyncio
import socket
import struct

from starlette.types import Receive, Scope, Send

from gateway import error_page
from gateway.errors import upstream_timeout
from gateway.exchange import Call, send_whole
from gateway.faults import Decision, platform_error_body
from gateway.routes import Upstream
from vnsandbox.db import dumps


def kill_connection(receive: Receive, *, reset: bool) -> bool:
    """Drop the client's connection without a reply: RST when ``reset``, else FIN.

    ASGI has no message for this, so it reaches the server's transport through the
    ``receive`` callable (uvicorn's request cycle). Returns False under other servers.
    """
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is None or transport is None:
        return False
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    cycle.disconnected = True
    return True


async def answer_before(
    decision: Decision, scope: Scope, receive: Receive, send: Send, upstream: Upstream, call: Call, timeout_s: float
) -> None:
    """A fault answered instead of calling the service. An ``error`` fault answers the platform's
    JSON error body, or a page with the same status when a browser navigates."""
    if decision.kind == "error":
        status = int(decision.rule.params.get("status", 503))
        body = decision.rule.params.get("body")
        if body is None:
            body = platform_error_body(upstream.api, status)
        extra = [
            (str(name).lower().encode("latin-1"), str(value).encode("latin-1"))
            for name, value in (decision.rule.params.get("headers") or {}).items()
        ]
        if error_page.browser_navigation(scope):
            code, vi, en = error_page.fault_texts(body, status)
            page = error_page.render(status, code, vi, en, call.rid, error_page.retry_target(scope))
            own = [h for h in extra if h[0] not in (b"content-type", b"cache-control", b"vary")]
            await send_whole(send, call, status, error_page.html_headers(own), page)
            return
        headers = [(b"content-type", b"application/json; charset=utf-8"), *extra]
        await send_whole(send, call, status, headers, dumps(body).encode())
    else:  # timeout, reset, empty
        await fail_connection(decision, receive, upstream, timeout_s)


async def answer_after(
    decision: Decision,
    receive: Receive,
    send: Send,
    upstream: Upstream,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    call: Call,
    timeout_s: float,
) -> None:
    """A fault applied to the service's reply: the call took effect, the reply is lost or garbled."""
    if decision.kind == "malformed":
        garbled = body[: len(body) // 2] + b"\xff<!-- truncated"
        out = [h for h in headers if h[0].lower() != b"content-length"]
        await send_whole(send, call, status, out, garbled)
    else:  # timeout, reset, empty
        await fail_connection(decision, receive, upstream, timeout_s)


async def fail_connection(decision: Decision, receive: Receive, upstream: Upstream, timeout_s: float) -> None:
    """The connection-level faults, before or after the call: ``timeout`` waits, then answers
    as a slow service would (504); ``reset`` and ``empty`` drop the connection."""
    if decision.kind == "timeout":
        await asyncio.sleep(decision.delay_s)
        raise upstream_timeout(upstream.service, timeout_s)
    if not kill_connection(receive, reset=decision.kind == "reset"):
        raise RuntimeError("connection faults need the uvicorn server")
