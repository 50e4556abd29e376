"""The officer's screens (Vietnamese): the queue, one dossier with its actions, the error log.

Run: ``uvicorn --factory desk.app:create_app --port 8004`` (``vnsandbox up`` starts it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from desk.platforms import VN, PlatformError, Platforms
from desk.settings import DeskSettings
from desk.store import Store
from vnsandbox.vn.statuses import STATUS_NAMES

STATUS = STATUS_NAMES


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


class Desk:
    """The desk's parts, shared by its pages: settings, its own store, the platforms."""

    def __init__(self, settings: DeskSettings) -> None:
        self.settings = settings
        self.store = Store(settings.data_dir / "desk.db")
        self.platforms = Platforms(settings)

    def attempt(self, ma_ho_so: str | None, work: Callable[[], Any]) -> tuple[Any, PlatformError | None]:
        """Run a platform call; a refusal goes to the error log and is shown to the officer."""
        try:
            return work(), None
        except PlatformError as exc:
            self.store.error(datetime.now(VN), ma_ho_so, exc.platform, exc.call, exc.code, exc.message)
            return None, exc

    def page(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context = {"settings": self.settings, **context}
        return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)

    def missing(self, request: Request, ma_ho_so: str, error: PlatformError | None = None) -> HTMLResponse:
        return self.page(request, "missing.html", status_code=404, ma_ho_so=ma_ho_so, error=error)

    def show(self, request: Request, ma_ho_so: str, **result: Any) -> HTMLResponse:
        """The dossier as DVCQG has it now (the desk's copy if DVCQG cannot answer)."""
        dossier, error = self.attempt(ma_ho_so, lambda: self.platforms.dossier(ma_ho_so))
        if dossier:
            self.store.keep(dossier, datetime.now(VN))
        dossier = dossier or self.store.get(ma_ho_so)
        if dossier is None:
            return self.missing(request, ma_ho_so, error)
        errors = [e for e in self.store.errors(200) if e["ma_ho_so"] == ma_ho_so][:10]
        fee = self.platforms.fee_of(dossier) if int(dossier.get("TrangThaiHoSo") or 0) == 4 else None
        error = result.pop("error", error)
        return self.page(request, "dossier.html", dossier=dossier, error=error, errors=errors, fee=fee, **result)


def create_app(settings: DeskSettings | None = None) -> FastAPI:
    desk = Desk(settings or DeskSettings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        desk.platforms.close()

    app = FastAPI(title="Bàn làm việc một cửa", docs_url=None, redoc_url=None, lifespan=lifespan)
    _queue_pages(app, desk)
    _dossier_pages(app, desk)
    return app


def _queue_pages(app: FastAPI, desk: Desk) -> None:
    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request, msg: str = "") -> HTMLResponse:
        return desk.page(request, "queue.html", dossiers=desk.store.queue(), errors=desk.store.errors(10), msg=msg)

    @app.post("/nhan-ho-so")
    def poll(request: Request) -> Response:
        events, error = desk.attempt(None, desk.platforms.new_dossiers)
        if error:
            return RedirectResponse(f"/?msg=Lỗi: {error}", status_code=303)
        for event in events:
            if event.get("HoSo"):
                desk.store.keep(event["HoSo"], datetime.now(VN))
        return RedirectResponse(f"/?msg=Đã nhận {len(events)} sự kiện từ Cổng DVCQG", status_code=303)

    @app.get("/_desk/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "service": "desk", "gateway": desk.settings.gateway_url, "unit": desk.settings.unit}


def _dossier_pages(app: FastAPI, desk: Desk) -> None:
    platforms = desk.platforms

    @app.get("/ho-so/{ma_ho_so}", response_class=HTMLResponse)
    def dossier_page(request: Request, ma_ho_so: str) -> HTMLResponse:
        return desk.show(request, ma_ho_so)

    @app.post("/ho-so/{ma_ho_so}/buoc/{step}", response_class=HTMLResponse)
    def move(request: Request, ma_ho_so: str, step: str) -> HTMLResponse:
        chosen = STEPS.get(step)
        dossier = desk.store.get(ma_ho_so)
        if chosen is None or dossier is None:
            return desk.missing(request, ma_ho_so)
        if step == "tiep-nhan":
            _, error = desk.attempt(ma_ho_so, lambda: platforms.receive(dossier, desk.settings.processing_days))
        else:
            _, error = desk.attempt(ma_ho_so, lambda: platforms.move(dossier, chosen.to, chosen.note))
        done = None if error else f"Đã chuyển sang «{STATUS[chosen.to]}»"
        return desk.show(request, ma_ho_so, error=error, done=done)

    @app.post("/ho-so/{ma_ho_so}/xac-minh", response_class=HTMLResponse)
    def verify(request: Request, ma_ho_so: str) -> HTMLResponse:
        dossier = desk.store.get(ma_ho_so) or {}
        number, name = str(dossier.get("SoGiayToChuHoSo", "")), str(dossier.get("ChuHoSo", ""))
        purpose = f"tiep-nhan-ho-so-{ma_ho_so}"
        result, error = desk.attempt(ma_ho_so, lambda: platforms.verify_citizen(number, name, purpose))
        return desk.show(request, ma_ho_so, error=error, verification=result)

    @app.post("/ho-so/{ma_ho_so}/le-phi", response_class=HTMLResponse)
    def fees(request: Request, ma_ho_so: str, so_tien: Annotated[int, Form(ge=1, le=10**10)]) -> HTMLResponse:
        dossier = desk.store.get(ma_ho_so)
        if dossier is None:
            return desk.missing(request, ma_ho_so)
        name = "Lệ phí giải quyết thủ tục"

        def work() -> dict[str, Any]:
            listed = [{"LoaiPhiLePhi": 2, "TenPhiLePhi": name, "MucPhi": so_tien}]
            platforms.dvcqg("DongBoHoSoMC", isUpdating="True", data=[{"MaHoSo": ma_ho_so, "DanhSachLePhi": listed}])
            platforms.move(dossier, 6, f"Đề nghị nộp {so_tien:,} đồng".replace(",", "."))
            paygov_fee = {"LoaiPhiLePhi": 2, "MaPhiLePhi": "LP01", "TenPhiLePhi": name, "SoTien": so_tien}
            return platforms.request_payment(dossier, [paygov_fee])

        payment, error = desk.attempt(ma_ho_so, work)
        return desk.show(request, ma_ho_so, error=error, payment=payment)
