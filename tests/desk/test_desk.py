"""The officer's desk, the reference integration, against a real sandbox through its gateway:
receives a citizen's dossier by polling, verifies the citizen, moves it, asks for the fee."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from desk.app import create_app
from desk.settings import DeskSettings
from tests.support import SandboxProcesses, new_tenant

pytestmark = [pytest.mark.multiprocess, pytest.mark.xdist_group("multiprocess")]
UNIT = "000.00.01.H22"
CITIZEN = {"ChuHoSo": "Nguyễn Văn Đức", "SoGiayToChuHoSo": "033096674891"}


@pytest.fixture
def tenant_key(sandbox: SandboxProcesses) -> str:
    """A fresh tenant of the gateway (its API key), so every test starts with an empty inbox."""
    reply = httpx.post(sandbox.gateway + "/_sandbox/tenants", json={"tenant": new_tenant()}, timeout=30)
    assert reply.status_code in (200, 201), reply.text
    key: str = reply.json()["consumer"]["credentials"]["api_key"]
    return key


@pytest.fixture
def desk(sandbox: SandboxProcesses, tenant_key: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = DeskSettings(gateway_url=sandbox.gateway, api_key=tenant_key, data_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        yield client


def file_on_portal(sandbox: SandboxProcesses, key: str, mattch: str = "1.001193") -> str:
    body = {"MaDonVi": UNIT, "MaTTHC": mattch, **CITIZEN, "SoDienThoai": "0987654321", "DanhSachLePhi": []}
    reply = httpx.post(
        sandbox.gateway + "/dvcqg/v1/_sandbox/citizen-dossiers", json=body, headers={"X-API-Key": key}, timeout=30
    )
    assert reply.status_code == 200, reply.text
    code: str = reply.json()["data"]["MaHoSo"]
    return code


def status_on_dvcqg(sandbox: SandboxProcesses, key: str, code: str) -> int:
    from desk.platforms import Platforms

    platforms = Platforms(DeskSettings(gateway_url=sandbox.gateway, api_key=key))
    status = int(platforms.dossier(code)["TrangThaiHoSo"])
    platforms.close()
    return status


def test_polling_puts_the_citizens_dossier_in_the_queue(sandbox, tenant_key, desk) -> None:
    code = file_on_portal(sandbox, tenant_key)
    reply = desk.post("/nhan-ho-so")
    assert reply.status_code == 200 and "Đã nhận 1 sự kiện" in reply.text
    assert code in reply.text and "Mới đăng ký" in reply.text


def test_a_second_poll_receives_nothing_new(sandbox, tenant_key, desk) -> None:
    file_on_portal(sandbox, tenant_key)
    desk.post("/nhan-ho-so")
    assert "Đã nhận 0 sự kiện" in desk.post("/nhan-ho-so").text


def test_the_officers_steps_move_the_dossier_on_dvcqg(sandbox, tenant_key, desk) -> None:
    code = file_on_portal(sandbox, tenant_key)
    desk.post("/nhan-ho-so")
    for step, status in (("tiep-nhan", 2), ("chuyen-xu-ly", 4), ("xu-ly-xong", 9), ("tra-ket-qua", 10)):
        page = desk.post(f"/ho-so/{code}/buoc/{step}")
        assert page.status_code == 200 and 'role="alert"' not in page.text, page.text
        assert status_on_dvcqg(sandbox, tenant_key, code) == status


def test_an_illegal_step_shows_the_platforms_code_and_lands_in_the_error_log(sandbox, tenant_key, desk) -> None:
    code = file_on_portal(sandbox, tenant_key)
    desk.post("/nhan-ho-so")
    page = desk.post(f"/ho-so/{code}/buoc/tra-ket-qua")  # 1 → 10 is not a legal transition
    assert "DVCQG từ chối CapNhatTienDoHoSoMC (mã 23)" in page.text
    assert status_on_dvcqg(sandbox, tenant_key, code) == 1
    assert "CapNhatTienDoHoSoMC" in desk.get("/").text


def test_verifying_the_citizen_asks_the_population_database(sandbox, tenant_key, desk) -> None:
    code = file_on_portal(sandbox, tenant_key)
    desk.post("/nhan-ho-so")
    page = desk.post(f"/ho-so/{code}/xac-minh")
    assert re.search(r"Kết quả xác minh: 0[05]", page.text), page.text


def _in_processing(sandbox, key, desk, mattch: str) -> str:
    code = file_on_portal(sandbox, key, mattch=mattch)
    desk.post("/nhan-ho-so")
    desk.post(f"/ho-so/{code}/buoc/tiep-nhan")
    desk.post(f"/ho-so/{code}/buoc/chuyen-xu-ly")
    return code


def test_the_fee_form_offers_the_catalogues_amount(sandbox, tenant_key, desk) -> None:
    code = _in_processing(sandbox, tenant_key, desk, "3.000347")  # đổi GPLX: 135.000 đồng
    assert 'value="135000"' in desk.get(f"/ho-so/{code}").text


def test_asking_for_the_fee_opens_a_paygov_payment_and_sets_status_6(sandbox, tenant_key, desk) -> None:
    code = _in_processing(sandbox, tenant_key, desk, "3.000347")
    page = desk.post(f"/ho-so/{code}/le-phi", data={"so_tien": "135000"})
    assert "Đã tạo giao dịch PG" in page.text, page.text
    assert re.search(r'href="http://[^"]+/paygov/v1/[^"]*pay/', page.text)
    assert status_on_dvcqg(sandbox, tenant_key, code) == 6


def test_a_fee_the_catalogue_does_not_list_is_refused_and_logged(sandbox, tenant_key, desk) -> None:
    code = _in_processing(sandbox, tenant_key, desk, "3.000347")
    page = desk.post(f"/ho-so/{code}/le-phi", data={"so_tien": "1000"})
    assert "DVCQG từ chối DongBoHoSoMC (mã 20)" in page.text
    assert status_on_dvcqg(sandbox, tenant_key, code) == 4
