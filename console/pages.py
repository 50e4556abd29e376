"""The console's front pages: the tenants of this session, creating one, signing in to one,
the language toggle."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from console.gateway import GatewayRefused, Operator
from console.web import (
    LANG_COOKIE,
    ROOT,
    check_origin,
    client_of,
    open_default,
    render,
    save_session,
    see_other,
    session_of,
    settings_of,
)

pages = APIRouter(prefix=ROOT)


@pages.get("/", summary="The tenants of this session")
async def home(request: Request) -> Response:
    session = session_of(request)
    if not session.tenants and not open_default(request):
        return see_other(f"{ROOT}/login")
    return render(
        request,
        "home.html",
        tenants=list(session.tenants),
        open_default=open_default(request),
        can_create=await client_of(request).self_service_tenants(),
    )


@pages.post("/tenants", summary="Create a tenant and keep its credentials in this session")
async def create_tenant(request: Request, description: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_origin(request)
    try:
        created = await client_of(request).create_tenant(description)
    except GatewayRefused as exc:
        return render(
            request,
            "home.html",
            400,
            tenants=list(session_of(request).tenants),
            open_default=open_default(request),
            can_create=True,
            error=exc.message_vi,
            error_en=exc.message_en,
        )
    creds = created["consumer"]["credentials"]
    session = session_of(request)
    session.add(created["tenant"], creds["client_id"], creds["client_secret"], settings_of(request).max_session_tenants)
    response = render(request, "created.html", 201, private=True, tenant=created["tenant"], credentials=creds)
    return save_session(request, response, session)


@pages.get("/login", summary="The operator's sign-in page")
async def login_page(request: Request, tenant: str = "") -> Response:
    return render(
        request, "login.html", private=True, tenant=tenant, can_create=await client_of(request).self_service_tenants()
    )


@pages.post("/login", summary="Sign in with a tenant's consumer credentials")
async def login(
    request: Request,
    client_id: Annotated[str, Form(min_length=1, max_length=128)],
    client_secret: Annotated[str, Form(min_length=1, max_length=256)],
) -> Response:
    check_origin(request)
    gw = client_of(request)
    probe = Operator("", client_id.strip(), client_secret.strip())
    try:
        await gw.token(probe, fresh=True)
        listed = await gw.json(probe, "GET", "/_sandbox/tenants")
    except GatewayRefused:
        return render(
            request,
            "login.html",
            401,
            private=True,
            can_create=await client_of(request).self_service_tenants(),
            error="Sai mã ứng dụng hoặc khóa bí mật",
            error_en="Wrong client id or client secret",
        )
    tenants = [t["tenant"] for t in listed.get("tenants", []) if isinstance(t, dict) and "tenant" in t]
    if not tenants:
        return render(
            request,
            "login.html",
            403,
            private=True,
            can_create=await client_of(request).self_service_tenants(),
            error="Ứng dụng này không thuộc tenant nào",
            error_en="This consumer belongs to no tenant",
        )
    session = session_of(request)
    session.add(tenants[0], probe.client_id, probe.client_secret, settings_of(request).max_session_tenants)
    return save_session(request, see_other(f"{ROOT}/t/{tenants[0]}/"), session)


@pages.post("/logout", summary="Forget a tenant's credentials in this session")
async def logout(request: Request, tenant: Annotated[str, Form(max_length=128)]) -> Response:
    check_origin(request)
    session = session_of(request)
    session.tenants.pop(tenant, None)
    return save_session(request, see_other(f"{ROOT}/"), session)


@pages.get("/lang/{lang}", summary="Choose Vietnamese or English")
async def choose_lang(request: Request, lang: str, back: str = f"{ROOT}/") -> Response:
    target = back if back.startswith(f"{ROOT}/") and "//" not in back else f"{ROOT}/"
    response = see_other(target)
    response.set_cookie(LANG_COOKIE, "en" if lang == "en" else "vi", max_age=365 * 86400, path=ROOT, samesite="lax")
    return response
