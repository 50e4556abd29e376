"""The app factory every service is built with, so they all look and behave alike."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.telemetry import TelemetryConfig
from pydantic import BaseModel
from sqlalchemy import MetaData
from sqlalchemy.orm import Session
from starlette.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor
from starlette.types import ASGIApp, Receive, Scope, Send

from vnsandbox import __version__
from vnsandbox.control import recent_health
from vnsandbox.control import router as control_router
from vnsandbox.db import Database
from vnsandbox.errors import NotFound, SandboxError, install_error_handlers
from vnsandbox.journal import SECRET_PATHS, Journal, Redaction
from vnsandbox.logs import configure_logging
from vnsandbox.middleware import QuickReply, RequestContextMiddleware, StaticReply
from vnsandbox.openapi import FoundationReplies, control_replies, install_contract, service_replies
from vnsandbox.settings import ServiceSettings

log = logging.getLogger("vnsandbox.service")

ResetHook = Callable[[FastAPI, Session, str], None]
T = TypeVar("T")


class WorkerThread(threading.Thread):
    """The thread of a :class:`PeriodicWorker` (told apart from request threads by its class)."""


def in_background_worker() -> bool:
    """Whether the calling thread is a :class:`PeriodicWorker`'s (an outbox round, a purge)."""
    return isinstance(threading.current_thread(), WorkerThread)


class PeriodicWorker:
    """A background thread calling ``fn`` every ``interval`` seconds until stopped.

    Work that must survive a restart (outboxes) keeps its state in the database; the
    worker only drives it, so a killed process loses nothing.
    """

    def __init__(self, name: str, interval: float, fn: Callable[[], object]) -> None:
        self.name = name
        self.interval = interval
        self.fn = fn
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = WorkerThread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Run the next round now instead of after the interval."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.fn()
            except Exception:
                log.exception("background worker failed", extra={"worker": self.name})
            self._wake.wait(self.interval)
            self._wake.clear()


@dataclass
class ServiceSpec:
    """What makes one service: its name, routes, tables, switches and hooks."""

    name: str
    title: str
    description: str
    #: The protocol the service imitates, reported by ``/_sandbox/version``.
    protocol: str
    migrations_dir: Path
    metadata: MetaData
    routers: list[APIRouter] = field(default_factory=list)
    #: Further table sets the service uses (``vnsandbox.outbox.OutboxBase.metadata``, ...).
    extra_metadata: list[MetaData] = field(default_factory=list)
    #: Switch name → description, for ``/_sandbox/switches``.
    switches: dict[str, str] = field(default_factory=dict)
    #: Switch name → the model of its ``params`` (bounded, unknown keys refused), checked when
    #: the switch is set, so the code that applies a switch can trust its parameters.
    switch_params: dict[str, type[BaseModel]] = field(default_factory=dict)
    on_reset: list[ResetHook] = field(default_factory=list)
    #: Called once after migrations (seeding defaults, for example).
    on_startup: list[Callable[[FastAPI], None]] = field(default_factory=list)
    #: Factories of background workers started with the app and stopped with it.
    workers: list[Callable[[FastAPI], PeriodicWorker]] = field(default_factory=list)
    #: Path prefixes whose endpoints refuse NUL and control characters themselves, in the
    #: platform's own error envelope; everywhere else the middleware refuses NUL (400).
    own_input_checks: tuple[str, ...] = ()
    #: On those paths, turns the foundation's refusal of a body (JSON nested deeper than
    #: ``*_MAX_JSON_DEPTH``) into the platform's own envelope; None keeps the sandbox envelope.
    own_input_error: Callable[[SandboxError], SandboxError] | None = None
    #: GET paths whose documents are kept encoded (discovery, JWKS): path → factory of the
    #: :data:`~vnsandbox.middleware.StaticReply` answering it without the framework. The path's
    #: route stays (documentation, and the answer when the reply gives None); both must agree.
    static_replies: dict[str, Callable[[FastAPI], StaticReply]] = field(default_factory=dict)
    #: POST paths whose hottest call is answered before any routing: path → factory of the
    #: :data:`~vnsandbox.middleware.QuickReply`; the route answers whatever it leaves (None),
    #: and both must give the same reply where they overlap.
    quick_replies: dict[str, Callable[[FastAPI], QuickReply]] = field(default_factory=dict)


class ServiceApp(FastAPI):
    """A service's app: GET requests for its static documents (``/_sandbox/health``, the identity
    provider's discovery document and JWKS) go straight to the request-context middleware, past
    Starlette's outer layers (error page, body limit, telemetry) that have nothing to do for
    them; the middleware then answers from the pre-encoded bytes before any routing (and the POST
    paths of :attr:`ServiceSpec.quick_replies`, from their one read, when they can). Request id,
    tenant resolution, the journal and the fall-back to the route are the middleware's as for
    any call."""

    static_paths: frozenset[str] = frozenset()
    _context: RequestContextMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.static_paths and not self.root_path:
            context = self._context or self.context_middleware()
            if context is not None:
                scope["app"] = self
                await context(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def context_middleware(self) -> RequestContextMiddleware | None:
        """The request-context middleware of the built middleware stack (found once)."""
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        layer: ASGIApp | None = self.middleware_stack
        while layer is not None and not isinstance(layer, RequestContextMiddleware):
            layer = getattr(layer, "app", None)
        self._context = layer
        return layer


def create_service_app(spec: ServiceSpec, settings: ServiceSettings) -> FastAPI:
    """Build a service's FastAPI app: storage migrated, control plane, errors, middleware."""
    configure_logging(spec.name, settings.log_level)
    db = Database(settings.resolved_database_url(), [spec.metadata, *spec.extra_metadata])
    db.migrate(spec.migrations_dir, spec.name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workers = [make(app) for make in spec.workers]
        for w in workers:
            w.start()
        app.state.workers = {w.name: w for w in workers}
        try:
            yield
        finally:
            for w in workers:
                w.stop()
            db.dispose()

    app = offline_docs_app(
        title=spec.title,
        description=spec.description,
        version=__version__,
        lifespan=lifespan,
        foundation=service_replies,
        app_class=ServiceApp,
    )
    assert isinstance(app, ServiceApp)
    app.state.spec = spec
    app.state.settings = settings
    app.state.db = db
    app.state.workers = {}
    app.state.journal = Journal(settings.journal_size)
    static_replies: dict[str, StaticReply] = {"/_sandbox/health": lambda _scope: recent_health(app)}
    static_replies.update({path: make(app) for path, make in spec.static_replies.items()})
    quick_replies = {path: make(app) for path, make in spec.quick_replies.items()}
    app.static_paths = frozenset(static_replies) | frozenset(quick_replies)
    install_error_handlers(app)
    app.include_router(control_router)
    for router in spec.routers:
        app.include_router(router)
    app.add_middleware(
        RequestContextMiddleware,
        journal=app.state.journal,
        max_body_bytes=settings.max_body_bytes,
        journal_body_bytes=settings.journal_body_bytes,
        gateway_secret=settings.gateway_secret,
        require_tenant_signature=settings.require_tenant_signature,
        log_requests=settings.log_requests,
        own_input_checks=spec.own_input_checks,
        own_input_error=spec.own_input_error,
        max_json_depth=settings.max_json_depth,
        body_read_timeout_s=settings.body_read_timeout_s,
        redaction=Redaction(SECRET_PATHS.get(spec.name, ())),
        trust_client_forwarding=settings.mode == "embedded",
        static_replies=static_replies,
        quick_replies=quick_replies,
    )
    for hook in spec.on_startup:
        hook(app)
    return app


#: Where the Swagger UI / ReDoc assets are served from (no CDN: training rooms may be offline).
DOCS_ASSETS_URL = "/static/docs"
_DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
_DOCS_ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}


#: FastAPI's native telemetry switched off (see :func:`offline_docs_app`).
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def offline_docs_app(
    docs_url: str = "/docs",
    redoc_url: str | None = "/redoc",
    foundation: FoundationReplies = control_replies,
    app_class: type[FastAPI] = FastAPI,
    **kwargs: Any,
) -> FastAPI:
    """A FastAPI app whose documentation pages load their scripts from the app itself.

    FastAPI's default pages load Swagger UI from a CDN, which an offline training room or a
    closed CI network cannot reach; the ``fastapi-offline`` wheel ships the same assets. They
    are served by a plain route (not a static mount) so the pages also work behind the
    gateway, which strips its ``/{api}/{version}`` prefix and announces it as ``root_path``.

    Its ``/openapi.json`` declares the ``foundation``'s replies on every operation
    (:mod:`vnsandbox.openapi`).

    FastAPI's own OpenTelemetry hook is off (:data:`NO_TELEMETRY`): the sandbox sets up no
    tracer, meter or logger provider, and the hook would otherwise look the global ones up on
    every request.
    """
    app = app_class(docs_url=None, redoc_url=None, telemetry=NO_TELEMETRY, **kwargs)
    install_contract(app, foundation)
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_ASSETS_URL + "/{name}", include_in_schema=False)
    def docs_asset(name: str) -> FileResponse:
        if name not in _DOCS_ASSET_TYPES:
            raise NotFound()
        return FileResponse(
            _DOCS_ASSETS / name, media_type=_DOCS_ASSET_TYPES[name], headers={"cache-control": "public, max-age=86400"}
        )

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} — Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
        )

    if redoc_url is not None:

        @app.get(redoc_url, include_in_schema=False)
        def redoc(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "")
            return get_redoc_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} — ReDoc",
                redoc_js_url=f"{root}{DOCS_ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )

    return app


def public_base_url(request: Request) -> str:
    """Base URL the caller reaches this service at, for URLs the service hands out.

    Who may shape it: a call relayed by the gateway (it carries the gateway's valid tenant
    signature) through the ``X-Forwarded-Proto/Host/Prefix`` the gateway sets (they hold
    the tenant-bound prefix); any other call gets the configured ``*_PUBLIC_BASE_URL``,
    which the shared mode requires. Only in the embedded mode, without that setting, do a
    direct caller's own ``X-Forwarded-*`` headers count, then the URL the request came in on.
    """
    return scope_base_url(request.scope, request.app.state.settings)


_FORWARDED = (b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-prefix")


def scope_base_url(scope: Scope, settings: ServiceSettings) -> str:
    """:func:`public_base_url` of a request's ASGI scope (no ``Request`` built): a header's first
    value counts, and the URL the request came in on is Starlette's ``base_url`` (kept per
    what it depends on)."""
    host_header: bytes | None = None
    forwarded: dict[bytes, bytes] = {}
    for key, value in scope["headers"]:
        if key == b"host":
            if host_header is None:
                host_header = value
        elif key in _FORWARDED and key not in forwarded:
            forwarded[key] = value
    relayed = bool(scope.get("state", {}).get("relayed_by_gateway"))
    if relayed or (settings.mode == "embedded" and not settings.public_base_url):
        host = forwarded.get(b"x-forwarded-host")
        if host:
            proto = forwarded.get(b"x-forwarded-proto", b"http").decode("latin-1")
            prefix = forwarded.get(b"x-forwarded-prefix", b"").decode("latin-1").rstrip("/")
            return f"{proto}://{host.decode('latin-1')}{prefix}"
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    return _came_in_on(scope, host_header)


#: Starlette's ``base_url`` by what it depends on (scheme, first Host header, server, root
#: path), bounded like the discovery documents: a caller chooses its Host header.
_base_urls: dict[tuple[Any, ...], str] = {}
BASE_URLS_KEPT = 256


def _came_in_on(scope: Scope, host_header: bytes | None) -> str:
    server = scope.get("server")
    key = (
        scope.get("scheme", "http"),
        host_header,
        tuple(server) if server is not None else None,
        scope.get("app_root_path", scope.get("root_path", "")),
    )
    url = _base_urls.get(key)
    if url is None:
        url = str(Request(scope).base_url).rstrip("/")
        if len(_base_urls) >= BASE_URLS_KEPT:
            _base_urls.clear()
        _base_urls[key] = url
    return url


def json_bytes(body: bytes, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A reply of JSON already encoded (a document kept as bytes)."""
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


def service_index(request: Request, **links: str) -> dict[str, Any]:
    """The body of a service's ``GET /``: what it imitates and where its documentation and
    control plane are, as URLs that work from where the caller is.

    ``links`` are the service's own entry points (built on ``public_base_url``); they stand
    after ``protocol``, before the documentation links every service has.
    """
    spec = request.app.state.spec
    base = public_base_url(request)
    return {
        "service": spec.name,
        "title": spec.title,
        "protocol": spec.protocol,
        **links,
        "docs": f"{base}/docs",
        "openapi": f"{base}/openapi.json",
        "control": f"{base}/_sandbox",
    }


def _segment_except_convertor(reserved: tuple[str, ...]) -> Convertor[str]:
    class SegmentExcept(Convertor[str]):
        """One path segment that is none of ``reserved``."""

        regex = "(?!(?:" + "|".join(re.escape(r) for r in reserved) + ")(?:/|$))[^/]+"

        def convert(self, value: str) -> str:
            return value

        def to_string(self, value: str) -> str:
            return value

    return SegmentExcept()


def segment_except(*reserved: str) -> str:
    """The name of a path convertor matching one segment that is none of ``reserved``, for a
    route beside fixed siblings: ``/clients/{client_id:<name>}`` beside ``/clients/default``
    then never takes ``default``, so a method only the parameter route has is a 405 on the
    fixed path (whose ``Allow`` names the fixed route's methods) instead of a call with
    ``client_id="default"``."""
    name = "except_" + "_".join(re.sub(r"\W", "_", r) for r in sorted(reserved))
    if name not in CONVERTOR_TYPES:
        register_url_convertor(name, _segment_except_convertor(tuple(sorted(reserved))))
    return name
