"""The gateway's hot path: a framework-free ASGI reverse proxy over one aiohttp pool.

Why no framework here: routing and validation per request cost more than the proxying
itself; the control plane (``/_sandbox``, token endpoint, index, docs) is a FastAPI app
beside it (:mod:`gateway.control`). Why aiohttp: see :mod:`gateway.pool`.

Per call, in memory only (no database), in named steps of :meth:`Proxy.handle`: read the
headers (the gateway's own are kept, the rest relayed), admit the caller (authenticate:
token signature checked once per token, then cached; authorize: scope, then a token from
the consumer's bucket), pick a fault rule (:mod:`gateway.faults`, applied by
:mod:`gateway.inject`), forward (body: :mod:`gateway.bodies`), journal and count.
Bodies are not parsed; small ones are read whole (faster, and kept redacted in the
journal), large ones stream.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
from aiohttp.http_exceptions import LineTooLong
from multidict import CIMultiDict
from starlette.types import Receive, Scope, Send

from gateway import error_page, inject
from gateway.auth import Principal, scope_allows
from gateway.bodies import SMALL_BODY, StreamedBody, read_body
from gateway.config import FaultConf
from gateway.errors import (
    AccessDenied,
    AuthError,
    BadProxyPath,
    GatewayError,
    RateLimited,
    UpstreamBadReply,
    UpstreamUnreachable,
    upstream_timeout,
)
from gateway.exchange import Call, send_whole
from gateway.pool import reused
from gateway.quota import LEASE
from gateway.routes import Upstream
from gateway.state import GatewayState
from vnsandbox.calls import REQUEST_ID_HEADER, put_signed_headers
from vnsandbox.context import DEFAULT_TENANT, set_request_id, set_tenant
from vnsandbox.errors import SandboxError
from vnsandbox.middleware import REQUEST_ID_RE, UNJOURNALLED_PREFIXES, new_request_id
from vnsandbox.signing import CONSUMER_HEADER, TENANT_HEADER, TENANT_SIGNATURE_HEADER

log = logging.getLogger("gateway.proxy")


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
        REQUEST_ID_HEADER,
        # The gateway's own credentials stop here.
        "x-api-key",
        "apikey",
        "x-gateway-token",
        "x-sandbox-admin-key",
    }
)
RESPONSE_DROP = frozenset({"connection", "keep-alive", "transfer-encoding", "server", "date", "x-request-id"})
#: The gateway's own refusals a browser gets as a page: the service could not be reached, answered
#: badly or too late (:mod:`gateway.error_page`).
UPSTREAM_FAILURES = frozenset({502, 503, 504})
_BAD_PATH = re.compile(r"(^|/)\.\.?(/|$)")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


class Proxy:
    """Forwards one request to its upstream and streams the reply back."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state
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
        call = Call()
        fwd = self._read_headers(scope["headers"], call)
        set_request_id(call.rid)
        send = self._echo_request_id(send, call)
        method: str = scope["method"]
        try:
            principal = self._admit(upstream, rest, link, method, call)
            await self._take_quota(principal)
            rules = self.state.config.snapshot.faults.get(principal.tenant)
            if rules and await self._fault_before(rules, scope, receive, send, upstream, rest, principal, call):
                return
            self._add_gateway_headers(fwd, scope, upstream, principal, call)
            await self._forward(scope, receive, send, upstream, rest, fwd, call)
        except SandboxError as exc:
            await self._refuse(exc, scope, receive, send, upstream, call)
        finally:
            self._account(scope, upstream, rest, method, call, time.perf_counter() - started)

    # -- the steps of a call ----------------------------------------------------------------

    def _read_headers(self, raw_headers: list[tuple[bytes, bytes]], call: Call) -> CIMultiDict[str]:
        """The headers to relay; what the gateway keeps for itself (its credentials, the tenant
        asked for, the request id, the host) goes on ``call``."""
        is_gateway_token = self.state.auth.is_gateway_token
        rid = host = ""
        authorization = api_key = admin_key = tenant_in = None
        fwd: CIMultiDict[str] = CIMultiDict()
        header_bytes = 0
        for k, v in raw_headers:
            header_bytes += len(k) + len(v)
            name = k.decode("latin-1").lower()
            value = v.decode("latin-1")
            if name in DROP:
                if name == REQUEST_ID_HEADER:
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
            if name == "authorization" and authorization is None and is_gateway_token(value):
                authorization = value
                continue
            fwd.add(name, value)
        call.rid = rid if REQUEST_ID_RE.match(rid) else new_request_id()
        call.authorization, call.api_key, call.admin_key = authorization, api_key, admin_key
        call.tenant_in, call.host, call.header_bytes = tenant_in, host, header_bytes
        return fwd

    def _admit(self, upstream: Upstream, rest: str, link: tuple[str, str] | None, method: str, call: Call) -> Principal:
        """The caller, authenticated and allowed to make this call (else a refusal is raised)."""
        if call.header_bytes > self.settings.max_header_bytes:
            raise GatewayError(
                "Request headers are too large",
                "Tiêu đề yêu cầu quá lớn",
                code="HEADERS_TOO_LARGE",
                status_code=431,
            )
        self._check_path(rest)
        principal = self._principal(upstream, rest, link, call)
        call.tenant = principal.tenant
        call.consumer = principal.label
        set_tenant(principal.tenant)
        self._authorize(principal, upstream, method)
        return principal

    async def _fault_before(
        self,
        rules: tuple[FaultConf, ...],
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        rest: str,
        principal: Principal,
        call: Call,
    ) -> bool:
        """Pick the call's fault among the tenant's ``rules`` and apply what comes before the
        service is called; True when the fault answered the call (the service is not called)."""
        state = self.state
        method = scope["method"]
        decision = await state.faults.decide(rules, upstream.api, method, rest.split("?", 1)[0], principal.client_id)
        if decision is None:
            return False
        call.fault = decision.journal_note()
        state.metrics.faults.labels(upstream.api, decision.kind).inc()
        if state.faults.exhausted:
            state.schedule_fault_cleanup()
        if decision.kind == "latency":
            await asyncio.sleep(decision.delay_s)
            return False
        if decision.after_upstream:
            call.decision = decision
            return False
        await inject.answer_before(decision, scope, receive, send, upstream, call, self.settings.upstream_timeout_s)
        return True

    def _add_gateway_headers(
        self, fwd: CIMultiDict[str], scope: Scope, upstream: Upstream, principal: Principal, call: Call
    ) -> None:
        """The request id, the signed tenant assertion and the gateway's own X-Forwarded-*."""
        put_signed_headers(
            fwd, self.settings.gateway_secret, principal.tenant, call.rid, principal.client_id, always_consumer=True
        )
        # X-Forwarded-* sent by the caller were dropped: these are the gateway's own, from
        # GATEWAY_PUBLIC_BASE_URL when set, else from the request's Host and scheme.
        link_prefix = "" if principal.tenant == DEFAULT_TENANT else self.state.auth.link_prefix(principal.tenant)
        host = call.host
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

    async def _refuse(
        self, exc: SandboxError, scope: Scope, receive: Receive, send: Send, upstream: Upstream, call: Call
    ) -> None:
        call.error = exc.code
        self.state.metrics.refused.labels(upstream.api, exc.code).inc()
        if call.sent:
            # The upstream failed after its reply began: end what was sent.
            await send({"type": "http.response.body", "body": b""})
        elif exc.status_code in UPSTREAM_FAILURES and error_page.browser_navigation(scope):
            # A browser on a platform's page (VNeID's login, PayGov's payment page) gets a page.
            page = error_page.render(
                exc.status_code, exc.code, exc.message_vi, exc.message_en, call.rid, error_page.retry_target(scope)
            )
            extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers.items()]
            await send_whole(send, call, exc.status_code, error_page.html_headers(extra), page)
        else:
            call.status = exc.status_code
            await exc.response()(scope, receive, send)

    def _account(self, scope: Scope, upstream: Upstream, rest: str, method: str, call: Call, elapsed: float) -> None:
        """Journal the call (when its tenant is known), count it, and log it."""
        path = upstream.redaction.path(scope["path"])
        if call.tenant is not None and not unquote(rest).startswith(UNJOURNALLED_PREFIXES):
            self._journal(scope, path, upstream, method, elapsed, call)
        self.state.metrics.observe(upstream.api, method, call.status, elapsed)
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

    def _journal(self, scope: Scope, path: str, upstream: Upstream, method: str, elapsed: float, call: Call) -> None:
        assert call.tenant is not None
        self.state.journal.record(
            request_id=call.rid,
            tenant=call.tenant,
            consumer=call.consumer,
            api=upstream.api,
            upstream=upstream.service,
            method=method,
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            status=call.status,
            duration_ms=round(elapsed * 1000, 3),
            raw_headers=scope["headers"],
            raw_request_body=call.request_body,
            request_content_type=call.request_type,
            raw_response_body=call.response_body,
            response_content_type=call.response_type,
            body_limit=self.journal_body_bytes,
            fault=call.fault,
            error=call.error,
            redaction=upstream.redaction,
        )

    # -- who calls, and may they ------------------------------------------------------------

    def _principal(
        self,
        upstream: Upstream,
        rest: str,
        link: tuple[str, str] | None,
        call: Call,
    ) -> Principal:
        auth = self.state.auth
        authorization, api_key, admin_key, tenant_in = call.authorization, call.api_key, call.admin_key, call.tenant_in
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

    async def _take_quota(self, principal: Principal) -> None:
        consumer = self.state.config.snapshot.consumers.get(principal.client_id)
        if consumer is None or principal.kind != "consumer":
            return
        wait = self.state.buckets.take(consumer)
        if wait == LEASE:  # shared buckets: lease tokens from the database first
            wait = await self.state.buckets.lease(consumer)
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
    def _echo_request_id(send: Send, call: Call) -> Send:
        rid_header = (b"x-request-id", call.rid.encode())

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), rid_header]
                call.sent = True
            await send(message)

        return wrapped  # type: ignore[return-value]

    # -- relaying -------------------------------------------------------------------------

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        rest: str,
        headers: CIMultiDict[str],
        call: Call,
    ) -> None:
        url = upstream.base_url + rest
        qs = scope.get("query_string", b"")
        if qs:
            url += "?" + qs.decode("latin-1")
        settings = self.settings
        body = await read_body(scope, receive, settings.max_body_bytes, settings.body_read_timeout_s)
        if isinstance(body, bytes) and body and self.journal_body_bytes:
            call.request_body = body[: self.journal_body_bytes + 1]
            call.request_type = headers.get("content-type", "")
        method = scope["method"]
        try:
            resp = await self._send(method, url, headers, body)
            async with resp:
                if isinstance(body, StreamedBody) and body.failure is not None:
                    raise body.failure
                await self._relay_reply(resp, method, receive, send, upstream, call)
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise upstream_timeout(upstream.service, settings.upstream_timeout_s) from None
        except aiohttp.ClientError as exc:
            if isinstance(body, StreamedBody) and body.failure is not None:
                raise body.failure from None
            raise self._upstream_error(upstream, exc) from None

    async def _relay_reply(
        self,
        resp: aiohttp.ClientResponse,
        method: str,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        call: Call,
    ) -> None:
        """The service's reply, back to the caller: whole when small (and kept for the journal),
        else streamed; garbled or lost instead when the call has a fault for the reply."""
        out = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in resp.headers.items()
            if k.lower() not in RESPONSE_DROP
        ]
        if call.decision is not None:
            whole = await resp.read()
            timeout_s = self.settings.upstream_timeout_s
            await inject.answer_after(call.decision, receive, send, upstream, resp.status, out, whole, call, timeout_s)
            return
        call.status = resp.status
        if method == "HEAD":
            await send({"type": "http.response.start", "status": resp.status, "headers": out})
            await send({"type": "http.response.body", "body": b""})
            return
        content = resp.content
        sized = resp.content_length is not None
        first = await content.read(SMALL_BODY) if sized else None
        await send({"type": "http.response.start", "status": resp.status, "headers": out})
        if first is None:
            # A reply of unknown length (chunked): its first piece once it comes (the head is
            # already on its way), sent as the whole body when it is all of it: one write
            # of the last chunk and the terminating one instead of two (the same bytes).
            first = await content.readany()
            if content.at_eof():
                await send({"type": "http.response.body", "body": first})
                return
        elif content.at_eof():
            if first and self.journal_body_bytes:
                call.response_body = first[: self.journal_body_bytes + 1]
                call.response_type = resp.headers.get("content-type", "")
            await send({"type": "http.response.body", "body": first})
            return
        if first:
            await send({"type": "http.response.body", "body": first, "more_body": True})
        async for chunk in content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _send(
        self, method: str, url: str, headers: CIMultiDict[str], body: bytes | StreamedBody
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
            if isinstance(body, StreamedBody) and (body.started or body.failure is not None):
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
