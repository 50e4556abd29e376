"""The request-context middleware every service runs (pure ASGI, no per-request objects
beyond what it must keep).

For each HTTP request it:
- takes or makes the request id (``X-Request-ID``) and echoes it in the reply;
- resolves the tenant (``X-Sandbox-Tenant``), checking the gateway's signature when the
  service is configured to require one;
- enforces the body size limit (413), the body read time (408) and the JSON nesting depth
  (400 ``JSON_TOO_DEEP``) before the application sees the body;
- records request and reply in the journal (secrets redacted) and logs one JSON line.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import NamedTuple

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vnsandbox.bounds import DEFAULT_MAX_JSON_DEPTH, json_too_deep
from vnsandbox.context import DEFAULT_TENANT, set_request_id, set_tenant
from vnsandbox.errors import (
    JSONTooDeep,
    PayloadTooLarge,
    RequestTimeout,
    SandboxError,
    Unauthorized,
    internal_error,
)
from vnsandbox.ids import random_hex
from vnsandbox.journal import NO_SECRET_PATHS, Exchange, Journal, Redaction
from vnsandbox.signing import (
    CONSUMER_HEADER,
    TENANT_HEADER,
    TENANT_SIGNATURE_HEADER,
    verify_tenant_assertion,
)

log = logging.getLogger("vnsandbox.request")

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
PREFIX_RE = re.compile(r"^(/[A-Za-z0-9._-]+)+/?$")
TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
#: Paths whose traffic is not journalled (reading the journal would fill it).
UNJOURNALLED_PREFIXES = ("/_sandbox/journal", "/_sandbox/health", "/_sandbox/metrics")
#: Paths that hold no tenant's data: answered without a tenant assertion even when one
#: is required, so supervisors and orchestrators can probe liveness.
UNSIGNED_PATHS = frozenset({"/_sandbox/health"})

#: A document answered without the framework (no routing, no dependencies): given the request's
#: scope (its ``state`` holds the resolved tenant and whether the gateway relayed the call),
#: the encoded JSON body, or None when the route must answer (a cache to fill from the database).
StaticReply = Callable[[Scope], bytes | None]


class Answer(NamedTuple):
    """A quick reply's encoded JSON with headers of its own (``Cache-Control``, say), sent
    beside its length and type."""

    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]


#: A POST answered without the framework when it can be: given the request's scope (as for a
#: :data:`StaticReply`) and its body, the encoded JSON of a 200 reply (an :class:`Answer` when
#: it has headers of its own), or None when the route must answer (any other reply, an error
#: included, is the route's).
QuickReply = Callable[[Scope, bytes], Awaitable[bytes | Answer | None]]


def refuse_nul(scope: Scope, body: bytes, content_type: str = "") -> None:
    """Refuse NUL characters anywhere in the request: no platform field may hold one, and
    PostgreSQL text cannot store one (it would otherwise surface as a 500)."""
    where = None
    if "\x00" in scope["path"]:
        where = "path"
    elif b"%00" in scope.get("query_string", b"") or b"\x00" in scope.get("query_string", b""):
        where = "query"
    elif body:
        media = content_type.split(";", 1)[0].strip().lower()
        if media == "application/x-www-form-urlencoded":
            bad = b"%00" in body or b"\x00" in body
        elif media.endswith("json") or media.startswith("text/"):
            bad = b"\x00" in body or b"\\u0000" in body
        else:
            bad = False  # binary uploads may hold NUL bytes legitimately
        where = "body" if bad else None
    if where is not None:
        raise SandboxError(
            f"The request contains a NUL character ({where})",
            f"Yêu cầu chứa ký tự NUL không hợp lệ ({where})",
            code="NUL_CHARACTER",
            details=[{"field": where, "rule": "no_nul", "message": "NUL (U+0000) is not allowed"}],
        )


def parsed_as_json(content_type: str) -> bool:
    """Whether the framework parses a body of this content type as JSON (also when none is given)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("", "application/json") or media.endswith("+json")


def refuse_deep_json(body: bytes, content_type: str, max_depth: int) -> None:
    """Refuse a JSON body nested deeper than ``max_depth`` before anything parses it."""
    if body and parsed_as_json(content_type) and json_too_deep(body, max_depth):
        raise JSONTooDeep(max_depth)


async def receive_body_part(
    receive: Receive,
    deadline: float,
    timeout_s: float,
    error: Callable[[str, str], SandboxError] = RequestTimeout,
) -> Message:
    """The next message of a request body, or ``error`` (408) once ``deadline`` (event-loop
    time) has passed: a client that sends headers and never finishes its body is answered
    instead of holding a worker."""
    try:
        async with asyncio.timeout_at(deadline):
            return await receive()
    except TimeoutError:
        raise error(
            f"The request body did not arrive within {timeout_s:g} s",
            f"Không nhận đủ nội dung yêu cầu trong {timeout_s:g} giây",
        ) from None


def valid_tenant(value: str) -> bool:
    return bool(TENANT_RE.match(value))


def new_request_id() -> str:
    """32 random hex digits (what ``uuid4().hex`` gave, without building a UUID)."""
    return random_hex(16)


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        journal: Journal,
        max_body_bytes: int,
        journal_body_bytes: int,
        gateway_secret: str,
        require_tenant_signature: bool,
        log_requests: bool = True,
        own_input_checks: tuple[str, ...] = (),
        own_input_error: Callable[[SandboxError], SandboxError] | None = None,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
        body_read_timeout_s: float = 10.0,
        redaction: Redaction = NO_SECRET_PATHS,
        trust_client_forwarding: bool = True,
        static_replies: Mapping[str, StaticReply] | None = None,
        quick_replies: Mapping[str, QuickReply] | None = None,
    ) -> None:
        self.app = app
        #: POST paths whose most frequent call is answered before any routing when it can be.
        self.quick_replies = dict(quick_replies or {})
        #: GET paths answered from pre-encoded documents when their reply says so (the same
        #: reply the route gives, without routing); the route answers otherwise.
        self.static_replies = dict(static_replies or {})
        #: Whether X-Forwarded-* of a call without the gateway's signature count (embedded mode).
        self.trust_client_forwarding = trust_client_forwarding
        #: What the journal and the request log never show (secret path segments, fields).
        self.redaction = redaction
        #: Path prefixes whose endpoints refuse bad characters in their own wire format.
        self.own_input_checks = own_input_checks
        #: Renders a refused body (JSON nested too deep) in the platform's envelope on those paths.
        self.own_input_error = own_input_error
        self.max_json_depth = max_json_depth
        self.body_read_timeout_s = body_read_timeout_s
        self.journal = journal
        self.max_body_bytes = max_body_bytes
        self.journal_body_bytes = journal_body_bytes
        self.gateway_secret = gateway_secret
        self.require_tenant_signature = require_tenant_signature
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        # ASGI servers give header names in lower case; a repeated header's last value counts.
        hmap = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers}
        rid = hmap.get("x-request-id", "")
        if not REQUEST_ID_RE.match(rid):
            rid = new_request_id()
        set_request_id(rid)
        tenant = DEFAULT_TENANT
        set_tenant(tenant)
        relayed = self._signed_by_gateway(hmap, rid)
        prefix = hmap.get("x-forwarded-prefix", "")
        if prefix and PREFIX_RE.match(prefix) and (relayed or self.trust_client_forwarding):
            # Relayed by the gateway under /{api}/{version}: docs and links use that prefix.
            scope["root_path"] = prefix.rstrip("/")
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        state["journal_notes"] = {}
        #: The gateway's valid tenant signature came with the call: its X-Forwarded-* are the gateway's.
        state["relayed_by_gateway"] = relayed

        reply = _Reply((b"x-request-id", rid.encode()), self.journal_body_bytes, send)
        content_type = hmap.get("content-type", "")
        body = b""
        try:
            tenant = DEFAULT_TENANT if scope["path"] in UNSIGNED_PATHS else self._resolve_tenant(hmap, rid)
            set_tenant(tenant)
            state["tenant"] = tenant
            state["consumer"] = hmap.get(CONSUMER_HEADER, "")
            # Without Content-Length or Transfer-Encoding an HTTP/1.1 request has no body.
            has_body = "content-length" in hmap or "transfer-encoding" in hmap
            if has_body:
                body = await self._read_body(hmap, receive)
            own_path = bool(self.own_input_checks) and scope["path"].startswith(self.own_input_checks)
            try:
                refuse_deep_json(body, content_type, self.max_json_depth)
            except SandboxError as exc:
                raise (self.own_input_error(exc) if own_path and self.own_input_error else exc) from None
            if not own_path:
                refuse_nul(scope, body, content_type)
        except SandboxError as exc:
            if isinstance(exc, RequestTimeout):
                exc.headers.setdefault("Connection", "close")  # the rest of the body is not awaited
            await exc.response()(scope, receive, reply.send)
        else:
            try:
                document: bytes | Answer | None
                if scope["method"] == "GET":
                    static = self.static_replies.get(scope["path"])
                    document = static(scope) if static is not None else None
                else:
                    quick = self.quick_replies.get(scope["path"]) if scope["method"] == "POST" else None
                    document = await quick(scope, body) if quick is not None else None
                if isinstance(document, Answer):
                    await _send_json(reply.send, document.body, document.headers)
                elif document is not None:
                    await _send_json(reply.send, document)
                else:
                    await self.app(scope, _replay(body, receive) if has_body else receive, reply.send)
            except Exception as exc:  # the one place an unexpected error becomes a reply
                log.exception("unhandled error", exc_info=exc)
                if reply.status:
                    raise
                await internal_error().response()(scope, receive, reply.send)
        self._record(scope, raw_headers, content_type, body, reply, tenant, rid, started)

    def _signed_by_gateway(self, hmap: dict[str, str], rid: str) -> bool:
        signature = hmap.get(TENANT_SIGNATURE_HEADER)
        tenant = hmap.get(TENANT_HEADER)
        if not signature or tenant is None:
            return False
        return verify_tenant_assertion(self.gateway_secret, tenant, rid, hmap.get(CONSUMER_HEADER, ""), signature)

    def _resolve_tenant(self, hmap: dict[str, str], rid: str) -> str:
        tenant = hmap.get(TENANT_HEADER)
        if tenant is None:
            if self.require_tenant_signature:
                raise Unauthorized(
                    "This service only accepts requests relayed by the gateway (missing tenant assertion)",
                    "Dịch vụ chỉ nhận yêu cầu chuyển tiếp qua cổng kết nối (thiếu xác nhận tenant)",
                    code="TENANT_ASSERTION_MISSING",
                )
            return DEFAULT_TENANT
        if not valid_tenant(tenant):
            raise SandboxError(
                "Invalid tenant name: lower-case letters, digits, '-' and '_', at most 63 characters",
                "Tên tenant không hợp lệ: chữ thường, chữ số, '-' và '_', tối đa 63 ký tự",
                code="INVALID_TENANT",
            )
        if self.require_tenant_signature:
            signature = hmap.get(TENANT_SIGNATURE_HEADER, "")
            consumer = hmap.get(CONSUMER_HEADER, "")
            if not verify_tenant_assertion(self.gateway_secret, tenant, rid, consumer, signature):
                raise Unauthorized(
                    "The tenant assertion is not signed by the gateway",
                    "Xác nhận tenant không có chữ ký hợp lệ của cổng kết nối",
                    code="TENANT_ASSERTION_INVALID",
                )
        return tenant

    async def _read_body(self, hmap: dict[str, str], receive: Receive) -> bytes:
        declared = hmap.get("content-length")
        if declared is not None:
            try:
                declared_len = int(declared)
            except ValueError:
                raise SandboxError(
                    "Invalid Content-Length header",
                    "Tiêu đề Content-Length không hợp lệ",
                    code="INVALID_CONTENT_LENGTH",
                ) from None
            if declared_len > self.max_body_bytes:
                raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        deadline = asyncio.get_running_loop().time() + self.body_read_timeout_s
        while True:
            message = await receive_body_part(receive, deadline, self.body_read_timeout_s)
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"The request body is larger than {self.max_body_bytes} bytes",
            f"Nội dung yêu cầu vượt quá {self.max_body_bytes} byte",
            details=[{"field": "body", "rule": "max_bytes", "message": str(self.max_body_bytes)}],
        )

    def _record(
        self,
        scope: Scope,
        raw_headers: list[tuple[bytes, bytes]],
        content_type: str,
        body: bytes,
        reply: _Reply,
        tenant: str,
        rid: str,
        started: float,
    ) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        if self.log_requests and log.isEnabledFor(logging.INFO):
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": self.redaction.path(scope["path"]),
                    "status": reply.status,
                    "duration_ms": duration_ms,
                },
            )
        if scope["path"].startswith(UNJOURNALLED_PREFIXES):
            return
        exchange = Exchange(
            request_id=rid,
            tenant=tenant,
            method=scope["method"],
            path=scope["path"],
            query_string=scope.get("query_string", b""),
            status=reply.status,
            duration_ms=duration_ms,
            request_headers=raw_headers,
            request_body=body,
            request_content_type=content_type,
            response_headers=reply.headers,
            response_body=bytes(reply.body),
            notes=scope.get("state", {}).get("journal_notes") or {},
            redaction=self.redaction,
            body_limit=self.journal_body_bytes,
        )
        if len(body) > self.journal_body_bytes:
            exchange.resolve()  # a large body is not kept: redacted and cut now
        self.journal.record_exchange(exchange)


JSON_TYPE = (b"content-type", b"application/json")


async def _send_json(send: Send, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """A 200 reply of JSON already encoded, with the headers a route's ``Response`` gives it."""
    headers = [*extra, (b"content-length", str(len(body)).encode()), JSON_TYPE]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then passes on to the server's."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class _Reply:
    """Passes the app's reply on, with the request id header; notes the status, the headers and
    the body's first ``keep`` bytes for the journal."""

    __slots__ = ("body", "headers", "keep", "rid_header", "send_on", "status")

    def __init__(self, rid_header: tuple[bytes, bytes], keep: int, send: Send) -> None:
        self.rid_header = rid_header
        self.keep = keep
        self.send_on = send
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            raw = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
            raw.append(self.rid_header)
            message["headers"] = raw
            self.headers = raw
        elif kind == "http.response.body" and len(self.body) < self.keep:
            self.body.extend(message.get("body", b"")[: self.keep - len(self.body)])
        await self.send_on(message)
