"""What every console page shares: the templates, the language, the session cookie, the
operator of the tenant in the path, and rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from console.gateway import GatewayClient, Operator
from console.i18n import Lang, translator, vn_time, wire_time
from console.sequence import pretty
from console.session import COOKIE, MAX_AGE_S, Session, SessionCodec
from console.settings import ConsoleSettings
from vnsandbox.errors import SandboxError

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
TEMPLATES.env.filters["vn_time"] = vn_time
TEMPLATES.env.filters["pretty"] = pretty
TEMPLATES.env.filters["wire_time"] = wire_time
#: The console's public path (the gateway relays it unchanged).
ROOT = "/console"
LANG_COOKIE = "vnsb_lang"
DEFAULT_TENANT = "default"


class NotSignedIn(SandboxError):
    status_code = 303
    code = "SIGN_IN_REQUIRED"
    message_vi = "Cần đăng nhập tenant"
    message_en = "Sign in to the tenant first"


class CrossSiteForm(SandboxError):
    status_code = 403
    code = "CROSS_SITE_FORM"
    message_vi = "Biểu mẫu gửi từ trang web khác bị từ chối"
    message_en = "A form sent from another site is refused"


def settings_of(request: Request) -> ConsoleSettings:
    s: ConsoleSettings = request.app.state.settings
    return s


def client_of(request: Request) -> GatewayClient:
    c: GatewayClient = request.app.state.gateway
    return c


def lang_of(request: Request) -> Lang:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "vi"


def session_of(request: Request) -> Session:
    codec: SessionCodec = request.app.state.codec
    return codec.loads(request.cookies.get(COOKIE))


def save_session(request: Request, response: Response, session: Session) -> Response:
    codec: SessionCodec = request.app.state.codec
    secure = request.headers.get("x-forwarded-proto", request.url.scheme) == "https"
    response.set_cookie(
        COOKIE,
        codec.dumps(session),
        max_age=MAX_AGE_S,
        path=ROOT,
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    return response


def open_default(request: Request) -> bool:
    """An embedded sandbox's ``default`` tenant needs no sign-in (the gateway is open there)."""
    return settings_of(request).mode == "embedded"


def operator_of(request: Request, tenant: str) -> Operator:
    op = session_of(request).operator(tenant)
    if op is not None:
        return op
    if tenant == DEFAULT_TENANT and open_default(request):
        return Operator(DEFAULT_TENANT)
    raise NotSignedIn(headers={"Location": f"{ROOT}/login?tenant={tenant}"})


def check_origin(request: Request) -> None:
    """A form post must come from the console's own pages (the session cookie is ``SameSite=Lax``
    as well); a browser names the page's origin in ``Origin``."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    if urlsplit(origin).netloc != host:
        raise CrossSiteForm()


def public_base(request: Request) -> str:
    """The address browsers reach the console's gateway at: ``public_base_url`` when set (the
    shared mode requires it), else the host the gateway relayed the request for."""
    public = settings_of(request).public_base_url.rstrip("/")
    if public:
        return public
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    return f"{proto}://{host}"


#: Headers of a page that carries credentials (a client secret, a pasted token): no cache keeps
#: it, and no link followed from it names it to another site.
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}


def render(
    request: Request, template: str, status_code: int = 200, *, private: bool = False, **context: Any
) -> HTMLResponse:
    """The page ``template``; ``private``: it carries credentials (:data:`PRIVATE_HEADERS`)."""
    lang = lang_of(request)
    context.update(
        request=request,
        lang=lang,
        t=translator(lang),
        root=ROOT,
        mode=settings_of(request).mode,
        path=request.url.path,
    )
    headers = PRIVATE_HEADERS if private else None
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code, headers=headers)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
