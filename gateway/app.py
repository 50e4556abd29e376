"""The gateway process: a raw ASGI dispatcher in front of the proxy and the control app.

``uvicorn --factory gateway.app:create_app``. Paths ``/{api}/{version}/...`` that name
an upstream go to :class:`gateway.proxy.Proxy`; everything else (index, aggregated docs,
``/_sandbox`` control plane) goes to a small FastAPI app.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.types import Receive, Scope, Send

from gateway.proxy import Proxy
from gateway.routes import Upstream, upstreams
from gateway.settings import GatewaySettings
from vnsandbox import __version__
from vnsandbox.context import current_request_id, current_tenant
from vnsandbox.errors import install_error_handlers
from vnsandbox.journal import Journal, JournalQuery
from vnsandbox.logs import configure_logging
from vnsandbox.middleware import RequestContextMiddleware
from vnsandbox.service import public_base_url
from vnsandbox.signing import TENANT_HEADER, TENANT_SIGNATURE_HEADER, tenant_assertion


class Gateway:
    """The ASGI application of the gateway."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.upstreams = upstreams(settings)
        self.by_prefix = {u.prefix: u for u in self.upstreams}
        self.journal = Journal(settings.journal_size)
        self.proxy = Proxy(settings, self.journal)
        self.control = build_control_app(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            first = path.find("/", 1)
            second = path.find("/", first + 1) if first > 0 else -1
            prefix = path if second == -1 else path[:second]
            upstream = self.by_prefix.get(prefix)
            if upstream is not None:
                raw = scope.get("raw_path")
                raw_path = raw.decode("latin-1") if raw else path
                rest = raw_path[len(prefix) :] if raw_path.startswith(prefix) else path[len(prefix) :]
                await self.proxy.handle(scope, receive, send, upstream, rest or "/")
                return
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.control(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.proxy.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.proxy.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def call_upstream(self, upstream: Upstream, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        """A control-plane call from the gateway to one service, as the current tenant."""
        session = self.proxy.session
        assert session is not None
        tenant, rid = current_tenant(), current_request_id()
        headers = {
            TENANT_HEADER: tenant,
            TENANT_SIGNATURE_HEADER: tenant_assertion(self.settings.gateway_secret, tenant, rid),
            "x-request-id": rid,
        }
        try:
            async with session.request(
                method,
                upstream.base_url + path,
                json=json,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as resp:
                return resp.status, await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return 502, {
                "error_code": "UPSTREAM_UNREACHABLE",
                "message_en": f"{exc.__class__.__name__}: {exc}",
            }

    async def fan_out(self, method: str, path: str, json: Any = None) -> dict[str, Any]:
        results = await asyncio.gather(*(self.call_upstream(u, method, path, json) for u in self.upstreams))
        return {u.service: {"status": s, "body": b} for u, (s, b) in zip(self.upstreams, results, strict=True)}


def build_control_app(gw: Gateway) -> FastAPI:
    settings = gw.settings
    app = FastAPI(
        title="VN e-government sandbox gateway (LGSP/NGSP-style)",
        description="Routes `/{api}/{version}/...` to the mock national platforms. "
        "This page documents the gateway's own control plane; `/docs` lists every API's documentation.",
        version=__version__,
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)

    def api_index(request: Request) -> list[dict[str, str]]:
        base = public_base_url(request)
        return [
            {
                "api": u.api,
                "version": u.version,
                "prefix": u.prefix,
                "service": u.service,
                "title": u.title,
                "url": f"{base}{u.prefix}",
                "docs": f"{base}{u.prefix}/docs",
                "openapi": f"{base}{u.prefix}/openapi.json",
                "upstream": u.base_url,
            }
            for u in gw.upstreams
        ]

    @app.get("/", summary="Gateway index", tags=["index"])
    def index(request: Request) -> dict[str, Any]:
        """The APIs behind this gateway, with their base URLs and documentation."""
        base = public_base_url(request)
        return {
            "gateway": "vnsandbox",
            "version": __version__,
            "apis": api_index(request),
            "docs": f"{base}/docs",
            "control": f"{base}/_sandbox",
        }

    @app.get("/apis", summary="Aggregated OpenAPI index", tags=["index"])
    def apis(request: Request) -> list[dict[str, str]]:
        """Every API's OpenAPI document and docs page, reached through the gateway."""
        return api_index(request)

    @app.get("/docs", response_class=HTMLResponse, summary="Aggregated documentation index", tags=["index"])
    def docs(request: Request) -> str:
        rows = "".join(
            f'<li><a href="{a["docs"]}">{a["title"]}</a> — <code>{a["prefix"]}</code> '
            f'(<a href="{a["openapi"]}">OpenAPI</a>)</li>'
            for a in api_index(request)
        )
        return (
            '<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Tài liệu API — vnsandbox</title>'
            "</head><body><h1>Tài liệu API của môi trường thử nghiệm</h1>"
            f'<ul>{rows}</ul><p><a href="/_sandbox/docs">Điều khiển cổng kết nối (gateway control)</a></p>'
            "</body></html>"
        )

    @app.get("/_sandbox/health", summary="Gateway and upstream health", tags=["sandbox control"])
    async def health() -> dict[str, Any]:
        services = await gw.fan_out("GET", "/_sandbox/health")
        ok = all(v["status"] == 200 for v in services.values())
        return {"status": "ok" if ok else "degraded", "service": "gateway", "services": services}

    @app.get("/_sandbox/version", tags=["sandbox control"])
    def version() -> dict[str, Any]:
        return {
            "service": "gateway",
            "sandbox_version": __version__,
            "protocol": "LGSP/NGSP-style REST gateway",
            "mode": settings.mode,
        }

    @app.post("/_sandbox/reset", summary="Wipe the tenant's data in every service", tags=["sandbox control"])
    async def reset() -> dict[str, Any]:
        services = await gw.fan_out("POST", "/_sandbox/reset")
        cleared = gw.journal.clear(current_tenant())
        return {"tenant": current_tenant(), "services": services, "journal_cleared": cleared}

    @app.get("/_sandbox/journal", summary="Calls relayed by the gateway, newest first", tags=["sandbox control"])
    def journal_read(
        method: str | None = None,
        path: str | None = None,
        path_prefix: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        since: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        q = JournalQuery(
            method=method,
            path=path,
            path_prefix=path_prefix,
            status=status,
            request_id=request_id,
            tenant=current_tenant(),
            since=since,
            limit=max(0, min(limit, 10_000)),
        )
        total, entries = gw.journal.query(q)
        return {
            "total_matched": total,
            "capacity": gw.journal.capacity,
            "entries": [e.to_dict() for e in entries],
        }

    @app.delete("/_sandbox/journal", tags=["sandbox control"])
    def journal_clear() -> dict[str, Any]:
        return {"cleared": gw.journal.clear(current_tenant())}

    app.add_middleware(
        RequestContextMiddleware,
        journal=Journal(1),  # control calls are not part of the relayed-traffic journal
        max_body_bytes=settings.max_body_bytes,
        journal_body_bytes=0,
        gateway_secret=settings.gateway_secret,
        require_tenant_signature=False,
        log_requests=settings.log_requests,
    )
    return app


def create_app(settings: GatewaySettings | None = None) -> Gateway:
    settings = settings or GatewaySettings()
    configure_logging("gateway", settings.log_level)
    return Gateway(settings)
