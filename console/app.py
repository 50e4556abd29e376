"""The console process: ``uvicorn --factory console.app:create_app``.

Served at ``/console/`` (the gateway relays ``/console/...`` to it unchanged and sends browsers
opening ``/`` there). Pages are rendered on the server (Jinja2); the vendored htmx
(``static/htmx.min.js``) refreshes the sequence diagram in place. Nothing is loaded from
another site, so the console works offline.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from console.citizen import citizen
from console.dashboard import dashboard
from console.gateway import GatewayClient
from console.operator import operator
from console.pages import pages
from console.presenter import presenter
from console.session import SessionCodec
from console.settings import ConsoleSettings
from console.web import HERE, ROOT, NotSignedIn, render
from vnsandbox import __version__
from vnsandbox.errors import SandboxError
from vnsandbox.logs import configure_logging


def create_app(settings: ConsoleSettings | None = None, transport: Any = None) -> FastAPI:
    settings = settings or ConsoleSettings()
    configure_logging("console", settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.gateway.close()

    app = FastAPI(
        title="vnsandbox console",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.gateway = GatewayClient(settings.gateway_url, settings.gateway_timeout_s, transport)
    app.state.codec = SessionCodec(settings.gateway_secret)
    app.include_router(pages)
    app.include_router(operator)
    app.include_router(citizen)
    app.include_router(presenter)
    app.include_router(dashboard)
    app.mount(f"{ROOT}/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get(ROOT, include_in_schema=False)
    async def root_without_slash() -> Response:
        return RedirectResponse(f"{ROOT}/", status_code=308)

    @app.get("/_sandbox/health", include_in_schema=False)
    async def health() -> dict[str, Any]:
        return {"status": "ok", "service": "console", "version": __version__, "pid": os.getpid()}

    @app.exception_handler(NotSignedIn)
    async def sign_in(request: Request, exc: NotSignedIn) -> Response:
        return RedirectResponse(exc.headers.get("Location", f"{ROOT}/login"), status_code=303)

    @app.exception_handler(SandboxError)
    async def failed(request: Request, exc: SandboxError) -> Response:
        return render(
            request, "error.html", exc.status_code, error=exc.message_vi, error_en=exc.message_en, code=exc.code
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors())
        return render(
            request,
            "error.html",
            422,
            error=f"Dữ liệu nhập không hợp lệ: {fields}",
            error_en=f"Invalid input: {fields}",
            code="VALIDATION_ERROR",
        )

    return app
