"""The training scenarios beyond the birth certificate, walked end to end in presenter mode in a
real browser (Chromium through Playwright) against ``vnsandbox up``, once on a 390×844 phone and
once on a 1366×768 projector: the overdue dossier and the apology on the 766 scorecard, VNeID
going down while a citizen logs in, and a payment refused for insufficient balance then paid
again. Each step is photographed into ``var/screenshots/``; any console error, page error,
failed request or unexpected error reply fails the test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from gateway.settings import DEV_ADMIN_KEY
from tests.browser import SCREENSHOTS, VIEWPORTS, Problems, watched_pages
from tests.support import SandboxProcesses, wait_for

pytestmark = [pytest.mark.multiprocess, pytest.mark.xdist_group("console-browser")]
CITIZEN = "033096674891"
BIRTH_COPY = re.compile("Nộp hồ sơ: Cấp bản sao Trích lục hộ tịch")


@dataclass
class Walk:
    """One scenario walked at one screen size: the presenter's tab, the citizen's tab, the
    tenant the scenario was loaded into."""

    presenter: Any
    citizen: Any
    watcher: Problems
    gateway: str
    size: dict[str, int]
    tenant: str = ""

    def snap(self, page: Any, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(SCREENSHOTS / f"{name}-{self.size['width']}x{self.size['height']}.png"), full_page=True
        )

    def load(self, name: str, steps: int) -> None:
        """One click on the scenarios page: a fresh tenant, the presenter at step 1."""
        self.presenter.goto(self.gateway + "/console/kich-ban")
        self.presenter.locator(f"#load-{name}").click()
        expect(self.presenter.locator("h1")).to_contain_text(f"Bước 1/{steps}")
        self.tenant = self.presenter.url.split("/console/t/")[1].split("/")[0]

    def next(self, number: int, who: str) -> None:
        self.presenter.locator("#next-step").click()
        expect(self.presenter.locator("h1")).to_contain_text(f"Bước {number}/")
        expect(self.presenter.locator("h1 .badge")).to_have_text(who)

    def run(self) -> None:
        """The presenter's button of a province or operator step."""
        self.presenter.locator("#run-step").click()
        expect(self.presenter.locator("#step-done")).to_be_visible()

    def follow(self) -> None:
        """The trainer opens the step's link in the citizen's (or operator's) tab."""
        self.citizen.goto(self.gateway + (self.presenter.locator("#open-step").get_attribute("href") or ""))

    def admin(self, method: str, path: str) -> Any:
        headers = {"X-Sandbox-Admin-Key": DEV_ADMIN_KEY, "X-Sandbox-Tenant": self.tenant}
        r = httpx.request(method, self.gateway + path, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def log_in(self) -> None:
        self.citizen.get_by_role("link", name="Đăng nhập bằng VNeID").click()
        expect(self.citizen).to_have_url(re.compile(r"/vneid/v1/oauth2/authorize"))
        self.citizen.locator("#cccd").fill(CITIZEN)
        self.citizen.get_by_role("button", name="Đăng nhập", exact=True).click()
        expect(self.citizen.locator("#citizen-name")).not_to_be_empty()

    def file_birth_copy(self) -> str:
        """Search the birth certificate copy and file it; the dossier's code."""
        self.citizen.get_by_label("Tìm thủ tục hành chính").fill("bản sao giấy khai sinh")
        self.citizen.get_by_role("button", name="Tìm", exact=True).click()
        self.citizen.get_by_role("link", name=BIRTH_COPY).click()
        self.citizen.get_by_role("button", name="Nộp hồ sơ").click()
        expect(self.citizen.locator("#dossier-status")).to_have_text("1. Mới đăng ký")
        return str(self.citizen.locator("h1 code").inner_text())


@pytest.fixture(params=VIEWPORTS, ids=lambda s: f"{s['width']}x{s['height']}")
def walk(request: pytest.FixtureRequest, browser: Any, sandbox: SandboxProcesses) -> Iterator[Walk]:
    with watched_pages(browser, 2, request.param) as (watcher, (presenter, citizen)):
        yield Walk(presenter, citizen, watcher, sandbox.gateway, request.param)


def indicator(walk: Walk, code: str) -> Any:
    return walk.citizen.locator(f"#indicator-{code.replace('.', '-')}")


def test_an_overdue_dossier_gets_an_apology_and_pulls_the_on_time_indicator_down(walk: Walk) -> None:
    walk.load("ho-so-qua-han", 8)
    expect(walk.presenter.locator("h1 .badge")).to_have_text("Tỉnh")
    walk.run()
    walk.snap(walk.presenter, "scenario-overdue-history")
    history = walk.admin("GET", "/dvcqg/v1/_sandbox/scorecard?MaDonVi=000.00.01.H22")["data"]
    on_time = next(i for i in history["ChiSo"] if i["ChiSo"] == "2.1")
    assert (on_time["TuSo"], on_time["MauSo"]) == (3, 3)

    walk.next(2, "Người vận hành")
    walk.follow()
    expect(indicator(walk, "2.1")).to_contain_text("3 / 3 = 100")

    walk.next(3, "Công dân")
    walk.follow()
    walk.log_in()
    code = walk.file_birth_copy()

    walk.next(4, "Tỉnh")
    walk.run()
    expect(walk.presenter.locator("#presenter-status")).to_have_text("4. Đang xử lý")

    walk.next(5, "Người vận hành")
    walk.run()
    assert walk.admin("GET", "/_sandbox/clock")["offset_seconds"] == 2 * 86400
    walk.snap(walk.presenter, "scenario-overdue-clock")

    walk.next(6, "Tỉnh")
    walk.run()
    progress = [h for h in walk.admin("GET", f"/dvcqg/v1/_sandbox/dossiers/{code}")["data"]["LichSu"]]
    apology = [h for h in progress if h.get("kind") == "progress"]
    assert len(apology) == 1 and apology[0]["outcome"] == "applied", progress

    walk.next(7, "Công dân")
    walk.follow()
    expect(walk.citizen.locator("ol.history")).to_contain_text("Phiếu xin lỗi và hẹn lại ngày trả kết quả")
    expect(walk.citizen.locator("#dossier-status")).to_have_text("4. Đang xử lý")
    walk.snap(walk.citizen, "scenario-overdue-apology")

    walk.next(8, "Người vận hành")
    walk.follow()
    on_time_card = indicator(walk, "2.1")
    expect(on_time_card).to_contain_text("3 / 4 = 75")
    on_time_card.locator("summary", has_text="Hồ sơ kéo giảm").click()
    expect(on_time_card.locator("li", has_text=code)).to_contain_text("Quá hạn 24")
    walk.snap(walk.citizen, "scenario-overdue-scorecard")


def test_vneid_going_down_while_a_citizen_logs_in_is_a_clear_message_then_she_logs_in_and_files(walk: Walk) -> None:
    walk.load("vneid-gian-doan", 7)
    walk.follow()
    expect(walk.citizen.get_by_role("link", name="Đăng nhập bằng VNeID")).to_be_visible()

    walk.next(2, "Người vận hành")
    walk.run()
    walk.snap(walk.presenter, "scenario-vneid-down")
    rules = walk.admin("GET", "/_sandbox/faults")["rules"]
    assert [(r["kind"], r["api"]) for r in rules] == [("error", "vneid")]

    walk.next(3, "Công dân")
    walk.follow()
    walk.watcher.expected_statuses.add(503)  # the portal's own page says VNeID did not answer
    walk.citizen.get_by_role("link", name="Đăng nhập bằng VNeID").click()
    message = walk.citizen.locator("#portal-error")
    expect(message).to_contain_text("VNeID đang gián đoạn nên chưa đăng nhập được")
    expect(message).to_contain_text("Vui lòng thử lại sau")
    page_text = walk.citizen.locator("main").inner_text()
    assert "Traceback" not in page_text and "{" not in page_text and "GATEWAY_REFUSED" not in page_text
    expect(walk.citizen.get_by_role("link", name="Đăng nhập bằng VNeID")).to_be_visible()  # try again from here
    walk.snap(walk.citizen, "scenario-vneid-portal-error")
    walk.watcher.take()
    walk.watcher.expected_statuses.clear()

    walk.next(4, "Người vận hành")
    walk.run()
    assert walk.admin("GET", "/_sandbox/faults")["rules"] == []

    walk.next(5, "Công dân")
    walk.follow()
    # VNeID goes down again while the citizen is on its own login page: the next navigation is
    # the gateway's Vietnamese page with the code, not its JSON; «Thử lại» goes back to the page.
    walk.citizen.get_by_role("link", name="Đăng nhập bằng VNeID").click()
    expect(walk.citizen).to_have_url(re.compile(r"/vneid/v1/oauth2/authorize"))
    admin = {"X-Sandbox-Admin-Key": DEV_ADMIN_KEY, "X-Sandbox-Tenant": walk.tenant}
    rule = {"kind": "error", "api": "vneid", "params": {"status": 503}}
    assert httpx.post(walk.gateway + "/_sandbox/faults", json=rule, headers=admin, timeout=30).status_code == 201
    walk.watcher.expected_statuses.add(503)
    walk.citizen.locator("#cccd").fill(CITIZEN)
    walk.citizen.get_by_role("button", name="Đăng nhập", exact=True).click()
    expect(walk.citizen.locator("h1")).to_have_text("Dịch vụ tạm thời gián đoạn")
    expect(walk.citizen.locator("main")).to_contain_text("temporarily_unavailable")
    expect(walk.citizen.locator("main")).to_contain_text("HTTP 503")
    assert "error_description" not in walk.citizen.content()
    walk.snap(walk.citizen, "scenario-vneid-down-on-its-page")
    walk.watcher.take()  # the 503 itself, which the browser also logs
    walk.watcher.expected_statuses.clear()
    walk.admin("DELETE", "/_sandbox/faults")
    walk.citizen.get_by_role("link", name="Thử lại").click()
    expect(walk.citizen).to_have_url(re.compile(r"/vneid/v1/oauth2/authorize"))
    walk.citizen.locator("#cccd").fill(CITIZEN)
    walk.citizen.get_by_role("button", name="Đăng nhập", exact=True).click()
    expect(walk.citizen.locator("#citizen-name")).not_to_be_empty()

    walk.next(6, "Công dân")
    walk.follow()
    walk.citizen.get_by_role("link", name=BIRTH_COPY).click()
    walk.citizen.get_by_role("button", name="Nộp hồ sơ").click()
    expect(walk.citizen.locator("#dossier-status")).to_have_text("1. Mới đăng ký")
    walk.presenter.reload()
    expect(walk.presenter.locator("#presenter-status")).to_have_text("1. Mới đăng ký")

    walk.next(7, "Người vận hành")
    walk.presenter.locator("#open-step").click()
    refused = walk.presenter.locator("details.call.bad", has_text="/vneid/v1/")
    expect(refused.first).to_be_attached()
    walk.snap(walk.presenter, "scenario-vneid-journal")


def test_a_payment_refused_for_insufficient_balance_is_shown_in_the_portal_and_paid_again(walk: Walk) -> None:
    walk.load("thanh-toan-lai", 7)
    walk.follow()
    walk.log_in()
    code = walk.file_birth_copy()

    walk.next(2, "Tỉnh")
    walk.run()
    expect(walk.presenter.locator("#presenter-status")).to_have_text("6. Yêu cầu thực hiện nghĩa vụ tài chính")

    walk.next(3, "Công dân")
    walk.follow()
    expect(walk.citizen.locator("h1 code")).to_have_text(code)
    walk.citizen.get_by_role("button", name="Thanh toán qua PayGov").click()
    expect(walk.citizen).to_have_url(re.compile(r"/pay/t-"))  # PayGov's own page
    walk.citizen.locator("input[name=MaNganHang]").first.check()
    walk.citizen.get_by_role("button", name="Thất bại: tài khoản không đủ số dư").click()
    walk.snap(walk.citizen, "scenario-payment-refused-paygov")

    walk.next(4, "Công dân")
    walk.follow()
    refused = walk.citizen.locator("#payment-failed")
    expect(refused).to_contain_text("Lần thanh toán gần nhất không thành công")
    expect(refused).to_contain_text("51")
    expect(walk.citizen.locator("#dossier-status")).to_have_text("6. Yêu cầu thực hiện nghĩa vụ tài chính")
    walk.snap(walk.citizen, "scenario-payment-refused-portal")

    walk.next(5, "Công dân")
    walk.follow()
    walk.citizen.get_by_role("button", name="Thanh toán qua PayGov").click()
    expect(walk.citizen).to_have_url(re.compile(r"/pay/t-"))
    walk.citizen.locator("input[name=MaNganHang]").first.check()
    walk.citizen.get_by_role("button", name="Thanh toán thành công").click()
    wait_for(
        lambda: walk.admin("GET", f"/dvcqg/v1/_sandbox/dossiers/{code}")["data"].get("DuocThanhToanTrucTuyen") == 1,
        timeout=30,
        what="the payment reported to the portal",
    )
    payments = walk.admin("GET", "/paygov/v1/_sandbox/payments")["payments"]
    assert sorted(p["MaLoi"] for p in payments if p["MaHoSo"] == code) == ["00", "51"]

    walk.next(6, "Tỉnh")
    walk.run()
    expect(walk.presenter.locator("#presenter-status")).to_have_text("10. Đã trả kết quả")

    walk.next(7, "Công dân")
    walk.follow()
    expect(walk.citizen.locator("#dossier-status")).to_have_text("10. Đã trả kết quả")
    attempts = walk.citizen.locator("#payments li")
    expect(attempts).to_have_count(2)
    expect(attempts.first).to_contain_text("(00)")
    expect(attempts.last).to_contain_text("(51)")
    expect(walk.citizen.locator("#payment-failed")).to_have_count(0)
    result = walk.citizen.locator("#results a").get_attribute("href") or ""
    assert "BẢN SAO GIẤY KHAI SINH" in httpx.get(result, timeout=30).text
    walk.snap(walk.citizen, "scenario-payment-paid-again")
