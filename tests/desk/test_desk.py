"""The officer's desk, the reference integration, against a real sandbox through its gateway:
receives a citizen's dossier by polling, verifies the citizen, moves it, asks for the fee."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from desk.app import create_app
from desk.platforms import Platforms
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


def platforms_of(sandbox: SandboxProcesses, key: str) -> Platforms:
    return Platforms(DeskSettings(gateway_url=sandbox.gateway, api_key=key))


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


def test_an_action_answers_303_to_the_dossier_and_says_what_it_did_once(sandbox, tenant_key, desk) -> None:
    """Post/Redirect/Get: reloading the page after an action shows the dossier, re-posts nothing."""
    code = file_on_portal(sandbox, tenant_key)
    desk.post("/nhan-ho-so")
    posted = desk.post(f"/ho-so/{code}/buoc/tiep-nhan", follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == f"/ho-so/{code}"
    shown = desk.get(posted.headers["location"])
    assert "Đã chuyển sang «Được tiếp nhận»" in shown.text and 'role="alert"' not in shown.text
    reloaded = desk.get(posted.headers["location"])  # what the browser's reload now sends
    assert reloaded.status_code == 200 and "Đã chuyển sang" not in reloaded.text
    platforms = platforms_of(sandbox, tenant_key)
    history = platforms.dossier(code)["LichSu"]
    platforms.close()
    assert [h.get("TrangThai") for h in history].count(2) == 1, history
    refused = desk.post(f"/ho-so/{code}/buoc/tra-ket-qua", follow_redirects=False)  # 2 → 10: illegal
    assert refused.status_code == 303
    page = desk.get(refused.headers["location"])
    assert 'role="alert"' in page.text and "DVCQG từ chối CapNhatTienDoHoSoMC (mã 23)" in page.text
    assert "DVCQG từ chối CapNhatTienDoHoSoMC" not in desk.get(f"/ho-so/{code}").text.split("Lỗi đồng bộ")[0]
    other = file_on_portal(sandbox, tenant_key)
    desk.post("/nhan-ho-so")
    desk.post(f"/ho-so/{code}/xac-minh", follow_redirects=False)
    assert "Kết quả xác minh" not in desk.get(f"/ho-so/{other}").text  # one dossier's outcome only


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


def _payments_of(sandbox: SandboxProcesses, key: str, code: str) -> list[dict[str, Any]]:
    reply = httpx.get(sandbox.gateway + "/paygov/v1/_sandbox/payments", headers={"X-API-Key": key}, timeout=30)
    return [p for p in reply.json()["payments"] if p.get("MaHoSo") == code]


def _portal_pays(sandbox: SandboxProcesses, key: str, code: str) -> dict[str, Any]:
    reply = httpx.post(
        sandbox.gateway + f"/dvcqg/v1/_sandbox/citizen-dossiers/{code}/pay",
        json={},
        headers={"X-API-Key": key},
        timeout=30,
    )
    body: dict[str, Any] = reply.json()
    return body


def test_the_desks_fee_and_the_citizens_portal_share_one_paygov_payment(sandbox, tenant_key, desk) -> None:
    """Desk INIT, then the portal's pay: the same payment; failed, a new one; pending, reused."""
    code = _in_processing(sandbox, tenant_key, desk, "3.000347")
    desk_page = desk.post(f"/ho-so/{code}/le-phi", data={"so_tien": "135000"})
    desk_txn = re.search(r"Đã tạo giao dịch (PG\w+)", desk_page.text).group(1)  # type: ignore[union-attr]
    fee_record = platforms_of(sandbox, tenant_key)
    listed = fee_record.dossier(code)["DanhSachLePhi"]
    fee_record.close()
    assert [(f["MucPhi"], f["MaDoiTac"]) for f in listed] == [(135000, "SANDBOX")] and listed[0]["MaThamChieu"]

    first = _portal_pays(sandbox, tenant_key, code)
    assert first["error_code"] == 0 and first["data"]["MaGiaoDich"] == desk_txn, first
    assert first["data"]["UrlThanhToan"] == listed[0]["UrlThanhToan"]
    assert [p["MaGiaoDich"] for p in _payments_of(sandbox, tenant_key, code)] == [desk_txn]

    # The citizen's balance is too low: the next click opens a new payment, which the desk reuses.
    admin = {"X-API-Key": tenant_key}
    failed = httpx.post(
        sandbox.gateway + f"/paygov/v1/_sandbox/payments/{desk_txn}/complete",
        json={"outcome": "insufficient_funds"},
        headers=admin,
        timeout=30,
    )
    assert failed.status_code == 200, failed.text
    second = _portal_pays(sandbox, tenant_key, code)["data"]
    assert second["MaGiaoDich"] != desk_txn
    desk.get(f"/ho-so/{code}")  # the desk's copy of the fee record, as the officer sees it
    again = desk.post(f"/ho-so/{code}/le-phi", data={"so_tien": "135000"})
    assert f"Đã tạo giao dịch {second['MaGiaoDich']}" in again.text, again.text
    assert _portal_pays(sandbox, tenant_key, code)["data"]["MaGiaoDich"] == second["MaGiaoDich"]
    assert len(_payments_of(sandbox, tenant_key, code)) == 2

    paid = httpx.post(
        sandbox.gateway + f"/paygov/v1/_sandbox/payments/{second['MaGiaoDich']}/complete",
        json={"outcome": "success"},
        headers=admin,
        timeout=30,
    )
    assert paid.status_code == 200, paid.text
    refused = _portal_pays(sandbox, tenant_key, code)
    assert refused["error_code"] == 23 and refused["details"][0]["rule"] == "already_paid", refused
    assert len(_payments_of(sandbox, tenant_key, code)) == 2


def test_a_fee_the_catalogue_does_not_list_is_refused_and_logged(sandbox, tenant_key, desk) -> None:
    code = _in_processing(sandbox, tenant_key, desk, "3.000347")
    page = desk.post(f"/ho-so/{code}/le-phi", data={"so_tien": "1000"})
    assert "DVCQG từ chối DongBoHoSoMC (mã 20)" in page.text
    assert status_on_dvcqg(sandbox, tenant_key, code) == 4


# -- the officer's sign-in to another tenant ---------------------------------------------------


def another_tenant(sandbox: SandboxProcesses) -> dict[str, str]:
    """A second tenant: its name and consumer's credentials."""
    reply = httpx.post(sandbox.gateway + "/_sandbox/tenants", json={"tenant": new_tenant()}, timeout=30)
    assert reply.status_code == 201, reply.text
    return {"tenant": reply.json()["tenant"], **reply.json()["consumer"]["credentials"]}


def test_an_officer_signed_in_with_client_credentials_works_on_that_tenant_with_its_own_store(
    sandbox, tenant_key, desk, tmp_path
) -> None:
    other = another_tenant(sandbox)
    code = file_on_portal(sandbox, other["api_key"])
    form = {"client_id": other["client_id"], "client_secret": other["client_secret"], "next": "/"}
    page = desk.post("/dang-nhap", data=form)
    assert page.status_code == 200 and other["tenant"] in page.text
    assert "Đã nhận 1 sự kiện" in desk.post("/nhan-ho-so").text
    assert desk.post(f"/ho-so/{code}/buoc/tiep-nhan").status_code == 200
    assert status_on_dvcqg(sandbox, other["api_key"], code) == 2
    assert (tmp_path / "desk-tenants" / f"{other['tenant']}.db").is_file()
    assert "vnsb_desk" in desk.cookies and other["client_secret"] not in desk.cookies["vnsb_desk"]

    # The configured tenant's queue is its own, and signing out returns to it.
    desk.post("/dang-xuat")
    assert code not in desk.get("/").text and "tenant theo cấu hình" in desk.get("/").text


def test_an_officer_signs_in_with_an_api_key_and_the_token_of_client_credentials_is_renewed(
    sandbox, tenant_key, desk
) -> None:
    other = another_tenant(sandbox)
    assert other["tenant"] in desk.post("/dang-nhap", data={"api_key": other["api_key"]}).text
    desk.post("/dang-nhap", data={"client_id": other["client_id"], "client_secret": other["client_secret"]})
    code = file_on_portal(sandbox, other["api_key"])
    assert code in desk.get(f"/ho-so/{code}").text
    # Two days on the tenant's test clock: the gateway token expired, the desk asks for another.
    moved = httpx.post(
        sandbox.gateway + "/_sandbox/clock",
        json={"advance_seconds": 2 * 86400},
        headers={"X-API-Key": other["api_key"]},
        timeout=30,
    )
    assert moved.status_code == 200, moved.text
    page = desk.post(f"/ho-so/{code}/buoc/tiep-nhan")
    assert 'role="alert"' not in page.text, page.text
    assert status_on_dvcqg(sandbox, other["api_key"], code) == 2


def test_a_refused_sign_in_says_why_in_vietnamese_and_keeps_the_officer_where_he_was(sandbox, desk) -> None:
    other = another_tenant(sandbox)
    wrong = desk.post("/dang-nhap", data={"client_id": other["client_id"], "client_secret": "sai"})
    assert wrong.status_code == 401 and "Cổng kết nối không nhận thông tin đăng nhập này" in wrong.text
    assert "invalid_client" in wrong.text
    bad_key = desk.post("/dang-nhap", data={"api_key": "khong-co"})
    assert bad_key.status_code == 401 and "INVALID_API_KEY" in bad_key.text
    empty = desk.post("/dang-nhap", data={"client_id": other["client_id"]})
    assert empty.status_code == 400 and "Nhập khoá API, hoặc mã ứng dụng" in empty.text
    too_long = desk.post("/dang-nhap", data={"api_key": "k" * 300})
    assert too_long.status_code == 422 and "Dữ liệu nhập không hợp lệ: api_key" in too_long.text
    assert "vnsb_desk" not in desk.cookies and "tenant theo cấu hình" in desk.get("/").text


def test_signing_in_to_the_configured_tenant_is_the_configured_desk(sandbox, tenant_key, desk) -> None:
    reply = httpx.get(sandbox.gateway + "/_sandbox/tenants", headers={"X-API-Key": tenant_key}, timeout=30)
    own = reply.json()["tenants"][0]["tenant"]
    page = desk.post("/dang-nhap", data={"api_key": tenant_key})
    assert page.status_code == 200 and "tenant theo cấu hình" in page.text and own not in page.text
    assert "vnsb_desk" not in desk.cookies


def test_the_console_hands_a_tenant_over_but_other_sites_forms_are_refused(sandbox, desk) -> None:
    other = another_tenant(sandbox)
    code = file_on_portal(sandbox, other["api_key"])
    console = {"Origin": "http://127.0.0.1:8004"}
    form = {"client_id": other["client_id"], "client_secret": other["client_secret"], "next": f"/ho-so/{code}"}
    landed = desk.post("/dang-nhap", data=form, headers=console, follow_redirects=False)
    assert landed.status_code == 303 and landed.headers["location"] == f"/ho-so/{code}"
    assert code in desk.get(landed.headers["location"]).text
    refused = desk.post(f"/ho-so/{code}/buoc/tiep-nhan", headers=console)
    assert refused.status_code == 403 and "Biểu mẫu gửi từ trang web khác bị từ chối" in refused.text
    assert status_on_dvcqg(sandbox, other["api_key"], code) == 1
    assert desk.post(f"/ho-so/{code}/buoc/tiep-nhan", headers={"Origin": "http://testserver"}).status_code == 200
    elsewhere = desk.post("/dang-nhap", data={**form, "next": "//example.org/x"}, follow_redirects=False)
    assert elsewhere.headers["location"] == "/"


def test_a_reply_cut_by_a_fault_is_shown_as_a_refusal_not_a_crash(sandbox, tenant_key, desk) -> None:
    code = file_on_portal(sandbox, tenant_key)
    desk.post("/nhan-ho-so")
    desk.get(f"/ho-so/{code}")  # the DVCQG session is open
    rule = {"kind": "malformed", "api": "dvcqg", "method": "POST", "next_n": 1}
    added = httpx.post(sandbox.gateway + "/_sandbox/faults", json=rule, headers={"X-API-Key": tenant_key}, timeout=30)
    assert added.status_code in (200, 201), added.text
    page = desk.post(f"/ho-so/{code}/buoc/tiep-nhan")
    assert page.status_code == 200
    assert "DVCQG từ chối DongBoHoSoMC (mã HTTP 200): Trả lời không phải JSON hợp lệ" in page.text


def test_the_presenters_hand_off_names_the_desks_sign_in_and_the_dossier() -> None:
    from console.gateway import Operator
    from console.handoff import desk_hand_off

    op = Operator("t-1", "c-1", "s-1")
    hand_off = desk_hand_off("http://127.0.0.1:8005/", op, {"MaHoSo": "000.00.01.H22-261205-90001"})
    assert hand_off is not None
    assert hand_off.action == "http://127.0.0.1:8005/dang-nhap"
    assert hand_off.next == "/ho-so/000.00.01.H22-261205-90001"
    assert (hand_off.client_id, hand_off.client_secret) == ("c-1", "s-1")
    assert desk_hand_off("http://127.0.0.1:8005", op, None).next == "/"  # type: ignore[union-attr]
    assert desk_hand_off("", op, None) is None  # no desk configured
    assert desk_hand_off("http://127.0.0.1:8005", Operator("default"), None) is None  # an open tenant


def test_the_sign_in_page_which_takes_a_tenants_credentials_is_never_cached(tmp_path: Path) -> None:
    from tests.support import free_port

    settings = DeskSettings(gateway_url=f"http://127.0.0.1:{free_port()}", data_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        for reply in (client.get("/dang-nhap"), client.post("/dang-nhap", data={"client_id": "c"})):
            assert reply.status_code in (200, 400)
            assert reply.headers["cache-control"] == "no-store"
            assert reply.headers["referrer-policy"] == "no-referrer"
