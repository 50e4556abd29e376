"""The gateway's control app: the index, the aggregated documentation, metrics, health and
readiness, and the routers of the control plane (:mod:`gateway.control`)."""

from __future__ import annotations

import asyncio
import os
from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.control.access import CONTROL, CONTROLLER_AUTH
from gateway.control.clock import tenant_state
from gateway.control.faults import faults
from gateway.control.journal import records
from gateway.control.tenants import consumers, tenants
from gateway.control.token import token_router
from gateway.errors import UpstreamsNotReady
from gateway.state import GatewayState
from vnsandbox import __version__
from vnsandbox.errors import install_error_handlers
from vnsandbox.journal import Journal
from vnsandbox.middleware import RequestContextMiddleware
from vnsandbox.openapi import media_response, operations
from vnsandbox.service import offline_docs_app, public_base_url

# -- the app ---------------------------------------------------------------------------------


#: Vietnamese names of the APIs for the documentation index.
VI_TITLES = {
    "identity": "Đăng nhập VNeID và Cơ sở dữ liệu quốc gia về dân cư",
    "dossier": "Đồng bộ hồ sơ với Cổng Dịch vụ công quốc gia",
    "payment": "Nền tảng thanh toán trực tuyến (PayGov)",
}
DOCS_PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Tài liệu API — vnsandbox</title>
<style>
body{{margin:0;font-family:system-ui,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;background:#f3f4f6;color:#1f2937}}
header{{background:#a51c1c;color:#fff;padding:18px 24px}} header h1{{margin:0;font-size:20px}}
header p{{margin:4px 0 0;font-size:14px;opacity:.9}}
.banner{{background:#f6c90e;text-align:center;font-size:13px;padding:6px}}
main{{max-width:820px;margin:24px auto;background:#fff;border-radius:8px;padding:8px 24px 24px;
box-shadow:0 1px 3px rgba(0,0,0,.1)}} ul{{list-style:none;padding:0}}
li{{padding:14px 0;border-bottom:1px solid #e5e7eb}} a{{color:#a51c1c}} .name{{font-weight:600;font-size:17px}}
.en{{display:block;color:#6b7280;font-size:13px;margin:2px 0 6px}}
code{{background:#f3f4f6;padding:1px 6px;border-radius:4px}}
</style></head><body>
<header><h1>Tài liệu API của môi trường thử nghiệm</h1>
<p>Cổng kết nối, chia sẻ dữ liệu (LGSP/NGSP) — vnsandbox</p></header>
<div class="banner">MÔI TRƯỜNG THỬ NGHIỆM — dữ liệu tổng hợp, không có dữ liệu công dân thật (sandbox)</div>
<main><ul>{rows}</ul>
<p><a href="/_sandbox/docs">Điều khiển cổng kết nối</a> (gateway control plane: tenants, consumers, faults, journal)</p>
</main></body></html>"""


def build_control_app(gw: GatewayState) -> FastAPI:
    settings = gw.settings
    app = offline_docs_app(
        title="VN e-government sandbox gateway (LGSP/NGSP-style)",
        description="Routes `/{api}/{version}/...` to the mock national platforms. "
        "This page documents the gateway's own control plane; `/docs` lists every API's documentation.",
        version=__version__,
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.gateway = gw
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
            "auth_required": settings.auth_required,
            "token_url": f"{base}/oauth2/token",
            "apis": api_index(request),
            "docs": f"{base}/docs",
            "control": f"{base}/_sandbox/docs",
        }

    @app.get("/apis", summary="Aggregated OpenAPI index", tags=["index"])
    def apis(request: Request) -> list[dict[str, str]]:
        """Every API's OpenAPI document and docs page, reached through the gateway."""
        return api_index(request)

    @app.get("/docs", response_class=HTMLResponse, summary="Aggregated documentation index", tags=["index"])
    def docs(request: Request) -> str:
        """A page listing every API behind the gateway with its Swagger UI and OpenAPI document."""
        rows = "".join(
            f'<li><a class="name" href="{escape(a["docs"])}">{escape(VI_TITLES.get(a["service"], a["title"]))}</a>'
            f'<span class="en">{escape(a["title"])}</span>'
            f'<code>{escape(a["prefix"])}</code> · <a href="{escape(a["openapi"])}">OpenAPI</a></li>'
            for a in api_index(request)
        )
        return DOCS_PAGE.format(rows=rows)

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        tags=["index"],
        responses={200: media_response("text/plain", "Prometheus text exposition format")},
    )
    @app.get("/_sandbox/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """The gateway's metrics and every service's own (outbox deliveries), labelled by service."""
        texts = await asyncio.gather(*(gw.fetch_text(u, "/_sandbox/metrics") for u in gw.upstreams))
        gw.metrics.services.update({u.service: t for u, t in zip(gw.upstreams, texts, strict=True) if t})
        return Response(generate_latest(gw.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/_sandbox/health", summary="Gateway liveness, with each upstream's health", tags=[CONTROL])
    async def health() -> dict[str, Any]:
        """Liveness: 200 while the gateway runs, even with upstreams down (``"status": "degraded"``).
        Use ``/_sandbox/ready`` to wait until the sandbox can serve."""
        services = await gw.fan_out("GET", "/_sandbox/health", tenant="default")
        ok = all(v["status"] == 200 for v in services.values())
        return {"status": "ok" if ok else "degraded", "service": "gateway", "pid": _pid(), "services": services}

    @app.get(
        "/_sandbox/ready",
        summary="Readiness: 200 once every upstream answers its health check, else 503",
        tags=[CONTROL],
        responses={503: {"description": "`UPSTREAMS_NOT_READY`; `down` names the upstreams that do not answer"}},
    )
    async def ready() -> dict[str, Any]:
        """For health checks and start-up loops (``curl -f``): ``503 UPSTREAMS_NOT_READY`` with
        ``down`` (the upstreams whose ``/_sandbox/health`` does not answer 200) until all answer."""
        services = await gw.fan_out("GET", "/_sandbox/health", tenant="default")
        down = [name for name, reply in services.items() if reply["status"] != 200]
        if down:
            raise UpstreamsNotReady(down, services)
        return {"status": "ready", "service": "gateway", "pid": _pid(), "services": services}

    @app.get("/_sandbox/version", tags=[CONTROL])
    def version() -> dict[str, Any]:
        return {
            "service": "gateway",
            "sandbox_version": __version__,
            "protocol": "LGSP/NGSP-style REST gateway",
            "mode": settings.mode,
            "auth_required": settings.auth_required,
            "self_service_tenants": settings.self_service_tenants,
        }

    for router in (token_router, tenants, consumers, faults, records, tenant_state):
        app.include_router(router)
    if not settings.auth_required:
        _open_to_anonymous_callers(app)
    app.add_middleware(
        RequestContextMiddleware,
        journal=Journal(1),  # control calls are not part of the relayed-traffic journal
        max_body_bytes=settings.max_body_bytes,
        journal_body_bytes=0,
        gateway_secret=settings.gateway_secret,
        require_tenant_signature=False,
        log_requests=settings.log_requests,
        max_json_depth=settings.max_json_depth,
        body_read_timeout_s=settings.body_read_timeout_s,
        trust_client_forwarding=settings.mode == "embedded",
    )
    return app


def _open_to_anonymous_callers(app: FastAPI) -> None:
    """On an open gateway (``GATEWAY_REQUIRE_AUTH=false``) the tenant's control plane answers
    anonymous callers too: in this app's schema, its operations' security gets the empty
    alternative (the routers, shared by every app, keep their declarations)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        schema = generate()
        if first:
            for _, _, op in operations(schema):
                if op.get("security") == CONTROLLER_AUTH["security"]:
                    op["security"] = [*op["security"], {}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _pid() -> int:
    return os.getpid()
