"""Helpers for the dossier tests: a province's sync client and valid records to vary."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import TenantClient
from tests.support import deliveries as deliveries  # the dossier tests import it from here
from tests.support import wait_for as wait_for  # the dossier tests import it from here

DEV_UNIT = "000.00.01.H22"
#: A valid CCCD: Hà Nội (001), male born in the 1900s (0), 1990.
CCCD = "001090012345"


def record(seq: int = 1, **overrides: Any) -> dict[str, Any]:
    """A dossier record the portal accepts (birth registration, free, received, direct)."""
    rec: dict[str, Any] = {
        "MaHoSo": f"{DEV_UNIT}-241115-{seq:05d}",
        "MaTTHC": "1.001193",
        "TenTTHC": "Thủ tục đăng ký khai sinh",
        "KenhThucHien": 1,
        "ChuHoSo": "Nguyễn Văn An",
        "LoaiDoiTuong": 1,
        "SoGiayToChuHoSo": CCCD,
        "DiaChiChuHoSo": "Số 1 Tràng Tiền, Hà Nội",
        "NgayTiepNhan": "20241115080000",
        "NgayHenTra": "20241120170000",
        "TrangThaiHoSo": 2,
        "DanhSachLePhi": [],
    }
    rec.update(overrides)
    return {k: v for k, v in rec.items() if v is not ...}


def progress(seq: int, status: int, at: str, **overrides: Any) -> dict[str, Any]:
    rec = {
        "MaHoSo": f"{DEV_UNIT}-241115-{seq:05d}",
        "NguoiXuLy": "Trần Thị Bình",
        "ChucDanh": "Chuyên viên",
        "PhongBanXuLy": "Bộ phận một cửa",
        "NoiDungXuLy": f"Chuyển trạng thái {status}",
        "ThoiDiemXuLy": at,
        "TrangThai": status,
    }
    rec.update(overrides)
    return rec


class Province:
    """A provincial system talking to the portal: logs in, syncs, looks up."""

    def __init__(
        self, client: TenantClient, unit: str = DEV_UNIT, username: str = "sandbox", password: str = "sandbox"
    ):
        self.client = client
        self.unit = unit
        self.username = username
        self.password = password
        self.token: str | None = None

    def login(self) -> httpx.Response:
        r = self.client.post(
            "/api/login", json={"username": self.username, "password": self.password}, headers={"MaDonVi": self.unit}
        )
        if r.status_code == 200:
            self.token = r.json()["session"]
        return r

    def call(self, body: dict[str, Any]) -> httpx.Response:
        if self.token is None:
            assert self.login().status_code == 200
        return self.client.post("/api/service", json=body, headers={"session": self.token or ""})

    def sync(self, items: list[dict[str, Any]] | dict[str, Any], updating: bool = False) -> httpx.Response:
        return self.call({"service": "DongBoHoSoMC", "isUpdating": "True" if updating else "False", "data": items})

    def progress(self, items: list[dict[str, Any]] | dict[str, Any]) -> httpx.Response:
        return self.call({"service": "CapNhatTienDoHoSoMC", "data": items})

    def lookup(self, code: str, history: bool = False) -> httpx.Response:
        return self.call({"service": "TraCuuHoSo", "MaHoSo": code, "LichSu": history})

    def status_of(self, code: str) -> int:
        r = self.lookup(code)
        assert r.status_code == 200, r.text
        return int(r.json()["data"]["TrangThaiHoSo"])


@pytest.fixture
def province(dossier: TenantClient) -> Province:
    return Province(dossier)


def advance(client: TenantClient, seconds: float) -> None:
    r = client.post("/_sandbox/clock", json={"advance_seconds": seconds})
    assert r.status_code == 200, r.text


def register_unit(client: TenantClient, code: str, **extra: Any) -> dict[str, Any]:
    body = {"MaDonVi": code, "TenDonVi": f"Đơn vị {code}", "username": f"u-{code}", "password": "pw-" + code, **extra}
    r = client.post("/_sandbox/units", json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


class Receiver:
    """A province's webhook endpoint: a real HTTP server on loopback, in a thread.

    ``plan`` lists the status codes of the next replies (then 200 for ever); ``hang``
    makes it hold requests until released."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.requests: list[dict[str, Any]] = []
        self.plan: list[int] = []
        self.hang = threading.Event()
        self.release = threading.Event()
        self.arrived = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                outer.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                outer.arrived.set()
                if outer.hang.is_set():
                    outer.release.wait(30)
                status = outer.plan.pop(0) if outer.plan else 200
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/dvcqg-webhook"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def citizen_filing(**overrides: Any) -> dict[str, Any]:
    body = {
        "MaDonVi": DEV_UNIT,
        "MaTTHC": "1.001193",
        "ChuHoSo": "Lê Thị Cúc",
        "SoGiayToChuHoSo": "001190054321",
        "SoDienThoai": "0987654321",
        "Email": "cuc@example.vn",
        "DanhSachLePhi": [],
    }
    body.update(overrides)
    return body
