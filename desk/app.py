"""The officer's screens (Vietnamese): the queue, one dossier with its actions, the error log, and
the officer's sign-in to a tenant of the gateway.

The desk works for the tenant its settings name (``DESK_API_KEY``, or ``DESK_GATEWAY_CLIENT_ID`` and
``DESK_GATEWAY_CLIENT_SECRET``; none: the embedded gateway's open ``default``) unless the officer
signs in to another one with that tenant's gateway credentials (``/dang-nhap``): the tenant and its
credentials then live in the officer's sealed session cookie, and the desk keeps that tenant's own
store beside the configured one's (``<DESK_DATA_DIR>/desk-tenants/<tenant>.db``).

Run: ``uvicorn --factory desk.app:create_app --port 8005`` (``vnsandbox up`` starts it).
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import httpx
from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from desk.platforms import GATEWAY, VN, PlatformError, Platforms
from desk.settings import DeskSettings
from desk.store import Store
from vnsandbox.context import DEFAULT_TENANT
from vnsandbox.middleware import valid_tenant
from vnsandbox.sealed import Sealer
from vnsandbox.vn.statuses import STATUS_NAMES

STATUS = STATUS_NAMES
#: The officer's session: the tenant signed in to and its gateway credentials, sealed.
COOKIE = "vnsb_desk"
SESSION_MAX_AGE_S = 12 * 3600
#: An action's outcome, shown once on the dossier's page it redirects to (Post/Redirect/Get).
FLASH = "vnsb_desk_flash"
FLASH_MAX_AGE_S = 120
#: The only POST another site's page may send the desk: the sign-in, which carries its own
#: credentials (the training console hands a tenant over to the desk that way).
SIGN_IN = "/dang-nhap"
#: Headers of a page that carries credentials: no cache keeps it, no followed link names it.
PRIVATE = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class Step:
    """One button of the desk: from which statuses, to which, and the progress record's text."""

    label: str
    allowed_from: tuple[int, ...]
    to: int
    note: str


STEPS = {
    "tiep-nhan": Step("Tiếp nhận", (1,), 2, "Tiếp nhận hồ sơ"),
    "tu-choi": Step("Từ chối tiếp nhận", (1,), 3, "Hồ sơ không đủ điều kiện tiếp nhận"),
    "chuyen-xu-ly": Step("Chuyển xử lý", (2, 5, 6), 4, "Chuyển phòng chuyên môn xử lý"),
    "yeu-cau-bo-sung": Step("Yêu cầu bổ sung", (4,), 5, "Đề nghị công dân bổ sung giấy tờ"),
    "xu-ly-xong": Step("Xử lý xong", (4, 6), 9, "Đã có kết quả giải quyết"),
    "tra-ket-qua": Step("Trả kết quả", (9,), 10, "Trả kết quả cho công dân"),
    "dung-xu-ly": Step("Dừng xử lý", (4, 5, 7), 8, "Dừng xử lý hồ sơ"),
}
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals |= {"STATUS": STATUS, "STEPS": STEPS}


def wire_to_text(value: Any) -> str:
    """``20241115080000`` → ``15/11/2024 08:00`` (the way an officer reads dates)."""
    text = str(value or "")
    if len(text) != 14 or not text.isdigit():
        return text
    return f"{text[6:8]}/{text[4:6]}/{text[0:4]} {text[8:10]}:{text[10:12]}"


TEMPLATES.env.filters["ngay"] = wire_to_text


def credentials(api_key: str = "", client_id: str = "", client_secret: str = "") -> dict[str, str]:
    """A tenant's gateway credentials as the desk's settings name them."""
    return {"api_key": api_key, "gateway_client_id": client_id, "gateway_client_secret": client_secret}


def local_path(target: str) -> str:
    """Where to go after signing in: a path of the desk itself, never another site."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


class Workspace:
    """One tenant's desk: the platforms reached with that tenant's credentials, and its own store."""

    def __init__(self, tenant: str, settings: DeskSettings, store: Path) -> None:
        #: Empty for the tenant the desk's settings name.
        self.tenant = tenant
        self.settings = settings
        self.store = Store(store)
        self.platforms = Platforms(settings)

    @property
    def credentials(self) -> dict[str, str]:
        s = self.settings
        return credentials(s.api_key, s.gateway_client_id, s.gateway_client_secret)

    def attempt(self, ma_ho_so: str | None, work: Callable[[], Any]) -> tuple[Any, PlatformError | None]:
        """Run a platform call; a refusal goes to the error log and is shown to the officer."""
        try:
            return work(), None
        except PlatformError as exc:
            error = exc
        except httpx.HTTPError as exc:  # no reply at all: the connection was cut or timed out
            error = PlatformError(GATEWAY, _call_of(exc), "NETWORK", "Không nhận được trả lời từ cổng kết nối")
        self.store.error(datetime.now(VN), ma_ho_so, error.platform, error.call, error.code, error.message)
        return None, error


def _call_of(exc: httpx.HTTPError) -> str:
    try:
        return f"{exc.request.method} {exc.request.url.path}"
    except RuntimeError:
        return "?"


class Desk:
    """The desk's parts, shared by its pages: settings, the officer's sessions, the tenants' workspaces."""

    def __init__(self, settings: DeskSettings) -> None:
        self.settings = settings
        secret = settings.session_secret or secrets.token_urlsafe(32)
        self.sealer = Sealer(secret, "vnsandbox desk session")
        self.flasher = Sealer(secret, "vnsandbox desk action outcome")
        self.configured = Workspace("", settings, settings.data_dir / "desk.db")
        self._open: OrderedDict[str, Workspace] = OrderedDict()
        self._lock = threading.Lock()
        self._configured_tenant = "" if settings.api_key or settings.gateway_client_id else DEFAULT_TENANT

    def close(self) -> None:
        for ws in (self.configured, *self._open.values()):
            ws.platforms.close()

    def configured_tenant(self) -> str:
        """The name of the tenant the settings name (asked of the gateway once)."""
        if not self._configured_tenant:
            try:
                self._configured_tenant = self.configured.platforms.tenant()
            except (PlatformError, httpx.HTTPError):
                return ""
        return self._configured_tenant

    def workspace(self, request: Request) -> Workspace:
        """The signed-in officer's tenant, else the configured one."""
        data = self.sealer.unseal(request.cookies.get(COOKIE), SESSION_MAX_AGE_S)
        tenant = data.get("tenant")
        if not isinstance(tenant, str) or not valid_tenant(tenant):
            return self.configured
        creds = credentials(*(str(data.get(k) or "") for k in ("api_key", "client_id", "client_secret")))
        with self._lock:
            ws = self._open.get(tenant)
            if ws is None or ws.credentials != creds:
                # A workspace let go is closed by the garbage collector once no request uses it.
                store = self.settings.data_dir / "desk-tenants" / f"{tenant}.db"
                ws = Workspace(tenant, self.settings.model_copy(update=creds), store)
                self._open[tenant] = ws
            self._open.move_to_end(tenant)
            while len(self._open) > self.settings.max_open_tenants:
                self._open.popitem(last=False)
        return ws

    def sign_in(self, response: Response, request: Request, tenant: str, creds: dict[str, str]) -> Response:
        if tenant == self.configured_tenant():
            return self.sign_out(response)
        sealed = self.sealer.seal(
            {
                "tenant": tenant,
                "api_key": creds["api_key"],
                "client_id": creds["gateway_client_id"],
                "client_secret": creds["gateway_client_secret"],
            }
        )
        response.set_cookie(
            COOKIE,
            sealed,
            max_age=SESSION_MAX_AGE_S,
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    @staticmethod
    def sign_out(response: Response) -> Response:
        response.delete_cookie(COOKIE, path="/")
        return response

    def page(self, request: Request, ws: Workspace, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context = {"settings": self.settings, "tenant": ws.tenant, **context}
        # The sign-in page takes (and, on a retry, may hold) a tenant's credentials: never cached.
        headers = PRIVATE if name == "sign_in.html" else None
        return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code, headers=headers)

    def missing(
        self, request: Request, ws: Workspace, ma_ho_so: str, error: PlatformError | None = None
    ) -> HTMLResponse:
        return self.page(request, ws, "missing.html", status_code=404, ma_ho_so=ma_ho_so, error=error)

    def done(self, request: Request, ma_ho_so: str, error: PlatformError | None, **result: Any) -> Response:
        """Post/Redirect/Get: an action answers 303 to the dossier's page, its outcome (the step
        reached, the refusal, the payment link) sealed in a one-shot cookie; a reload re-posts nothing."""
        outcome = {"MaHoSo": ma_ho_so, "error": error and asdict(error), **result}
        response = RedirectResponse(f"/ho-so/{quote(ma_ho_so, safe='')}", status_code=303)
        secure = request.url.scheme == "https"
        sealed = self.flasher.seal(outcome)
        response.set_cookie(FLASH, sealed, FLASH_MAX_AGE_S, path="/", httponly=True, samesite="lax", secure=secure)
        return response

    def show(self, request: Request, ws: Workspace, ma_ho_so: str, **result: Any) -> HTMLResponse:
        """The dossier as DVCQG has it now (the desk's copy if DVCQG cannot answer)."""
        dossier, error = ws.attempt(ma_ho_so, lambda: ws.platforms.dossier(ma_ho_so))
        if dossier:
            ws.store.keep(dossier, datetime.now(VN))
        dossier = dossier or ws.store.get(ma_ho_so)
        if dossier is None:
            return self.missing(request, ws, ma_ho_so, error)
        errors = [e for e in ws.store.errors(200) if e["ma_ho_so"] == ma_ho_so][:10]
        fee = None
        if int(dossier.get("TrangThaiHoSo") or 0) == 4:
            fee, _ = ws.attempt(ma_ho_so, lambda: ws.platforms.fee_of(dossier))
        error = result.pop("error", None) or error
        return self.page(request, ws, "dossier.html", dossier=dossier, error=error, errors=errors, fee=fee, **result)


def create_app(settings: DeskSettings | None = None) -> FastAPI:
    desk = Desk(settings or DeskSettings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        desk.close()

    app = FastAPI(title="Bàn làm việc một cửa", docs_url=None, redoc_url=None, lifespan=lifespan)
    _guard(app, desk)
    _sign_in_pages(app, desk)
    _queue_pages(app, desk)
    _dossier_pages(app, desk)
    return app


def _guard(app: FastAPI, desk: Desk) -> None:
    @app.middleware("http")
    async def same_site_forms(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """A form post must come from the desk's own pages (the browser names the page's origin),
        but for the sign-in, which carries the credentials it signs in with."""
        origin = request.headers.get("origin")
        if (
            request.method == "POST"
            and request.url.path != SIGN_IN
            and origin not in (None, "null")
            and urlsplit(origin).netloc != request.headers.get("host", "")
        ):
            return desk.page(
                request,
                desk.configured,
                "problem.html",
                403,
                title="Biểu mẫu gửi từ trang web khác bị từ chối",
                detail="A form sent from another site is refused (CROSS_SITE_FORM).",
            )
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors())
        return desk.page(
            request,
            desk.workspace(request),
            "problem.html",
            422,
            title=f"Dữ liệu nhập không hợp lệ: {fields}",
            detail=f"Invalid input (VALIDATION_ERROR): {fields}",
        )


def _sign_in_pages(app: FastAPI, desk: Desk) -> None:
    @app.get(SIGN_IN, response_class=HTMLResponse)
    def sign_in_page(request: Request, next: str = "/") -> HTMLResponse:
        return desk.page(request, desk.workspace(request), "sign_in.html", next=local_path(next))

    @app.post(SIGN_IN)
    def sign_in(
        request: Request,
        api_key: Annotated[str, Form(max_length=256)] = "",
        client_id: Annotated[str, Form(max_length=128)] = "",
        client_secret: Annotated[str, Form(max_length=256)] = "",
        next: Annotated[str, Form(max_length=1024)] = "/",
    ) -> Response:
        """Sign in with what a gateway consumer presents: its API key, or its client id and secret."""
        creds = credentials(api_key.strip(), client_id.strip(), client_secret.strip())
        ws, target = desk.workspace(request), local_path(next)
        if not creds["api_key"] and not (creds["gateway_client_id"] and creds["gateway_client_secret"]):
            error = "Nhập khoá API, hoặc mã ứng dụng (client_id) và khoá bí mật (client_secret) của tenant."
            return desk.page(request, ws, "sign_in.html", 400, next=target, error=error)
        platforms = Platforms(desk.settings.model_copy(update=creds))
        try:
            tenant = platforms.tenant()
        except PlatformError as exc:
            error = f"Cổng kết nối không nhận thông tin đăng nhập này (mã {exc.code}): {exc.message}"
            return desk.page(request, ws, "sign_in.html", 401, next=target, error=error)
        except httpx.HTTPError:
            error = f"Không kết nối được tới cổng kết nối {desk.settings.gateway_url}."
            return desk.page(request, ws, "sign_in.html", 502, next=target, error=error)
        finally:
            platforms.close()
        return desk.sign_in(RedirectResponse(target, status_code=303), request, tenant, creds)

    @app.post("/dang-xuat")
    def sign_out() -> Response:
        return desk.sign_out(RedirectResponse("/", status_code=303))


def _queue_pages(app: FastAPI, desk: Desk) -> None:
    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request, msg: str = "") -> HTMLResponse:
        ws = desk.workspace(request)
        return desk.page(request, ws, "queue.html", dossiers=ws.store.queue(), errors=ws.store.errors(10), msg=msg)

    @app.post("/nhan-ho-so")
    def poll(request: Request) -> Response:
        ws = desk.workspace(request)
        events, error = ws.attempt(None, ws.platforms.new_dossiers)
        if error:
            return RedirectResponse(f"/?msg=Lỗi: {error}", status_code=303)
        for event in events:
            if event.get("HoSo"):
                ws.store.keep(event["HoSo"], datetime.now(VN))
        return RedirectResponse(f"/?msg=Đã nhận {len(events)} sự kiện từ Cổng DVCQG", status_code=303)

    @app.get("/_desk/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "service": "desk", "gateway": desk.settings.gateway_url, "unit": desk.settings.unit}


def _dossier_pages(app: FastAPI, desk: Desk) -> None:
    @app.get("/ho-so/{ma_ho_so}", response_class=HTMLResponse)
    def dossier_page(request: Request, ma_ho_so: str) -> HTMLResponse:
        outcome = desk.flasher.unseal(request.cookies.get(FLASH), FLASH_MAX_AGE_S)
        shown = outcome.pop("MaHoSo", None) == ma_ho_so
        page = desk.show(request, desk.workspace(request), ma_ho_so, **(outcome if shown else {}))
        if shown:
            page.delete_cookie(FLASH, path="/")
        return page

    @app.post("/ho-so/{ma_ho_so}/buoc/{step}")
    def move(request: Request, ma_ho_so: str, step: str) -> Response:
        ws = desk.workspace(request)
        chosen = STEPS.get(step)
        dossier = ws.store.get(ma_ho_so)
        if chosen is None or dossier is None:
            return desk.missing(request, ws, ma_ho_so)
        if step == "tiep-nhan":
            _, error = ws.attempt(ma_ho_so, lambda: ws.platforms.receive(dossier, ws.settings.processing_days))
        else:
            _, error = ws.attempt(ma_ho_so, lambda: ws.platforms.move(dossier, chosen.to, chosen.note))
        return desk.done(request, ma_ho_so, error, done=None if error else f"Đã chuyển sang «{STATUS[chosen.to]}»")

    @app.post("/ho-so/{ma_ho_so}/xac-minh")
    def verify(request: Request, ma_ho_so: str) -> Response:
        ws = desk.workspace(request)
        dossier = ws.store.get(ma_ho_so) or {}
        number, name = str(dossier.get("SoGiayToChuHoSo", "")), str(dossier.get("ChuHoSo", ""))
        purpose = f"tiep-nhan-ho-so-{ma_ho_so}"
        result, error = ws.attempt(ma_ho_so, lambda: ws.platforms.verify_citizen(number, name, purpose))
        kept = {k: result[k] for k in ("MaKetQua", "MoTaKetQua")} if result else None
        return desk.done(request, ma_ho_so, error, verification=kept)

    @app.post("/ho-so/{ma_ho_so}/le-phi")
    def fees(request: Request, ma_ho_so: str, so_tien: Annotated[int, Form(ge=1, le=10**10)]) -> Response:
        ws = desk.workspace(request)
        dossier = ws.store.get(ma_ho_so)
        if dossier is None:
            return desk.missing(request, ws, ma_ho_so)
        name = "Lệ phí giải quyết thủ tục"
        platforms = ws.platforms

        def work() -> dict[str, Any]:
            if int(dossier.get("TrangThaiHoSo") or 0) != 6:  # DVCQG checks the fee before PayGov is asked
                listed = [{"LoaiPhiLePhi": 2, "TenPhiLePhi": name, "MucPhi": so_tien}]
                platforms.dvcqg("DongBoHoSoMC", isUpdating="True", data=[{"MaHoSo": ma_ho_so, "DanhSachLePhi": listed}])
                platforms.move(dossier, 6, f"Đề nghị nộp {so_tien:,} đồng".replace(",", "."))
            paygov_fee = {"LoaiPhiLePhi": 2, "MaPhiLePhi": "LP01", "TenPhiLePhi": name, "SoTien": so_tien}
            return platforms.pay_fees(dossier, [paygov_fee])

        payment, error = ws.attempt(ma_ho_so, work)
        kept = {k: payment[k] for k in ("MaGiaoDich", "UrlThanhToan")} if payment else None
        return desk.done(request, ma_ho_so, error, payment=kept)
