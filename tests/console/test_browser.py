"""The console in a real browser (Chromium through Playwright) against ``vnsandbox up``: the
operator creates a tenant, watches the message flow, redelivers a webhook, toggles faults, moves
the test clock, checks tokens and signs in; every page is photographed at 390×844 and 1366×768
(``var/screenshots/``) and any console error or failed request fails the test."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from gateway.settings import DEV_ADMIN_KEY
from tests.browser import VIEWPORTS, Problems, Tenant, shoot, watched_pages
from tests.receiver import Receiver
from tests.support import SandboxProcesses, wait_for

pytestmark = [pytest.mark.multiprocess, pytest.mark.xdist_group("console-browser")]
DEV_UNIT = "000.00.01.H22"


@pytest.fixture(scope="module")
def tenant(page: Any, sandbox: SandboxProcesses) -> Tenant:
    """A tenant created in the console, as a trainer would: open the gateway, **Tạo tenant**."""
    page.goto(sandbox.gateway + "/")
    expect(page).to_have_url(re.compile(r"/console/$"))
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    shoot(page, "home")
    page.get_by_label("Mô tả (không bắt buộc)").fill("Lớp tập huấn Quảng Nam")
    page.get_by_role("button", name="Tạo tenant").click()
    name = page.locator("h1 code").inner_text()
    client_id = page.locator("#client-id").inner_text()
    secret = page.locator("#client-secret").inner_text()
    shoot(page, "tenant-created")
    api_key = page.locator("dd code").nth(2).inner_text()
    return Tenant(name, client_id, secret, api_key, sandbox.gateway)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def open_tab(page: Any, tenant: Tenant, tab: str) -> None:
    page.goto(f"{tenant.gateway}/console/t/{tenant.name}/")
    page.get_by_role("navigation", name=f"Tenant {tenant.name}").get_by_role("link", name=tab).click()


def test_a_province_call_is_an_arrow_that_opens_its_redacted_request_and_reply(page: Any, tenant: Tenant) -> None:
    assert tenant.call("GET", "/vneid/v1/.well-known/openid-configuration").status_code == 200
    page.goto(f"{tenant.gateway}/console/t/{tenant.name}/")
    arrow = page.locator("details.call", has_text="/vneid/v1/.well-known/openid-configuration").first
    arrow.locator("summary").click()
    expect(arrow.locator("pre").first).to_contain_text("x-api-key: ***")
    expect(arrow.locator("pre").nth(1)).to_contain_text("HTTP 200")
    assert tenant.api_key not in page.content()
    shoot(page, "journal")


def test_the_diagram_shows_new_calls_while_the_page_stays_open(page: Any, tenant: Tenant) -> None:
    page.goto(f"{tenant.gateway}/console/t/{tenant.name}/")
    assert tenant.call("GET", "/paygov/v1/").status_code == 200
    expect(page.locator("details.call", has_text="GET /paygov/v1/")).to_have_count(1, timeout=15_000)


def test_a_webhook_delivered_to_the_province_is_sent_again_from_the_deliveries_page(
    page: Any, tenant: Tenant, receiver: Receiver
) -> None:
    unit = tenant.call("PATCH", f"/dvcqg/v1/_sandbox/units/{DEV_UNIT}", json={"webhook_url": receiver.url + "/hook"})
    assert unit.status_code == 200, unit.text
    filing = {"MaDonVi": DEV_UNIT, "MaTTHC": "1.001193", "ChuHoSo": "Lê Thị Cúc", "SoGiayToChuHoSo": "001190054321"}
    filing |= {"SoDienThoai": "0987654321", "Email": "cuc@example.vn"}
    filed = tenant.call("POST", "/dvcqg/v1/_sandbox/citizen-dossiers", json=filing)
    assert filed.status_code == 200, filed.text
    wait_for(lambda: len(receiver.received) == 1, what="the webhook")
    open_tab(page, tenant, "Lần gửi")
    delivery = page.locator("li.delivery", has_text="dossier.filed")
    expect(delivery.locator(".badge")).to_have_text("đã gửi")
    shoot(page, "deliveries")
    delivery.get_by_role("button", name=re.compile("^Gửi lại")).click()
    wait_for(lambda: len(receiver.received) == 2, what="the redelivered webhook")
    assert receiver.received[1].json()["event_id"] == receiver.received[0].json()["event_id"]
    page.goto(f"{tenant.gateway}/console/t/{tenant.name}/")
    expect(page.locator("details.delivery", has_text="dossier.filed")).to_have_count(1)


def test_vneid_down_is_a_toggle_that_makes_vneid_answer_503_until_it_is_turned_off(page: Any, tenant: Tenant) -> None:
    open_tab(page, tenant, "Sự cố và công tắc")
    toggle = page.get_by_role("switch", name=re.compile("VNeID ngừng hoạt động"))
    expect(toggle).to_have_attribute("aria-checked", "false")
    toggle.click()
    expect(page.get_by_role("switch", name=re.compile("VNeID ngừng hoạt động"))).to_have_attribute(
        "aria-checked", "true"
    )
    assert tenant.call("GET", "/vneid/v1/.well-known/openid-configuration").status_code == 503
    shoot(page, "faults")
    page.get_by_role("switch", name=re.compile("VNeID ngừng hoạt động")).click()
    expect(page.get_by_role("switch", name=re.compile("VNeID ngừng hoạt động"))).to_have_attribute(
        "aria-checked", "false"
    )
    assert tenant.call("GET", "/vneid/v1/.well-known/openid-configuration").status_code == 200


def test_a_platform_switch_is_turned_on_and_off_from_its_toggle(page: Any, tenant: Tenant) -> None:
    open_tab(page, tenant, "Sự cố và công tắc")
    page.locator("#switch-dvcqg-sync_drop").click()
    expect(page.locator("#switch-dvcqg-sync_drop")).to_have_attribute("aria-checked", "true")
    active = tenant.call("GET", "/dvcqg/v1/_sandbox/switches").json()["active"]
    assert [s["name"] for s in active] == ["sync_drop"]
    page.locator("#switch-dvcqg-sync_drop").click()
    expect(page.locator("#switch-dvcqg-sync_drop")).to_have_attribute("aria-checked", "false")
    assert tenant.call("GET", "/dvcqg/v1/_sandbox/switches").json()["active"] == []


def test_paygov_slow_takes_the_operators_delay_and_refuses_a_bad_one_in_vietnamese(
    page: Any, problems: Problems, tenant: Tenant
) -> None:
    open_tab(page, tenant, "Sự cố và công tắc")
    problems.expected_statuses.add(400)
    page.get_by_label("Độ trễ (giây)").fill("năm")
    page.locator("#preset-paygov-slow").click()
    expect(page.locator("#preset-paygov-slow-error")).to_have_text(
        "Độ trễ (giây) phải là số từ 0,1 đến 120 (INVALID_PARAM)"
    )
    expect(page.locator("#preset-paygov-slow")).to_have_attribute("aria-checked", "false")
    shoot(page, "faults-refused-param")
    assert all("400" in item for item in problems.take())  # the refused form's page, and only it
    problems.expected_statuses.clear()
    page.get_by_label("Độ trễ (giây)").fill("0,2")
    page.locator("#preset-paygov-slow-probability").fill("50")
    page.locator("#preset-paygov-slow").click()
    expect(page.locator("#preset-paygov-slow")).to_have_attribute("aria-checked", "true")
    expect(page.locator("#preset-paygov-slow-settings")).to_have_text("Độ trễ (giây): 0,2 · Xác suất (%): 50")
    rules = [r for r in tenant.call("GET", "/_sandbox/faults").json()["rules"] if r["api"] == "paygov"]
    assert [(r["kind"], r["params"], r["probability"]) for r in rules] == [("latency", {"ms": 200}, 0.5)]
    shoot(page, "faults-params")
    page.locator("#preset-paygov-slow").click()
    expect(page.locator("#preset-paygov-slow")).to_have_attribute("aria-checked", "false")
    assert [r for r in tenant.call("GET", "/_sandbox/faults").json()["rules"] if r["api"] == "paygov"] == []


def test_a_platform_switch_is_turned_on_with_its_declared_parameter(page: Any, tenant: Tenant) -> None:
    open_tab(page, tenant, "Sự cố và công tắc")
    page.locator("#switch-dvcqg-sync_slow-delay_ms").fill("10")
    page.locator("#switch-dvcqg-sync_slow").click()
    expect(page.locator("#switch-dvcqg-sync_slow")).to_have_attribute("aria-checked", "true")
    expect(page.locator("#switch-dvcqg-sync_slow-settings")).to_contain_text("delay_ms: 10")
    active = tenant.call("GET", "/dvcqg/v1/_sandbox/switches").json()["active"]
    assert [(s["name"], s["params"]) for s in active] == [("sync_slow", {"delay_ms": 10.0})]
    page.locator("#switch-dvcqg-sync_slow").click()
    expect(page.locator("#switch-dvcqg-sync_slow")).to_have_attribute("aria-checked", "false")


def test_the_scorecard_shows_each_month_and_downloads_as_a_pdf(page: Any, tenant: Tenant) -> None:
    import io
    from datetime import UTC, datetime, timedelta

    from pypdf import PdfReader

    from console.scenario import province_calls
    from console.trend import last_months

    now = datetime.now(UTC)
    for when in (now, now - timedelta(days=35)):  # three dossiers settled on time, twice a month apart
        for call in province_calls("seed_on_time_history", "", when):
            r = tenant.call(
                "POST",
                "/dvcqg/v1/api/service",
                json=call.body(),
                headers={"Authorization": "Bearer dvcqg-dev-unit-key", "MaDonVi": DEV_UNIT},
            )
            assert r.status_code == 200 and r.json()["error_code"] == 0, r.text
    open_tab(page, tenant, "Bộ chỉ số 766")
    months = last_months(now)
    chart = page.locator("#trend-2-1 svg")
    expect(chart).to_have_attribute("aria-label", re.compile(rf"^Chỉ số 2.1 theo tháng: {months[0].label}: "))
    expect(chart).to_have_attribute("aria-label", re.compile(r": 100%"))
    expect(page.locator("#trend-2-1 svg text.month")).to_have_count(6)
    page.locator("#trend-2-1 summary").click()
    expect(page.locator("#trend-2-1 table tbody tr")).to_have_count(6)
    shoot(page, "scorecard-trend")

    page.locator("#tu").fill(months[-3].value)
    page.get_by_role("button", name="Xem").click()
    expect(page.locator("#trend-2-1 svg text.month")).to_have_count(3)
    with page.expect_download() as download:
        page.get_by_role("link", name="Tải PDF").click()
    pdf = download.value.path().read_bytes()
    assert pdf.startswith(b"%PDF-")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Tỷ lệ hồ sơ giải quyết đúng hạn" in text and "Thời gian giải quyết trung bình theo thủ tục" in text
    assert " ".join(m.label for m in months[-3:]) in text
    expect(page.get_by_role("button", name="In / lưu PDF")).to_be_visible()


def test_the_test_clock_moves_a_day_forward_and_back_to_real_time(page: Any, tenant: Tenant) -> None:
    page.goto(f"{tenant.gateway}/console/t/{tenant.name}/")
    page.get_by_role("button", name="+1 ngày").click()
    expect(page.locator(".clock .offset")).to_have_text("(lệch +1 ngày)")
    assert tenant.call("GET", "/_sandbox/clock").json()["offset_seconds"] == 86400
    page.get_by_role("button", name="+1 giờ").click()
    expect(page.locator(".clock .offset")).to_have_text("(lệch +1 ngày 1 giờ)")
    page.get_by_role("button", name="Về giờ thực").click()
    expect(page.locator(".clock .offset")).to_have_count(0)
    assert tenant.call("GET", "/_sandbox/clock").json()["offset_seconds"] == 0


def _id_token(tenant: Tenant) -> str:
    """A VNeID ID token of this tenant, by the authorization code flow (headless login)."""
    meta = tenant.call("GET", "/vneid/v1/.well-known/openid-configuration").json()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": "vnsandbox-dev",
        "redirect_uri": "http://localhost:3000/callback",
        "scope": "openid profile",
        "state": "s1",
        "nonce": "n1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": "033096674891",
    }
    r = httpx.get(meta["authorization_endpoint"], params=params, follow_redirects=False, timeout=30)
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": params["redirect_uri"]}
    token = httpx.post(
        meta["token_endpoint"],
        data=form | {"code_verifier": verifier},
        auth=("vnsandbox-dev", "vnsandbox-dev-secret"),
        timeout=30,
    )
    assert token.status_code == 200, token.text
    id_token: str = token.json()["id_token"]
    return id_token


def test_the_token_debugger_checks_a_vneid_id_token_against_the_tenants_jwks(page: Any, tenant: Tenant) -> None:
    open_tab(page, tenant, "Gỡ lỗi token")
    page.get_by_label("Dán token (JWT)").fill(_id_token(tenant))
    page.get_by_role("button", name="Kiểm tra").click()
    expect(page.locator("#signature")).to_have_text("Chữ ký hợp lệ")
    expect(page.locator("#expiry")).to_contain_text("Còn hạn")
    shoot(page, "token")


def test_the_token_debugger_judges_expiry_on_the_tenant_clock(page: Any, tenant: Tenant) -> None:
    token = _id_token(tenant)
    open_tab(page, tenant, "Gỡ lỗi token")
    page.get_by_role("button", name="+1 ngày").click()
    page.get_by_label("Dán token (JWT)").fill(token)
    page.get_by_role("button", name="Kiểm tra").click()
    expect(page.locator("#expiry")).to_contain_text("Đã hết hạn")
    page.get_by_role("button", name="Về giờ thực").click()
    # The button posts and the reply redirects back here: wait for it, or the next test's first
    # navigation aborts the redirected GET.
    expect(page.locator(".clock .offset")).to_have_count(0)


def test_english_is_a_toggle_in_the_header(page: Any, tenant: Tenant) -> None:
    page.goto(f"{tenant.gateway}/console/t/{tenant.name}/deliveries")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Deliveries")
    shoot(page, "deliveries-en")
    page.get_by_role("link", name="Tiếng Việt").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lần gửi")


def test_an_operator_signs_in_with_the_tenants_credentials(browser: Any, page: Any, tenant: Tenant) -> None:
    context = browser.new_context(viewport=VIEWPORTS[0])
    fresh = context.new_page()
    try:
        fresh.goto(f"{tenant.gateway}/console/t/{tenant.name}/")
        expect(fresh).to_have_url(re.compile(r"/console/login\?tenant="))
        shoot(fresh, "login")
        fresh.get_by_label("Mã ứng dụng (client_id)").fill(tenant.client_id)
        fresh.get_by_label("Khóa bí mật (client_secret)").fill(tenant.client_secret)
        fresh.get_by_role("button", name="Đăng nhập").click()
        expect(fresh).to_have_url(re.compile(rf"/console/t/{tenant.name}/$"))
        expect(fresh.get_by_role("heading", level=1)).to_have_text("Sơ đồ luồng thông điệp")
    finally:
        context.close()


def test_the_keyboard_reaches_the_skip_link_first_and_it_leads_to_the_content(page: Any, tenant: Tenant) -> None:
    page.goto(f"{tenant.gateway}/console/t/{tenant.name}/faults")
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()


def test_a_citizen_logs_in_with_vneid_files_a_dossier_with_an_attachment_and_withdraws_it(
    page: Any, tenant: Tenant
) -> None:
    open_tab(page, tenant, "Cổng công dân")
    shoot(page, "citizen-portal")
    page.get_by_role("link", name="Đăng nhập bằng VNeID").click()
    expect(page).to_have_url(re.compile(r"/vneid/v1/oauth2/authorize"))  # VNeID's own login page
    shoot(page, "vneid-login")
    page.locator("#cccd").fill("033096674891")
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    expect(page.locator("#citizen-name")).not_to_be_empty()
    page.get_by_label("Tìm thủ tục hành chính").fill("khai sinh")
    page.get_by_role("button", name="Tìm", exact=True).click()
    shoot(page, "citizen-search")
    page.get_by_role("link", name="Nộp hồ sơ: Thủ tục đăng ký khai sinh", exact=True).click()
    expect(page.get_by_label("Số định danh cá nhân")).to_have_value("033096674891")
    page.get_by_label("Tài liệu đính kèm").set_input_files(
        [{"name": "to-khai-khai-sinh.txt", "mimeType": "text/plain", "buffer": "Tờ khai".encode()}]
    )
    shoot(page, "citizen-file")
    page.get_by_role("button", name="Nộp hồ sơ").click()
    expect(page.locator("#dossier-status")).to_have_text("1. Mới đăng ký")
    code = page.locator("h1 code").inner_text()
    dossier = tenant.call("GET", f"/dvcqg/v1/_sandbox/dossiers/{code}").json()["data"]
    assert dossier["SoGiayToChuHoSo"] == "033096674891"
    link = dossier["TaiLieuNop"][0]["DuongDanTaiLieu"]
    assert httpx.get(link, timeout=30).content == "Tờ khai".encode()
    shoot(page, "citizen-dossier")
    page.get_by_label("Lý do").fill("Nộp nhầm thủ tục")
    page.get_by_role("button", name="Rút hồ sơ").click()
    expect(page.locator("#dossier-status")).to_have_text("7. Công dân yêu cầu rút hồ sơ")
    expect(page.locator("ol.history li")).to_have_count(2)


def follow(page: Any, presenter: Any, gateway: str) -> None:
    """The trainer opens the presenter's link of this step in the citizen's tab."""
    page.goto(gateway + (presenter.locator("#open-step").get_attribute("href") or ""))


def test_the_birth_certificate_scenario_runs_from_login_to_result_in_presenter_mode(
    browser: Any, sandbox: SandboxProcesses
) -> None:
    """One click loads "Khai sinh trực tuyến có thanh toán" into a fresh tenant; the trainer follows
    the presenter's steps without typing a URL: VNeID login, filing, the province's decisions, payment
    on PayGov's page, the electronic result, and the message flow."""
    with watched_pages(browser, 2, locale=None) as (_, (page, presenter)):
        presenter.goto(sandbox.gateway + "/console/kich-ban")
        shoot(presenter, "scenarios")
        presenter.goto(sandbox.gateway + "/")
        presenter.locator("#load-birth-scenario").click()
        expect(presenter.locator("h1")).to_contain_text("Bước 1/7")
        shoot(presenter, "presenter")
        follow(page, presenter, sandbox.gateway)
        page.get_by_role("link", name="Đăng nhập bằng VNeID").click()
        page.locator("#cccd").fill("033096674891")
        page.get_by_role("button", name="Đăng nhập", exact=True).click()
        expect(page.locator("#citizen-name")).not_to_be_empty()

        presenter.locator("#next-step").click()
        follow(page, presenter, sandbox.gateway)
        page.get_by_role("link", name=re.compile("Nộp hồ sơ: Cấp bản sao Trích lục hộ tịch")).click()
        page.get_by_role("button", name="Nộp hồ sơ").click()
        expect(page.locator("#dossier-status")).to_have_text("1. Mới đăng ký")
        dossier_url = page.url

        presenter.locator("#next-step").click()
        presenter.locator("#run-step").click()
        expect(presenter.locator("#step-done")).to_be_visible()
        expect(presenter.locator("#presenter-status")).to_have_text("6. Yêu cầu thực hiện nghĩa vụ tài chính")
        shoot(presenter, "presenter-province-step")

        presenter.locator("#next-step").click()
        page.goto(dossier_url)
        expect(page.locator("#dossier-status")).to_have_text("6. Yêu cầu thực hiện nghĩa vụ tài chính")
        page.get_by_role("button", name="Thanh toán qua PayGov").click()
        expect(page).to_have_url(re.compile(r"/pay/t-"))  # PayGov's own page
        shoot(page, "paygov-page")
        page.locator("input[name=MaNganHang]").first.check()
        page.get_by_role("button", name="Thanh toán thành công").click()
        code = dossier_url.rsplit("/", 1)[1]
        tenant = dossier_url.split("/console/t/")[1].split("/")[0]
        admin = {"X-Sandbox-Admin-Key": DEV_ADMIN_KEY, "X-Sandbox-Tenant": tenant}
        wait_for(
            lambda: (
                httpx.get(f"{sandbox.gateway}/dvcqg/v1/_sandbox/dossiers/{code}", headers=admin)
                .json()["data"]
                .get("DuocThanhToanTrucTuyen")
                == 1
            ),
            timeout=30,
            what="the payment reported to the portal",
        )

        presenter.locator("#next-step").click()
        presenter.locator("#run-step").click()
        expect(presenter.locator("#presenter-status")).to_have_text("10. Đã trả kết quả")

        presenter.locator("#next-step").click()
        page.goto(dossier_url)
        expect(page.locator("#dossier-status")).to_have_text("10. Đã trả kết quả")
        result = page.locator("#results a").get_attribute("href") or ""
        assert "BẢN SAO GIẤY KHAI SINH" in httpx.get(result, timeout=30).text
        shoot(page, "citizen-result")

        presenter.locator("#next-step").click()
        presenter.locator("#open-step").click()
        # The portal opens the payment service to service (dossier → payment), not through the gateway.
        for api in ("/vneid/v1/", "/dvcqg/v1/api/service"):
            expect(presenter.locator("details.call", has_text=api).first).to_be_attached()
        shoot(presenter, "scenario-journal")

        presenter.get_by_role("link", name="Bộ chỉ số 766").click()
        expect(presenter.locator("li.indicator")).to_have_count(10)
        expect(presenter.locator("#indicator-2-2")).to_contain_text("2.000635")
        with presenter.expect_download() as download:
            presenter.get_by_role("link", name="Tải CSV").click()
        assert "ChiSo" in download.value.path().read_text(encoding="utf-8")
        shoot(presenter, "scorecard")


def _province_update(tenant: Tenant, record: dict[str, Any]) -> None:
    """The province's system (standing in for the officer's desk) syncs a change as the development unit."""
    r = tenant.call(
        "POST",
        "/dvcqg/v1/api/service",
        json={"service": "DongBoHoSoMC", "isUpdating": "True", "data": [record]},
        headers={"Authorization": "Bearer dvcqg-dev-unit-key", "MaDonVi": DEV_UNIT},
    )
    assert r.status_code == 200 and r.json()["error_code"] == 0, r.text


def test_a_citizen_answers_a_supplement_request_with_a_file(page: Any, tenant: Tenant) -> None:
    from datetime import UTC, datetime, timedelta

    from console.scenario import wire

    open_tab(page, tenant, "Cổng công dân")
    if page.locator("#vneid-login").count():
        page.locator("#vneid-login").click()
        page.locator("#cccd").fill("033096674891")
        page.get_by_role("button", name="Đăng nhập", exact=True).click()
    page.get_by_label("Tìm thủ tục hành chính").fill("khai sinh")
    page.get_by_role("button", name="Tìm", exact=True).click()
    page.get_by_role("link", name="Nộp hồ sơ: Thủ tục đăng ký khai sinh", exact=True).click()
    page.get_by_role("button", name="Nộp hồ sơ").click()
    code = page.locator("h1 code").inner_text()
    now = datetime.now(UTC)
    _province_update(
        tenant,
        {"MaHoSo": code, "TrangThaiHoSo": 2, "NgayTiepNhan": wire(now), "NgayHenTra": wire(now + timedelta(days=3))},
    )
    _province_update(tenant, {"MaHoSo": code, "TrangThaiHoSo": 4})
    _province_update(tenant, {"MaHoSo": code, "TrangThaiHoSo": 5})
    page.reload()
    expect(page.locator("#dossier-status")).to_have_text("5. Yêu cầu bổ sung giấy tờ")
    shoot(page, "citizen-supplement")
    page.get_by_label("Tài liệu đính kèm").set_input_files(
        [{"name": "giay-chung-sinh.txt", "mimeType": "text/plain", "buffer": b"giay chung sinh"}]
    )
    page.get_by_role("button", name="Gửi bổ sung").click()
    expect(page.locator("ol.history li").last).to_contain_text("5. Yêu cầu bổ sung giấy tờ")
    history = tenant.call("GET", f"/dvcqg/v1/_sandbox/dossiers/{code}").json()["data"]["LichSu"]
    assert any("giay-chung-sinh.txt" in str(h.get("data")) for h in history)
