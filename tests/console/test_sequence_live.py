"""The operator's sequence diagram against a real sandbox: the calls the platforms make to each
other (DVCQG opening a PayGov payment, PayGov's notice of the paid fee to DVCQG) are arrows
between their lifelines, next to the province's relayed calls."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from console.app import create_app
from console.settings import ConsoleSettings
from desk.platforms import Platforms
from desk.settings import DeskSettings
from tests.support import SandboxProcesses, new_tenant, wait_for

pytestmark = [pytest.mark.multiprocess, pytest.mark.xdist_group("multiprocess")]
UNIT = "000.00.01.H22"


@pytest.fixture
def tenant(sandbox: SandboxProcesses) -> dict[str, str]:
    reply = httpx.post(sandbox.gateway + "/_sandbox/tenants", json={"tenant": new_tenant()}, timeout=30)
    assert reply.status_code == 201, reply.text
    creds: dict[str, str] = reply.json()["consumer"]["credentials"]
    return {**creds, "tenant": reply.json()["tenant"]}


@pytest.fixture
def console(sandbox: SandboxProcesses, tenant: dict[str, str]) -> Iterator[TestClient]:
    settings = ConsoleSettings(gateway_secret="a-console-secret-long-enough-0123456789", gateway_url=sandbox.gateway)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        signed = client.post("/console/login", data={k: tenant[k] for k in ("client_id", "client_secret")})
        assert signed.status_code == 303, signed.text
        yield client


def test_calls_between_platforms_are_drawn_between_their_lifelines(sandbox, tenant, console) -> None:
    key = {"X-API-Key": tenant["api_key"]}
    citizen = {
        "MaDonVi": UNIT,
        "MaTTHC": "3.000347",
        "ChuHoSo": "Nguyễn Văn Đức",
        "SoGiayToChuHoSo": "033096674891",
        "SoDienThoai": "0987654321",
    }
    filed = httpx.post(sandbox.gateway + "/dvcqg/v1/_sandbox/citizen-dossiers", json=citizen, headers=key, timeout=30)
    assert filed.status_code == 200, filed.text
    code = filed.json()["data"]["MaHoSo"]
    province = Platforms(DeskSettings(gateway_url=sandbox.gateway, api_key=tenant["api_key"]))
    try:
        province.receive(province.dossier(code), 5)
        province.move(province.dossier(code), 4, "Chuyển xử lý")
        fees = [{"LoaiPhiLePhi": 2, "TenPhiLePhi": "Lệ phí", "MucPhi": 135000}]
        province.dvcqg("DongBoHoSoMC", isUpdating="True", data=[{"MaHoSo": code, "DanhSachLePhi": fees}])
        province.move(province.dossier(code), 6, "Đề nghị nộp phí")
        paid = httpx.post(
            sandbox.gateway + f"/dvcqg/v1/_sandbox/citizen-dossiers/{code}/pay",
            json={"MaNganHang": "SANDBOX_OK"},
            headers=key,
            timeout=30,
        )
        assert paid.json()["error_code"] == 0, paid.text
        wait_for(lambda: province.dossier(code).get("DuocThanhToanTrucTuyen") == 1)
    finally:
        province.close()

    page = console.get(f"/console/t/{tenant['tenant']}/diagram")
    assert page.status_code == 200, page.text
    html = page.text
    # DVCQG → PayGov: the INIT the portal sent, with its redacted request and reply.
    init = html.split('<details class="row service ok"')[1].split("</details>")[0]
    assert "POST /payments" in init and "x-sandbox-consumer: service:dossier" in init
    assert "&#34;LoaiBanTin&#34;: &#34;INIT&#34;" in init and "MaGiaoDich" in init
    assert 'aria-hidden="true"' in init and "DVCQG → PayGov:" in init
    # PayGov → DVCQG: the paid fee's notice, a delivery to DVCQG rather than to the province.
    notice = html.split("dossier.payment")[0].rsplit('<details class="row delivery', 1)[1]
    assert "PayGov → DVCQG:" in notice
