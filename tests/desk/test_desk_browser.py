"""The officer's desk in a real browser (Debian's Chromium through Playwright) against ``vnsandbox up``:
an officer signs in to a tenant with its gateway credentials, takes a citizen's dossier from receipt
to result, sees a refused step explained in Vietnamese, and a trainer hands a scenario's tenant over
from the console's presenter mode. Every page is photographed at 390×844 and 1366×768
(``var/screenshots/desk-*``); any console error or failed request fails the test."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser import Problems, Tenant, shoot, watched_pages
from tests.desk.test_desk import file_on_portal
from tests.support import SandboxProcesses, new_tenant

pytestmark = [pytest.mark.multiprocess, pytest.mark.xdist_group("console-browser")]


def gateway_tenant(sandbox: SandboxProcesses) -> Tenant:
    reply = httpx.post(sandbox.gateway + "/_sandbox/tenants", json={"tenant": new_tenant()}, timeout=30)
    assert reply.status_code == 201, reply.text
    creds = reply.json()["consumer"]["credentials"]
    return Tenant(reply.json()["tenant"], creds["client_id"], creds["client_secret"], creds["api_key"], sandbox.gateway)


@pytest.fixture(scope="module")
def tenant(sandbox: SandboxProcesses) -> Tenant:
    return gateway_tenant(sandbox)


def status_on_dvcqg(sandbox: SandboxProcesses, tenant: Tenant, code: str) -> int:
    reply = httpx.get(
        f"{sandbox.gateway}/dvcqg/v1/_sandbox/dossiers/{code}", headers={"X-API-Key": tenant.api_key}, timeout=30
    )
    return int(reply.json()["data"]["TrangThaiHoSo"])


def sign_in(page: Any, problems: Problems, desk: str, tenant: Tenant) -> None:
    """The officer opens the desk (the configured tenant), then signs in to ``tenant``: a wrong
    secret is refused with the gateway's reason, the right one opens the tenant's queue."""
    page.goto(desk + "/")
    expect(page.locator("#desk-tenant")).to_contain_text("tenant theo cấu hình")
    page.get_by_role("link", name="Đăng nhập tenant khác").click()
    page.get_by_label("Mã ứng dụng (client_id)").fill(tenant.client_id)
    page.get_by_label("Khoá bí mật (client_secret)").fill("khong-dung")
    problems.expected_statuses.add(401)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.locator("#sign-in-error")).to_contain_text("Cổng kết nối không nhận thông tin đăng nhập này")
    shoot(page, "desk-sign-in-refused")
    # The refusal is a 401 reply, which Chromium also reports on its console: that one is expected.
    assert all("401" in seen and "/dang-nhap" in seen for seen in problems.take())
    page.get_by_label("Mã ứng dụng (client_id)").fill(tenant.client_id)
    page.get_by_label("Khoá bí mật (client_secret)").fill(tenant.client_secret)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.locator("#desk-tenant")).to_contain_text(tenant.name)
    expect(page.get_by_role("heading", name="Hồ sơ tiếp nhận")).to_be_visible()


def step(page: Any, button: str, status: str) -> None:
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.locator("#dossier-status")).to_have_text(status)
    expect(page.get_by_role("alert")).to_have_count(0)


def test_an_officer_signs_in_and_takes_a_dossier_from_receipt_to_result(
    page: Any, problems: Problems, sandbox: SandboxProcesses, tenant: Tenant
) -> None:
    code = file_on_portal(sandbox, tenant.api_key, "3.000347")  # đổi GPLX: 135.000 đồng
    desk = sandbox.url("desk")
    sign_in(page, problems, desk, tenant)
    page.get_by_role("button", name="Nhận hồ sơ mới từ Cổng DVCQG").click()
    expect(page.get_by_role("status")).to_contain_text("Đã nhận 1 sự kiện")
    shoot(page, "desk-queue")

    page.get_by_role("link", name=code).click()
    expect(page.locator("#dossier-status")).to_have_text("Mới đăng ký")
    shoot(page, "desk-dossier-new")
    step(page, "Tiếp nhận", "Được tiếp nhận")
    step(page, "Chuyển xử lý", "Đang xử lý")
    expect(page.get_by_label("Số tiền phí, lệ phí (đồng)")).to_have_value("135000")
    page.get_by_role("button", name="Yêu cầu nộp phí (PayGov)").click()
    expect(page.locator("#dossier-status")).to_have_text("Yêu cầu thực hiện nghĩa vụ tài chính")
    expect(page.get_by_role("link", name="trang thanh toán")).to_have_attribute("href", re.compile(r"/paygov/v1/"))
    shoot(page, "desk-fee-requested")
    page.reload()  # Post/Redirect/Get: a reload asks for the dossier again and posts nothing
    expect(page.locator("#dossier-status")).to_have_text("Yêu cầu thực hiện nghĩa vụ tài chính")
    expect(page.get_by_text("Đã tạo giao dịch")).to_have_count(0)
    step(page, "Xử lý xong", "Đã xử lý xong")
    step(page, "Trả kết quả", "Đã trả kết quả")
    expect(page.locator("table tbody tr", has_text="Trả kết quả cho công dân")).to_have_count(1)
    shoot(page, "desk-result-returned")
    assert status_on_dvcqg(sandbox, tenant, code) == 10

    # The tenant's queue is its own: signed out, the desk's configured tenant does not list it.
    page.get_by_role("link", name="← Danh sách hồ sơ").click()
    expect(page.get_by_role("link", name=code)).to_be_visible()
    page.get_by_role("button", name="Đăng xuất").click()
    expect(page.locator("#desk-tenant")).to_contain_text("tenant theo cấu hình")
    expect(page.get_by_role("link", name=code)).to_have_count(0)


def test_refused_steps_are_shown_in_vietnamese_and_kept_in_the_sync_error_log(
    browser: Any, sandbox: SandboxProcesses
) -> None:
    """A fault rule on DVCQG refuses the receipt; a stale page's step is an illegal transition."""
    other = gateway_tenant(sandbox)
    code = file_on_portal(sandbox, other.api_key)
    with watched_pages(browser, 2) as (watcher, (page, stale)):
        sign_in(page, watcher, sandbox.url("desk"), other)
        watcher.expected_statuses.clear()
        page.get_by_role("button", name="Nhận hồ sơ mới từ Cổng DVCQG").click()
        page.get_by_role("link", name=code).click()
        rule = {"kind": "error", "api": "dvcqg", "method": "POST", "next_n": 1, "params": {"status": 503}}
        reply = httpx.post(
            sandbox.gateway + "/_sandbox/faults", json=rule, headers={"X-API-Key": other.api_key}, timeout=30
        )
        assert reply.status_code in (200, 201), reply.text
        page.get_by_role("button", name="Tiếp nhận", exact=True).click()
        expect(page.get_by_role("alert")).to_have_text(
            "DVCQG từ chối DongBoHoSoMC (mã -1): Hệ thống đang bận hoặc gián đoạn, vui lòng thử lại sau"
        )
        expect(page.locator("#dossier-status")).to_have_text("Mới đăng ký")
        shoot(page, "desk-step-refused-by-fault")

        # A second tab still shows the dossier as new while the first moves it on.
        stale.goto(f"{sandbox.url('desk')}/ho-so/{code}")
        step(page, "Tiếp nhận", "Được tiếp nhận")
        step(page, "Chuyển xử lý", "Đang xử lý")
        stale.get_by_role("button", name="Từ chối tiếp nhận").click()
        expect(stale.get_by_role("alert")).to_contain_text("DVCQG từ chối CapNhatTienDoHoSoMC (mã 23)")
        expect(stale.locator("#dossier-status")).to_have_text("Đang xử lý")
        shoot(stale, "desk-step-refused-illegal")
        assert status_on_dvcqg(sandbox, other, code) == 4

        stale.get_by_role("link", name="← Danh sách hồ sơ").click()
        log = stale.get_by_role("table", name="Lỗi đồng bộ")
        expect(log.locator("tr", has_text="CapNhatTienDoHoSoMC")).to_have_count(1)
        expect(log.locator("tr", has_text="DongBoHoSoMC")).to_contain_text("Hệ thống đang bận")


def test_the_presenter_hands_a_scenarios_tenant_over_to_the_desk(browser: Any, sandbox: SandboxProcesses) -> None:
    """A trainer loads the birth certificate scenario, files as the citizen, then does the
    province's step on the desk: it opens signed in to the scenario's tenant, at the dossier."""
    with watched_pages(browser, 2) as (watcher, (citizen, presenter)):
        presenter.goto(sandbox.gateway + "/")
        presenter.locator("#load-birth-scenario").click()
        expect(presenter.locator("h1")).to_contain_text("Bước 1/")
        tenant = presenter.url.split("/console/t/")[1].split("/")[0]
        citizen.goto(sandbox.gateway + (presenter.locator("#open-step").get_attribute("href") or ""))
        citizen.get_by_role("link", name="Đăng nhập bằng VNeID").click()
        citizen.locator("#cccd").fill("033096674891")
        citizen.get_by_role("button", name="Đăng nhập", exact=True).click()
        presenter.locator("#next-step").click()
        citizen.goto(sandbox.gateway + (presenter.locator("#open-step").get_attribute("href") or ""))
        citizen.get_by_role("link", name=re.compile("Nộp hồ sơ: Cấp bản sao Trích lục hộ tịch")).click()
        citizen.get_by_role("button", name="Nộp hồ sơ").click()
        expect(citizen.locator("#dossier-status")).to_have_text("1. Mới đăng ký")
        code = citizen.url.rsplit("/", 1)[1]

        presenter.locator("#next-step").click()
        hand_off = presenter.locator("#desk-hand-off")
        assert code in (hand_off.locator("input[name=next]").get_attribute("value") or "")
        assert hand_off.get_attribute("action") == sandbox.url("desk") + "/dang-nhap"
        shoot(presenter, "desk-presenter-hand-off")
        with presenter.expect_popup() as popup:
            presenter.get_by_role("button", name=re.compile("Làm trên bàn làm việc một cửa")).click()
        desk = popup.value
        watcher.watch(desk)
        expect(desk).to_have_url(f"{sandbox.url('desk')}/ho-so/{code}")
        expect(desk.locator("#desk-tenant")).to_contain_text(tenant)
        expect(desk.locator("#dossier-status")).to_have_text("Mới đăng ký")
        step(desk, "Tiếp nhận", "Được tiếp nhận")
        step(desk, "Chuyển xử lý", "Đang xử lý")
        expect(desk.get_by_label("Số tiền phí, lệ phí (đồng)")).to_have_value("8000")
        desk.get_by_role("button", name="Yêu cầu nộp phí (PayGov)").click()
        expect(desk.locator("#dossier-status")).to_have_text("Yêu cầu thực hiện nghĩa vụ tài chính")
        shoot(desk, "desk-after-hand-off")

        presenter.reload()
        expect(presenter.locator("#presenter-status")).to_have_text("6. Yêu cầu thực hiện nghĩa vụ tài chính")
        citizen.reload()
        expect(citizen.locator("#dossier-status")).to_have_text("6. Yêu cầu thực hiện nghĩa vụ tài chính")
