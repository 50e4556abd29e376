"""The real topology (`vnsandbox up`): a province syncs through the gateway, and a fee paid on
the payment service marks the dossier paid (the payment → dossier contract, both halves)."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest

from tests.dossier.conftest import DEV_UNIT, record, wait_for
from tests.support import new_tenant

pytestmark = pytest.mark.multiprocess

INIT_ORDER = [
    "LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "SoTien", "MaTienTe", "LoaiHinhThanhToan",
    "MaKenhThanhToan", "MaThietBi", "NgonNgu", "MaNganHang", "ThoiGianGD", "ThongTinGiaoDich", "Ip",
]  # fmt: skip


def test_province_syncs_through_the_gateway_and_a_payment_marks_the_dossier_paid(sandbox):
    with httpx.Client(base_url=sandbox.gateway, headers={"X-Sandbox-Tenant": new_tenant()}, timeout=20) as gw:
        run_scenario(gw)


def run_scenario(gw: httpx.Client) -> None:
    login = gw.post(
        "/dvcqg/v1/api/login", json={"username": "sandbox", "password": "sandbox"}, headers={"MaDonVi": DEV_UNIT}
    )
    assert login.json()["error_code"] == 0, login.text
    session = {"session": login.json()["session"]}
    fees = [{"TenPhiLePhi": "Lệ phí cấp GPLX", "MucPhi": 135000}]
    rec = record(MaTTHC="3.000346", DanhSachLePhi=fees)
    synced = gw.post("/dvcqg/v1/api/service", json={"service": "DongBoHoSoMC", "data": [rec]}, headers=session)
    assert synced.json()["error_code"] == 0, synced.text

    fields = {
        "LoaiBanTin": "INIT", "PhienBan": "1.0.6", "MaDoiTac": "SANDBOX", "MaThamChieu": "HS-E2E-1",
        "SoTien": 135000, "MaTienTe": "VND", "LoaiHinhThanhToan": "PAY", "MaKenhThanhToan": "WEB",
        "MaThietBi": "DESKTOP", "NgonNgu": "vi-VN", "MaNganHang": "SANDBOX_OK", "ThoiGianGD": "20241116103000",
        "ThongTinGiaoDich": "Nộp lệ phí cấp GPLX", "Ip": "127.0.0.1",
    }  # fmt: skip
    text = "|".join("" if fields[f] is None else str(fields[f]) for f in INIT_ORDER)
    fields["MaXacThuc"] = hmac.new(b"sandbox-paygov-secret", text.encode(), hashlib.sha256).hexdigest()
    fields["ThongTinBienLai"] = {
        "MaDichVu": 2, "MaTTHC": "3.000346", "TenTTHC": "Cấp giấy phép lái xe", "MaDonVi": DEV_UNIT,
        "MaHoSo": rec["MaHoSo"], "HoTenNguoiNop": rec["ChuHoSo"], "SoCMNDNguoiNop": rec["SoGiayToChuHoSo"],
        "PhiLePhi": [{"LoaiPhiLePhi": 2, "MaPhiLePhi": "LP01", "TenPhiLePhi": "Lệ phí cấp GPLX", "SoTien": 135000}],
    }  # fmt: skip
    paid = gw.post("/paygov/v1/payments", json=fields)
    assert paid.json()["error_code"] == "0", paid.text

    def dossier_paid():
        r = gw.post("/dvcqg/v1/api/service", json={"service": "TraCuuHoSo", "MaHoSo": rec["MaHoSo"]}, headers=session)
        return r.json()["data"] if r.json()["data"].get("DuocThanhToanTrucTuyen") == 1 else None

    data = wait_for(dossier_paid, timeout=30)
    assert data["ThanhToanTrucTuyen"][0]["MaGiaoDich"] == paid.json()["MaGiaoDich"]
    assert data["TrangThaiHoSo"] == 2


def test_citizen_pays_a_status_6_dossier_on_the_portal_and_it_is_marked_paid(sandbox):
    with httpx.Client(base_url=sandbox.url("dossier"), headers={"X-Sandbox-Tenant": new_tenant()}, timeout=20) as d:
        fees = [{"TenPhiLePhi": "Lệ phí cấp GPLX", "MucPhi": 135000}]
        rec = record(2, MaTTHC="3.000346", DanhSachLePhi=fees, TrangThaiHoSo=4)
        auth = {"Authorization": "Bearer dvcqg-dev-unit-key"}
        assert d.post("/api/DongBoHoSoMC", json={"data": [rec]}, headers=auth).json()["error_code"] == 0
        step = {"MaHoSo": rec["MaHoSo"], "NguoiXuLy": "Cán bộ", "ThoiDiemXuLy": "20241116080000", "TrangThai": 6}
        assert d.post("/api/CapNhatTienDoHoSoMC", json={"data": [step]}, headers=auth).json()["error_code"] == 0
        r = d.post(f"/_sandbox/citizen-dossiers/{rec['MaHoSo']}/pay", json={"MaNganHang": "SANDBOX_OK"})
        assert r.json()["error_code"] == 0, r.text
        assert r.json()["data"]["SoTien"] == 135000

        def paid():
            data = d.get(f"/_sandbox/dossiers/{rec['MaHoSo']}").json()["data"]
            return data if data.get("DuocThanhToanTrucTuyen") == 1 else None

        data = wait_for(paid, timeout=30)
        assert data["ThanhToanTrucTuyen"][0]["MaGiaoDich"] == r.json()["data"]["MaGiaoDich"]
        assert data["TrangThaiHoSo"] == 6
