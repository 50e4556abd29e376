"""The gateway's hot path: a framework-free ASGI reverse proxy over one aiohttp pool.

Why aiohttp and not httpx: measured on this kind of machine, a proxy over one pooled
``aiohttp.ClientSession`` answers about 6.7× the requests per second of the same proxy
over ``httpx.AsyncClient`` (see ../shared/perf-notes.md and ``bench/gateway_proxy.py``).
Why no framework here: routing and validation per request cost more than the proxying
itself; the control plane (``/_sandbox``, token endpoint, index, docs) is a FastAPI app
beside it.

Per call, in memory only (no database): authenticate (token signature checked once per
token, then cached), check the scope, take a token from the consumer's bucket, pick a
fault rule, relay, journal, count. Bodies are not parsed; small ones are read whole
(faster, and kept redacted in the journal), large ones stream.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import struct
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
from aiohttp.http_exceptions import LineTooLong
from multidict import CIMultiDict
from starlette.types import Receive, Scope, Send

from gateway.auth import Principal, scope_allows
from gateway.errors import (
    AccessDenied,
    AuthError,
    BadProxyPath,
    GatewayError,
    RateLimited,
    UpstreamBadReply,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from gateway.faults import Decision, platform_error_body
from gateway.pool import reused
from gateway.routes import Upstream
from gateway.state import GatewayState
from vnsandbox.context import DEFAULT_TENANT, set_request_id, set_tenant
from vnsandbox.db import dumps
from vnsandbox.errors import SandboxError
from vnsandbox.middleware import REQUEST_ID_RE, UNJOURNALLED_PREFIXES, new_request_id, receive_body_part
from vnsandbox.signing import CONSUMER_HEADER, TENANT_HEADER, TENANT_SIGNATURE_HEADER, tenant_assertion

log = logging.getLogger("gateway.proxy")


def _read_timeout(message_en: str, message_vi: str) -> GatewayError:
    """408 for a request body that did not arrive within ``GATEWAY_BODY_READ_TIMEOUT_S``."""
    return GatewayError(
        message_en, message_vi, code="REQUEST_TIMEOUT", status_code=408, headers={"Connection": "close"}
    )


#: Never relayed: hop-by-hop headers, and headers only the gateway may set.
DROP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        TENANT_HEADER,
        TENANT_SIGNATURE_HEADER,
        CONSUMER_HEADER,
        "x-forwarded-prefix",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-request-id",
        # The gateway's own credentials stop here.
        "x-api-key",
        "apikey",
        "x-gateway-token",
        "x-sandbox-admin-key",
    }
)
RESPONSE_DROP = frozenset({"connection", "keep-alive", "transfer-encoding", "server", "date", "x-request-id"})
_BAD_PATH = re.compile(r"(^|/)\.\.?(/|$)")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
#: Bodies up to this size are read whole before forwarding (faster); larger ones stream.
SMALL_BODY = 65_536


class _StreamedBody:
    """A request body relayed as it arrives (no Content-Length, or a large one), cut at ``limit``
    and at the body-read deadline.

    Going over the limit or past the deadline stops the stream and keeps the refusal in
    ``failure``; the relay then answers it (413, 408) whatever aiohttp made of the
    interrupted upload.
    """

    def __init__(self, receive: Receive, limit: int, deadline: float, timeout_s: float) -> None:
        self.receive = receive
        self.limit = limit
        self.deadline = deadline
        self.timeout_s = timeout_s
        self.started = False
        self.failure: GatewayError | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.started = True
        seen = 0
        while True:
            try:
                message = await receive_body_part(self.receive, self.deadline, self.timeout_s, _read_timeout)
            except GatewayError as exc:
                self.failure = exc
                raise _BodyRefused from None
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                self.failure = _too_large(self.limit)
                raise _BodyRefused
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


class _BodyRefused(Exception):
    pass


def _too_large(limit: int) -> GatewayError:
    return GatewayError(
        f"The request body is larger than {limit} bytes",
        f"Nội dung yêu cầu vượt quá {limit} byte",
        code="PAYLOAD_TOO_LARGE",
        status_code=413,
    )


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


class _Call:
    """What the journal and the metrics need to know about one call."""

    __slots__ = (
        "consumer",
        "error",
        "fault",
        "request_body",
        "request_type",
        "response_body",
        "response_type",
        "status",
        "tenant",
    )

    def __init__(self) -> None:
        #: Unknown until the caller is authenticated; refused strangers are not journalled.
        self.tenant: str | None = None
        self.consumer = ""
        self.status = 0
        self.fault: dict[str, Any] | None = None
        self.error: str | None = None
        self.request_body: bytes | None = None
        self.request_type = ""
        self.response_body: bytes | None = None
        self.response_type = ""


async def _send_whole(send: Send, call: _Call, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """Answer with ``body`` in one piece: ``headers`` (without a length) plus its content-length."""
    call.status = status
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Proxy:
    """Forwards one request to its upstream and streams the reply back."""

    def __init__(self, state: GatewayState) -> None:
        self.gw = state
        self.settings = state.settings
        self.pool = state.pool
        self.journal_body_bytes = self.settings.journal_body_bytes
        #: (scheme, host, path) of GATEWAY_PUBLIC_BASE_URL, if set.
        self.public: tuple[str, str, str] | None = None
        if self.settings.public_base_url:
            parts = urlsplit(self.settings.public_base_url)
            self.public = (parts.scheme, parts.netloc, parts.path.rstrip("/"))

    async def handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        rest: str,
        link: tuple[str, str] | None = None,
    ) -> None:
        started = time.perf_counter()
        gw = self.gw
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        rid = ""
        authorization = api_key = admin_key = tenant_in = None
        host = ""
        fwd: CIMultiDict[str] = CIMultiDict()
        header_bytes = 0
        for k, v in raw_headers:
            header_bytes += len(k) + len(v)
            name = k.decode("latin-1").lower()
            value = v.decode("latin-1")
            if name in DROP:
                if name == "x-request-id":
                    rid = value
                elif name == TENANT_HEADER:
                    tenant_in = value
                elif name in ("x-api-key", "apikey"):
                    api_key = value
                elif name == "x-gateway-token":
                    authorization = "Bearer " + value
                elif name == "x-sandbox-admin-key":
                    admin_key = value
                elif name == "host":
                    host = value
                continue
            if name == "authorization" and authorization is None and gw.auth.is_gateway_token(value):
                authorization = value
                continue
            fwd.add(name, value)
        if not REQUEST_ID_RE.match(rid):
            rid = new_request_id()
        set_request_id(rid)
        call = _Call()
        method: str = scope["method"]
        started_reply = {"sent": False}
        send = self._echo_request_id(send, rid, started_reply)
        try:
            if header_bytes > self.settings.max_header_bytes:
                raise GatewayError(
                    "Request headers are too large",
                    "Tiêu đề yêu cầu quá lớn",
                    code="HEADERS_TOO_LARGE",
                    status_code=431,
                )
            self._check_path(rest)
            principal = self._principal(upstream, rest, link, authorization, api_key, admin_key, tenant_in)
            call.tenant = principal.tenant
            call.consumer = principal.label
            set_tenant(principal.tenant)
            self._authorize(principal, upstream, method)
            decision = None
            rules = gw.config.snapshot.faults.get(principal.tenant)
            if rules:
                decision = gw.faults.decide(rules, upstream.api, method, rest.split("?", 1)[0], principal.client_id)
                if decision is not None:
                    call.fault = decision.journal_note()
                    gw.metrics.faults.labels(upstream.api, decision.kind).inc()
                    if gw.faults.exhausted:
                        gw.schedule_fault_cleanup()
                    if decision.kind == "latency":
                        await asyncio.sleep(decision.delay_s)
                        decision = None
                    elif not decision.after_upstream:
                        await self._inject_before(decision, scope, receive, send, upstream, call)
                        return
            fwd["x-request-id"] = rid
            fwd[TENANT_HEADER] = principal.tenant
            fwd[CONSUMER_HEADER] = principal.client_id
            fwd[TENANT_SIGNATURE_HEADER] = tenant_assertion(
                self.settings.gateway_secret, principal.tenant, rid, principal.client_id
            )
            # X-Forwarded-* sent by the caller were dropped above: these are the gateway's own,
            # from GATEWAY_PUBLIC_BASE_URL when set, else from the request's Host and scheme.
            link_prefix = "" if principal.tenant == DEFAULT_TENANT else gw.auth.link_prefix(principal.tenant)
            if self.public is not None:
                proto, host, base_path = self.public
            else:
                proto, base_path = scope.get("scheme", "http"), ""
            fwd["x-forwarded-prefix"] = base_path + link_prefix + upstream.prefix
            if host:
                fwd["x-forwarded-host"] = host
            fwd["x-forwarded-proto"] = proto
            client = scope.get("client")
            if client:
                prior = fwd.get("x-forwarded-for")
                fwd["x-forwarded-for"] = f"{prior}, {client[0]}" if prior else client[0]
            await self._forward(scope, receive, send, upstream, rest, fwd, decision, call)
        except SandboxError as exc:
            call.error = exc.code
            gw.metrics.refused.labels(upstream.api, exc.code).inc()
            if started_reply["sent"]:
                # The upstream failed after its reply began: end what was sent.
                await send({"type": "http.response.body", "body": b""})
            else:
                call.status = exc.status_code
                await exc.response()(scope, receive, send)
        finally:
            elapsed = time.perf_counter() - started
            path = upstream.redaction.path(scope["path"])
            if call.tenant is not None and not unquote(rest).startswith(UNJOURNALLED_PREFIXES):
                self._journal(scope, path, raw_headers, rid, upstream, method, elapsed, call)
            gw.metrics.observe(upstream.api, method, call.status, elapsed)
            if self.settings.log_requests:
                log.info(
                    "relayed",
                    extra={
                        "method": method,
                        "path": path,
                        "status": call.status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "consumer": call.consumer,
                        "upstream": upstream.service,
                        "fault": call.fault["kind"] if call.fault else None,
                        "error": call.error,
                    },
                )

    def _journal(
        self,
        scope: Scope,
        path: str,
        raw_headers: list[tuple[bytes, bytes]],
        rid: str,
        upstream: Upstream,
        method: str,
        elapsed: float,
        call: _Call,
    ) -> None:
        assert call.tenant is not None
        self.gw.journal.record(
            request_id=rid,
            tenant=call.tenant,
            consumer=call.consumer,
            api=upstream.api,
            upstream=upstream.service,
            method=method,
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            status=call.status,
            duration_ms=round(elapsed * 1000, 3),
            raw_headers=raw_headers,
            raw_request_body=call.request_body,
            request_content_type=call.request_type,
            raw_response_body=call.response_body,
            response_content_type=call.response_type,
            body_limit=self.journal_body_bytes,
            fault=call.fault,
            error=call.error,
            redaction=upstream.redaction,
        )

    def _principal(
        self,
        upstream: Upstream,
        rest: str,
        link: tuple[str, str] | None,
        authorization: str | None,
        api_key: str | None,
        admin_key: str | None,
        tenant_in: str | None,
    ) -> Principal:
        auth = self.gw.auth
        public = upstream.is_public(rest)
        if link is None:
            return auth.authenticate(authorization, api_key, admin_key, tenant_in, allow_anonymous=public)
        tenant, signature = link
        if not auth.verify_link(tenant, signature):
            raise AccessDenied(
                "This tenant link is not valid (its signature does not match the tenant)",
                "Liên kết tenant không hợp lệ (chữ ký không khớp với tenant)",
                code="INVALID_TENANT_LINK",
            )
        if tenant_in is not None and tenant_in != tenant:
            raise AccessDenied(
                "The X-Sandbox-Tenant header names another tenant than the link",
                "Tiêu đề X-Sandbox-Tenant khác tenant của liên kết",
                code="TENANT_MISMATCH",
            )
        if authorization is None and api_key is None and admin_key is None:
            if not public and auth.require_auth:
                raise AuthError(
                    "Credentials required: without them a tenant link opens only browser-facing pages",
                    "Cần thông tin xác thực: không có chúng, liên kết tenant chỉ mở các trang dành cho trình duyệt",
                )
            return Principal("anonymous", tenant)
        return auth.authenticate(authorization, api_key, admin_key, tenant)

    def _authorize(self, principal: Principal, upstream: Upstream, method: str) -> None:
        if principal.kind != "consumer":
            return
        if not scope_allows(principal.scopes, upstream.api, method):
            raise AccessDenied(
                f"The consumer may not call {method} on the {upstream.api} API (scopes: "
                f"{' '.join(sorted(principal.scopes)) or 'none'})",
                f"Ứng dụng không được phép gọi {method} tới API {upstream.api}",
                code="SCOPE_NOT_ALLOWED",
            )
        consumer = self.gw.config.snapshot.consumers.get(principal.client_id)
        if consumer is None:
            return
        wait = self.gw.buckets.take(consumer)
        if wait is not None:
            raise RateLimited(
                f"Quota of consumer {consumer.client_id} exceeded; retry after {wait} s",
                f"Ứng dụng {consumer.client_id} vượt hạn mức; thử lại sau {wait} giây",
                headers={"Retry-After": str(wait)},
            )

    @staticmethod
    def _check_path(rest: str) -> None:
        decoded = unquote(unquote(rest))
        if _BAD_PATH.search(decoded) or "\\" in decoded:
            raise BadProxyPath(
                "Path traversal is not allowed",
                "Không cho phép đường dẫn vượt thư mục",
                code="PATH_TRAVERSAL",
            )
        if _CONTROL_CHARS.search(decoded):
            raise BadProxyPath(
                "Control characters (CR, LF, NUL, ...) are not allowed in the path",
                "Không cho phép ký tự điều khiển (CR, LF, NUL, ...) trong đường dẫn",
                code="INVALID_PATH",
            )

    @staticmethod
    def _echo_request_id(send: Send, rid: str, started_reply: dict[str, bool]) -> Send:
        rid_header = (b"x-request-id", rid.encode())

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), rid_header]
                started_reply["sent"] = True
            await send(message)

        return wrapped  # type: ignore[return-value]

    # -- faults ---------------------------------------------------------------------------

    async def _inject_before(
        self, decision: Decision, scope: Scope, receive: Receive, send: Send, upstream: Upstream, call: _Call
    ) -> None:
        """A fault answered instead of calling the service."""
        kind = decision.kind
        if kind == "error":
            status = int(decision.rule.params.get("status", 503))
            body = decision.rule.params.get("body")
            if body is None:
                body = platform_error_body(upstream.api, status)
            headers = [(b"content-type", b"application/json; charset=utf-8")]
            for name, value in (decision.rule.params.get("headers") or {}).items():
                headers.append((str(name).lower().encode("latin-1"), str(value).encode("latin-1")))
            await _send_whole(send, call, status, headers, dumps(body).encode())
        else:  # timeout, reset, empty
            await self._fail_connection(decision, receive, upstream)

    async def _inject_after(
        self,
        decision: Decision,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        call: _Call,
    ) -> None:
        """A fault applied to the service's reply: the call took effect, the reply is lost or garbled."""
        if decision.kind == "malformed":
            garbled = body[: len(body) // 2] + b"\xff<!-- truncated"
            out = [h for h in headers if h[0].lower() != b"content-length"]
            await _send_whole(send, call, status, out, garbled)
        else:  # timeout, reset, empty
            await self._fail_connection(decision, receive, upstream)

    async def _fail_connection(self, decision: Decision, receive: Receive, upstream: Upstream) -> None:
        """The connection-level faults, before or after the call: ``timeout`` waits, then answers
        as a slow service would (504); ``reset`` and ``empty`` drop the connection."""
        if decision.kind == "timeout":
            await asyncio.sleep(decision.delay_s)
            raise self._timeout(upstream)
        if not kill_connection(receive, reset=decision.kind == "reset"):
            raise RuntimeError("connection faults need the uvicorn server")

    def _timeout(self, upstream: Upstream) -> UpstreamTimeout:
        return UpstreamTimeout(
            f"The {upstream.service} service did not answer within {self.settings.upstream_timeout_s} s",
            f"Dịch vụ {upstream.service} không trả lời trong {self.settings.upstream_timeout_s} giây",
        )

    # -- relaying -------------------------------------------------------------------------

    async def _body(self, scope: Scope, receive: Receive) -> bytes | _StreamedBody:
        limit = self.settings.max_body_bytes
        timeout_s = self.settings.body_read_timeout_s
        deadline = asyncio.get_running_loop().time() + timeout_s
        declared = chunked = None
        for k, v in scope["headers"]:
            if k == b"content-length":
                declared = v
            elif k == b"transfer-encoding":
                chunked = v
        if declared is None and chunked is None:
            return b""  # HTTP/1.1: no Content-Length and no Transfer-Encoding, no body
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                raise GatewayError(
                    "Invalid Content-Length header",
                    "Tiêu đề Content-Length không hợp lệ",
                    code="INVALID_CONTENT_LENGTH",
                ) from None
            if size > limit:
                raise _too_large(limit)
            if size <= SMALL_BODY:
                chunks = []
                while True:
                    message = await receive_body_part(receive, deadline, timeout_s, _read_timeout)
                    chunks.append(message.get("body", b""))
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        return _StreamedBody(receive, limit, deadline, timeout_s)

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        rest: str,
        headers: CIMultiDict[str],
        decision: Decision | None,
        call: _Call,
    ) -> None:
        url = upstream.base_url + rest
        qs = scope.get("query_string", b"")
        if qs:
            url += "?" + qs.decode("latin-1")
        body = await self._body(scope, receive)
        if isinstance(body, bytes) and body and self.journal_body_bytes:
            call.request_body = body[: self.journal_body_bytes + 1]
            call.request_type = headers.get("content-type", "")
        method = scope["method"]
        try:
            resp = await self._send(method, url, headers, body)
            async with resp:
                if isinstance(body, _StreamedBody) and body.failure is not None:
                    raise body.failure
                out = [
                    (k.encode("latin-1"), v.encode("latin-1"))
                    for k, v in resp.headers.items()
                    if k.lower() not in RESPONSE_DROP
                ]
                if decision is not None:
                    whole = await resp.read()
                    await self._inject_after(decision, receive, send, upstream, resp.status, out, whole, call)
                    return
                call.status = resp.status
                if method == "HEAD":
                    await send({"type": "http.response.start", "status": resp.status, "headers": out})
                    await send({"type": "http.response.body", "body": b""})
                    return
                first = await resp.content.read(SMALL_BODY) if resp.content_length is not None else None
                await send({"type": "http.response.start", "status": resp.status, "headers": out})
                if first is not None and resp.content.at_eof():
                    if first and self.journal_body_bytes:
                        call.response_body = first[: self.journal_body_bytes + 1]
                        call.response_type = resp.headers.get("content-type", "")
                    await send({"type": "http.response.body", "body": first})
                    return
                if first:
                    await send({"type": "http.response.body", "body": first, "more_body": True})
                async for chunk in resp.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise self._timeout(upstream) from None
        except aiohttp.ClientError as exc:
            if isinstance(body, _StreamedBody) and body.failure is not None:
                raise body.failure from None
            raise self._upstream_error(upstream, exc) from None

    async def _send(
        self, method: str, url: str, headers: CIMultiDict[str], body: bytes | _StreamedBody
    ) -> aiohttp.ClientResponse:
        """Send the call and read the reply's head, retrying once on a new connection when a
        reused keep-alive connection turns out dead before any byte of a reply came back.

        Such a connection was closed by the service while it sat in the pool (idle timeout,
        or the service ended it after its previous reply); the services never close a
        connection on which they took up a request without answering it, so the call did
        not take effect and is sent again, whatever its method. A streamed body is retried
        only while none of it was read from the client.
        """
        session, fresh_session = self.pool.session, self.pool.fresh_session
        assert session is not None and fresh_session is not None, "gateway not started"
        data = body if body else None
        reused.set(False)
        try:
            return await session.request(method, url, headers=headers, data=data, allow_redirects=False)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            if isinstance(exc, aiohttp.ClientConnectorError) or not reused.get():
                raise
            if isinstance(body, _StreamedBody) and (body.started or body.failure is not None):
                raise
            log.info("upstream closed a pooled connection; call sent again on a new one", extra={"url": url})
        return await fresh_session.request(method, url, headers=headers, data=data, allow_redirects=False)

    def _upstream_error(self, upstream: Upstream, exc: aiohttp.ClientError) -> GatewayError:
        """The gateway's 502 for an upstream that could not be reached or answered something
        that is not HTTP the gateway can relay."""
        if isinstance(exc, aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
            cause = exc.__cause__
            if isinstance(cause, LineTooLong) or "Got more than" in str(exc):
                limit = self.settings.max_upstream_header_bytes
                return UpstreamBadReply(
                    f"The {upstream.service} service answered with a header line over {limit} bytes "
                    "(GATEWAY_MAX_UPSTREAM_HEADER_BYTES)",
                    f"Dịch vụ {upstream.service} trả lời với một dòng tiêu đề dài quá {limit} byte",
                    code="UPSTREAM_HEADER_TOO_LARGE",
                )
            return UpstreamBadReply(
                f"The {upstream.service} service answered with a malformed HTTP reply: {exc.__class__.__name__}",
                f"Dịch vụ {upstream.service} trả lời không đúng định dạng HTTP",
            )
        return UpstreamUnreachable(
            f"The {upstream.service} service could not be reached at {upstream.base_url}: {exc.__class__.__name__}",
            f"Không kết nối được tới dịch vụ {upstream.service} ({upstream.base_url})",
        )
