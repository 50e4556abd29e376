"""The payment service as real processes: through the gateway, and a kill -9 mid-delivery."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.payment.conftest import ACK, INIT_ORDER, PARTNER, SECRET, init_fields, signed, verify, wait_for
from tests.receiver import Received, Receiver
from tests.support import SandboxProcesses, ServiceProcess

pytestmark = [pytest.mark.multiprocess, pytest.mark.xdist_group("multiprocess")]

DEV_SECRET = "sandbox-paygov-secret"


def test_init_and_payment_page_work_through_the_gateway(sandbox: SandboxProcesses) -> None:
    tenant = "t-gw-" + uuid.uuid4().hex[:10]
    headers = {"x-sandbox-tenant": tenant}
    body = signed(init_fields(partner="SANDBOX", MaNganHang=None), INIT_ORDER, DEV_SECRET)
    r = httpx.post(sandbox.gateway + "/paygov/v1/payments", json=body, headers=headers)
    assert r.status_code == 200, r.text
    url = r.json()["UrlThanhToan"]
    # Through the gateway the URL carries its tenant-bound prefix (/t/{tenant}/{sig}/paygov/v1).
    assert url.startswith(sandbox.gateway + "/")
    assert f"/paygov/v1/pay/{tenant}/" in url
    page = httpx.get(url)  # the citizen's browser: no tenant header
    assert page.status_code == 200 and "Thanh toán thành công" in page.text
    done = httpx.post(url, data={"action": "success", "MaNganHang": "VCB"})
    assert done.status_code == 200 and "Thanh toán thành công" in done.text
    query = {
        "LoaiBanTin": "QUERY",
        "PhienBan": "1.0.6",
        "MaDoiTac": "SANDBOX",
        "MaThamChieu": body["MaThamChieu"],
        "ThoiGianGD": "20260915103500",
    }
    order = ["LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD"]
    q = httpx.post(sandbox.gateway + "/paygov/v1/payments", json=signed(query, order, DEV_SECRET), headers=headers)
    assert (q.json()["TrangThaiGD"], q.json()["MaLoi"]) == (1, "00")
    receipt = httpx.get(sandbox.gateway + f"/paygov/v1/receipts/{q.json()['MaGiaoDich']}.pdf", headers=headers)
    assert receipt.content.startswith(b"%PDF-")


def payment_process(tmp: Path) -> ServiceProcess:
    """The payment service on its own port and SQLite file."""
    env = {
        "PAYMENT_DATABASE_URL": f"sqlite:///{tmp / 'payment.db'}",
        "SANDBOX_DATA_DIR": str(tmp),
        # The hung delivery's lease runs out one second after the restart.
        "PAYMENT_NOTICE_LEASE_S": "1",
        "PAYMENT_NOTICE_TIMEOUT_S": "30",
    }
    return ServiceProcess("payment", tmp / "payment.log", env)


@pytest.fixture
def hanging_receiver() -> Iterator[tuple[Receiver, threading.Event]]:
    """The partner's endpoint: holds the first notice unanswered until released, then acknowledges."""
    release = threading.Event()

    def reply(n: int, _r: Received) -> tuple[int, bytes]:
        if n == 1:
            release.wait(30)
        return 200, ACK

    r = Receiver(reply=reply)
    yield r, release
    release.set()
    r.close()


def test_kill_9_during_notice_delivery_loses_no_notice(
    tmp_path: Path, hanging_receiver: tuple[Receiver, threading.Event]
) -> None:
    receiver, release = hanging_receiver
    tenant = "t-kill-" + uuid.uuid4().hex[:10]
    headers = {"x-sandbox-tenant": tenant}
    proc = payment_process(tmp_path).start()
    try:
        partner = {"secret": SECRET, "notice_url": receiver.url + "/notice"}
        httpx.put(f"{proc.url}/_sandbox/partners/{PARTNER}", json=partner, headers=headers).raise_for_status()
        body = signed(init_fields(), INIT_ORDER)
        reply = httpx.post(proc.url + "/payments", json=body, headers=headers).json()
        httpx.post(
            f"{proc.url}/_sandbox/payments/{reply['MaGiaoDich']}/complete", json={"outcome": "success"}, headers=headers
        ).raise_for_status()
        wait_for(lambda: len(receiver.received) == 1, what="the notice in flight")
        proc.kill9()  # while the partner still holds the request
        release.set()
        proc.start()
        wait_for(lambda: len(receiver.received) >= 2, timeout=30, what="the notice after restart")

        def delivered() -> list[dict[str, Any]]:
            items = httpx.get(proc.url + "/_sandbox/deliveries", params={"kind": "payment.notice"}, headers=headers)
            return [d for d in items.json()["deliveries"] if d["status"] == "delivered"]

        [delivery] = wait_for(delivered, what="delivered state")
    finally:
        proc.stop()
    first, again = receiver.received[0], receiver.received[1]
    assert first.body == again.body
    assert first.headers["x-sandbox-delivery-id"] == again.headers["x-sandbox-delivery-id"] == delivery["id"]
    notice = again.json()
    assert (notice["MaGiaoDich"], notice["MaLoi"]) == (reply["MaGiaoDich"], "00")
    assert verify(notice, ["LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "MaGiaoDich", "MaLoi", "SoTien",
                           "MaTienTe", "MaNganHang", "ThoiGianGD", "ThongTinGiaoDich"])  # fmt: skip
    assert urlsplit(receiver.url).hostname == "127.0.0.1"


def test_paid_fees_reach_the_dossier_service_in_the_real_topology(sandbox: SandboxProcesses) -> None:
    """From "fees due" to "paid": a dossier synced to the portal, its fees paid headlessly,
    the dossier then shows the online payment (payment → dossier contract, both real processes)."""
    tenant = "t-e2e-" + uuid.uuid4().hex[:10]
    headers = {"x-sandbox-tenant": tenant}
    dvc = sandbox.gateway + "/dvcqg/v1"
    unit = "000.00.01.H22"
    login = httpx.post(
        dvc + "/api/login", json={"username": "sandbox", "password": "sandbox"}, headers=headers | {"MaDonVi": unit}
    )
    assert login.status_code == 200, login.text
    session = headers | {"session": login.json()["session"]}
    code = f"{unit}-241115-{uuid.uuid4().int % 100000:05d}"
    dossier = {
        "MaHoSo": code,
        "MaTTHC": "3.000346",
        "TenTTHC": "Cấp giấy phép lái xe",
        "KenhThucHien": 1,
        "ChuHoSo": "Nguyễn Văn An",
        "LoaiDoiTuong": 1,
        "SoGiayToChuHoSo": "001090012345",
        "DiaChiChuHoSo": "Số 1 Tràng Tiền, Hà Nội",
        "NgayTiepNhan": "20241115080000",
        "NgayHenTra": "20241120170000",
        "TrangThaiHoSo": 2,
        "DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí cấp GPLX", "MucPhi": 135000}],
    }
    synced = httpx.post(
        dvc + "/api/service",
        json={"service": "DongBoHoSoMC", "isUpdating": "False", "data": [dossier]},
        headers=session,
    )
    assert synced.status_code == 200, synced.text
    fields = init_fields(amount=135_000, partner="SANDBOX", MaNganHang="SANDBOX_OK")
    fields["ThongTinBienLai"] |= {
        "MaHoSo": code,
        "PhiLePhi": [{"LoaiPhiLePhi": 2, "MaPhiLePhi": "LP", "TenPhiLePhi": "Lệ phí cấp GPLX", "SoTien": 135_000}],
    }
    paid = httpx.post(
        sandbox.gateway + "/paygov/v1/payments", json=signed(fields, INIT_ORDER, DEV_SECRET), headers=headers
    )
    assert paid.status_code == 200, paid.text

    def recorded() -> dict[str, Any] | None:
        r = httpx.post(dvc + "/api/service", json={"service": "TraCuuHoSo", "MaHoSo": code}, headers=session)
        data: dict[str, Any] = r.json()["data"]
        return data if data.get("DuocThanhToanTrucTuyen") == 1 else None

    data = wait_for(recorded, timeout=30, what="the payment on the dossier")
    assert data["ThanhToanTrucTuyen"][0]["MaGiaoDich"] == paid.json()["MaGiaoDich"]
    assert data["TrangThaiHoSo"] == 2
