"""A made-up provincial one-stop system (một cửa điện tử) — the system under test of this example.

It receives a citizen's application after a VNeID login, registers the dossier, and syncs it to
the national portal (DVCQG), retrying when the portal is busy. A real province's system would be
Java, .NET or PHP; this one is a few lines of Python so the example stays readable.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

UNIT = "000.00.01.H22"
BUSY = (-1, 11, 12, 13)  # portal busy, or the session is gone: log in and try again


def wire_time(at: datetime) -> str:
    return (at + timedelta(hours=7)).strftime("%Y%m%d%H%M%S")


class MotCuaTinh:
    def __init__(self, gateway_url: str, api_key: str, username: str = "sandbox", password: str = "sandbox") -> None:
        self.http = httpx.Client(base_url=gateway_url, headers={"X-API-Key": api_key}, timeout=30)
        self.username, self.password = username, password
        self.session: str | None = None
        self.serial = 0

    def close(self) -> None:
        self.http.close()

    def _login(self) -> str:
        r = self.http.post(
            "/dvcqg/v1/api/login",
            json={"username": self.username, "password": self.password},
            headers={"MaDonVi": UNIT},
        )
        self.session = str(r.json()["session"])
        return self.session

    def _sync(self, record: dict[str, Any], attempts: int = 3) -> dict[str, Any]:
        body = {"service": "DongBoHoSoMC", "isUpdating": "False", "data": [record]}
        for attempt in range(1, attempts + 1):
            r = self.http.post("/dvcqg/v1/api/service", json=body, headers={"session": self.session or self._login()})
            reply: dict[str, Any] = r.json()
            if reply.get("error_code") not in BUSY or attempt == attempts:
                return reply
            self.session = None if reply.get("error_code") != -1 else self.session
            time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    def receive(self, citizen: dict[str, Any], procedure: str = "1.001193") -> dict[str, Any]:
        """Register a citizen's application (from their VNeID userinfo) and sync it to DVCQG."""
        now = datetime.now(UTC)
        self.serial += 1
        code = f"{UNIT}-{wire_time(now)[2:8]}-{(int(now.timestamp() * 1000) + self.serial) % 90000 + 10000:05d}"
        record = {
            "MaHoSo": code,
            "MaTTHC": procedure,
            "TenTTHC": "Thủ tục đăng ký khai sinh",
            "KenhThucHien": 2,
            "ChuHoSo": citizen["HoVaTen"],
            "LoaiDoiTuong": 1,
            "SoGiayToChuHoSo": citizen["SoDinhDanh"],
            "DiaChiChuHoSo": citizen.get("DiaChiThuongTru") or "Hội An, Quảng Nam",
            "SoDienThoai": citizen.get("SoDienThoai") or "0905123456",  # online dossiers need a contact
            "NgayTiepNhan": wire_time(now - timedelta(minutes=1)),
            "NgayHenTra": wire_time(now + timedelta(days=5)),
            "TrangThaiHoSo": 2,
            "TaiKhoanDuocXacThucVoiVNeID": 1,
            "DanhSachLePhi": [],
        }
        return {"MaHoSo": code, "reply": self._sync(record)}
