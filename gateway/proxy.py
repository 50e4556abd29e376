"""The gateway's hot path: a framework-free ASGI reverse proxy over one aiohttp pool.

Why aiohttp and not httpx: measured on this kind of machine, a proxy over one pooled
``aiohttp.ClientSession`` answers about 6.7× the requests per second of the same proxy
over ``httpx.AsyncClient`` (see ../shared/perf-notes.md and ``bench/``). Why no
framework here: routing and validation per request cost more than the proxying itself;
the control plane (``/_sandbox``, index, docs) is a FastAPI app beside it.

Bodies are streamed both ways and never parsed.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import aiohttp
from multidict import CIMultiDict
from starlette.types import Receive, Scope, Send

from gateway.routes import Upstream
from gateway.settings import GatewaySettings
from vnsandbox.context import DEFAULT_TENANT, set_request_id, set_tenant
from vnsandbox.errors import SandboxError
from vnsandbox.journal import Journal, redact_headers
from vnsandbox.middleware import REQUEST_ID_RE, new_request_id, valid_tenant
from vnsandbox.signing import CONSUMER_HEADER, TENANT_HEADER, TENANT_SIGNATURE_HEADER, tenant_assertion

log = logging.getLogger("gateway.proxy")

HOP_BY_HOP = frozenset(
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
        # Set by the gateway only: a caller cannot forge them.
        TENANT_SIGNATURE_HEADER,
        CONSUMER_HEADER,
        "x-forwarded-prefix",
        "x-forwarded-host",
        "x-forwarded-proto",
    }
)
RESPONSE_DROP = frozenset({"connection", "keep-alive", "transfer-encoding", "server", "date", "x-request-id"})
_BAD_PATH = re.compile(r"(^|/)\.\.?(/|$)")
#: Bodies up to this size are read whole before forwarding (faster); larger ones stream.
SMALL_BODY = 65_536


class GatewayError(SandboxError):
    """Errors the gateway answers itself, with X-Road style ``type`` and ``detail``."""

    xroad_type = "Server.ServerProxy"

    def body(self) -> dict[str, Any]:
        out = super().body()
        out["type"] = self.xroad_type
        out["detail"] = self.message_en
        return out


class UpstreamUnreachable(GatewayError):
    status_code = 502
    code = "UPSTREAM_UNREACHABLE"
    xroad_type = "Server.ServerProxy.NetworkError"
    message_vi = "Không kết nối được tới dịch vụ phía sau cổng kết nối"
    message_en = "The upstream service could not be reached"


class UpstreamTimeout(GatewayError):
    status_code = 504
    code = "UPSTREAM_TIMEOUT"
    xroad_type = "Server.ServerProxy.Timeout"
    message_vi = "Dịch vụ phía sau cổng kết nối không trả lời kịp thời"
    message_en = "The upstream service did not answer in time"


class BadProxyPath(GatewayError):
    status_code = 400
    code = "INVALID_PATH"
    xroad_type = "Client.InvalidPath"
    message_vi = "Đường dẫn không hợp lệ"
    message_en = "Invalid path"


class Proxy:
    """Forwards one request to its upstream and streams the reply back."""

    def __init__(self, settings: GatewaySettings, journal: Journal) -> None:
        self.settings = settings
        self.journal = journal
        self.session: aiohttp.ClientSession | None = None
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=settings.connect_timeout_s, sock_read=settings.upstream_timeout_s
        )

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.settings.pool_size, limit_per_host=0, ttl_dns_cache=300)
        self.session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            timeout=self.timeout,
            skip_auto_headers=("User-Agent",),
        )

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def handle(self, scope: Scope, receive: Receive, send: Send, upstream: Upstream, rest: str) -> None:
        started = time.perf_counter()
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        rid = ""
        tenant_in = None
        fwd: CIMultiDict[str] = CIMultiDict()
        header_bytes = 0
        for k, v in raw_headers:
            header_bytes += len(k) + len(v)
            name = k.decode("latin-1").lower()
            value = v.decode("latin-1")
            if name == "x-request-id":
                rid = value
                continue
            if name == TENANT_HEADER:
                tenant_in = value
                continue
            if name not in HOP_BY_HOP:
                fwd.add(name, value)
        if not REQUEST_ID_RE.match(rid):
            rid = new_request_id()
        set_request_id(rid)
        tenant = tenant_in or DEFAULT_TENANT
        set_tenant(tenant)
        status = 0
        note: dict[str, Any] = {"upstream": upstream.service}
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
            if not valid_tenant(tenant):
                raise GatewayError("Invalid tenant name", "Tên tenant không hợp lệ", code="INVALID_TENANT")
            self._check_path(rest)
            fwd["x-request-id"] = rid
            fwd[TENANT_HEADER] = tenant
            fwd[TENANT_SIGNATURE_HEADER] = tenant_assertion(self.settings.gateway_secret, tenant, rid)
            fwd["x-forwarded-prefix"] = upstream.prefix
            host = next((v.decode("latin-1") for k, v in raw_headers if k == b"host"), "")
            if host:
                fwd["x-forwarded-host"] = host
            fwd["x-forwarded-proto"] = scope.get("scheme", "http")
            client = scope.get("client")
            if client:
                prior = fwd.get("x-forwarded-for")
                fwd["x-forwarded-for"] = f"{prior}, {client[0]}" if prior else client[0]
            status = await self._forward(scope, receive, send, upstream, rest, fwd)
        except SandboxError as exc:
            note["error"] = exc.code
            if started_reply["sent"]:
                # The upstream failed after its reply began: end what was sent.
                await send({"type": "http.response.body", "body": b""})
            else:
                status = exc.status_code
                await exc.response()(scope, receive, send)
        finally:
            self.journal.record(
                request_id=rid,
                tenant=tenant,
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                request_headers=redact_headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers]),
                request_body=None,
                response_headers={},
                response_body=None,
                notes=note,
            )

    @staticmethod
    def _check_path(rest: str) -> None:
        decoded = unquote(unquote(rest))
        if _BAD_PATH.search(decoded) or "\\" in decoded or "\x00" in decoded:
            raise BadProxyPath(
                "Path traversal is not allowed",
                "Không cho phép đường dẫn vượt thư mục",
                code="PATH_TRAVERSAL",
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

    async def _body(self, scope: Scope, receive: Receive) -> bytes | AsyncIterator[bytes]:
        limit = self.settings.max_body_bytes
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
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
                raise GatewayError(
                    f"The request body is larger than {limit} bytes",
                    f"Nội dung yêu cầu vượt quá {limit} byte",
                    code="PAYLOAD_TOO_LARGE",
                    status_code=413,
                )
            if size <= SMALL_BODY:
                chunks = []
                while True:
                    message = await receive()
                    chunks.append(message.get("body", b""))
                    if not message.get("more_body", False):
                        return b"".join(chunks)

        async def stream() -> AsyncIterator[bytes]:
            seen = 0
            while True:
                message = await receive()
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > limit:
                    raise GatewayError(
                        f"The request body is larger than {limit} bytes",
                        f"Nội dung yêu cầu vượt quá {limit} byte",
                        code="PAYLOAD_TOO_LARGE",
                        status_code=413,
                    )
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return

        return stream()

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        rest: str,
        headers: CIMultiDict[str],
    ) -> int:
        assert self.session is not None, "gateway not started"
        url = upstream.base_url + rest
        qs = scope.get("query_string", b"")
        if qs:
            url += "?" + qs.decode("latin-1")
        body = await self._body(scope, receive)
        method = scope["method"]
        try:
            async with self.session.request(
                method, url, headers=headers, data=body if body else None, allow_redirects=False
            ) as resp:
                out = [
                    (k.encode("latin-1"), v.encode("latin-1"))
                    for k, v in resp.headers.items()
                    if k.lower() not in RESPONSE_DROP
                ]
                if method == "HEAD":
                    await send({"type": "http.response.start", "status": resp.status, "headers": out})
                    await send({"type": "http.response.body", "body": b""})
                    return resp.status
                first = await resp.content.read(SMALL_BODY) if resp.content_length is not None else None
                await send({"type": "http.response.start", "status": resp.status, "headers": out})
                if first is not None and resp.content.at_eof():
                    await send({"type": "http.response.body", "body": first})
                    return resp.status
                if first:
                    await send({"type": "http.response.body", "body": first, "more_body": True})
                async for chunk in resp.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
                return resp.status
        except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            raise UpstreamUnreachable(
                f"The {upstream.service} service could not be reached at {upstream.base_url}: {exc.__class__.__name__}",
                f"Không kết nối được tới dịch vụ {upstream.service} ({upstream.base_url})",
            ) from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeout(
                f"The {upstream.service} service did not answer within {self.settings.upstream_timeout_s} s",
                f"Dịch vụ {upstream.service} không trả lời trong {self.settings.upstream_timeout_s} giây",
            ) from None
