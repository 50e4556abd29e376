"""Wire routes of the identity service (thin: parse, call the service layer, shape the reply)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from vnsandbox.service import public_base_url

router = APIRouter()


@router.get("/", summary="Service index", tags=["index"])
def index(request: Request) -> dict[str, Any]:
    """What this service imitates and where its documentation is."""
    spec = request.app.state.spec
    base = public_base_url(request)
    return {
        "service": spec.name,
        "title": spec.title,
        "protocol": spec.protocol,
        "docs": f"{base}/docs",
        "openapi": f"{base}/openapi.json",
        "control": f"{base}/_sandbox",
    }
