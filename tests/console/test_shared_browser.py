"""The console of a shared sandbox in a real browser (Chromium through Playwright): ``vnsandbox
up`` in the shared mode, two tenants the administrator created; the operator opening the gateway
is sent to the sign-in page, is refused once with wrong credentials (in Vietnamese), signs in
with one tenant's credentials, sees that tenant's pages, is sent to sign in again for the other
tenant, and signs out. Photographed at 390×844 and 1366×768 (``var/screenshots/shared-*``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser import Problems, shoot
from tests.support import SandboxProcesses, free_port

pytestmark = [pytest.mark.multiprocess, pytest.mark.xdist_group("console-browser")]
ADMIN_KEY = "an-admin-key-for-the-console-browser-check"


@dataclass
class Shared:
    gateway: str
    #: (tenant, client_id, client_secret) of two tenants.
    tenants: list[tuple[str, str, str]]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    """``vnsandbox up`` in the shared mode (SQLite), its public URL the gateway's own address."""
    port = free_port()
    env = {
        "SANDBOX_MODE": "shared",
        "SANDBOX_GATEWAY_SECRET": "a-long-random-secret-for-the-console-browser-check",
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "SANDBOX_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SANDBOX_LOG_LEVEL": "WARNING",
    }
    data = Path(tmp_path_factory.mktemp("shared-console"))
    procs = SandboxProcesses(data_dir=data, env=env, ports={"gateway": port}).start()
    try:
        tenants = []
        for description in ("Sở TT&TT Quảng Nam", "Sở TT&TT Đà Nẵng"):
            r = httpx.post(
                procs.gateway + "/_sandbox/tenants",
                json={"description": description},
                headers={"X-Sandbox-Admin-Key": ADMIN_KEY},
                timeout=30,
            )
            assert r.status_code == 201, r.text
            creds = r.json()["consumer"]["credentials"]
            tenants.append((r.json()["tenant"], creds["client_id"], creds["client_secret"]))
        yield Shared(procs.gateway, tenants)
    finally:
        procs.stop()


def test_an_operator_signs_in_sees_only_their_tenant_and_signs_out(
    page: Any, problems: Problems, shared: Shared
) -> None:
    (mine, client_id, secret), (other, _, _) = shared.tenants

    # Opening the gateway leads to the operator's sign-in page; the default tenant is closed too.
    page.goto(shared.gateway + "/")
    expect(page).to_have_url(re.compile(r"/console/login$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập người vận hành")
    shoot(page, "shared-login")
    page.goto(shared.gateway + "/console/t/default/")
    expect(page).to_have_url(re.compile(r"/console/login\?tenant=default$"))

    # Wrong credentials: refused in Vietnamese, still on the sign-in page.
    problems.expected_statuses.add(401)
    page.get_by_label("Mã ứng dụng (client_id)").fill(client_id)
    page.get_by_label("Khóa bí mật (client_secret)").fill("not-the-secret")
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("alert")).to_have_text("Sai mã ứng dụng hoặc khóa bí mật")
    expect(page).to_have_url(re.compile(r"/console/login$"))
    shoot(page, "shared-login-refused")
    # The browser logs the 401 page load as a console error: that one, and only it, is expected.
    assert all("401" in item and "/console/login" in item for item in problems.take())
    problems.expected_statuses.clear()

    # The tenant's credentials: its pages.
    page.get_by_label("Mã ứng dụng (client_id)").fill(client_id)
    page.get_by_label("Khóa bí mật (client_secret)").fill(secret)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).to_have_url(re.compile(rf"/console/t/{mine}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sơ đồ luồng thông điệp")
    tabs = page.get_by_role("navigation", name=f"Tenant {mine}")
    tabs.get_by_role("link", name="Sự cố và công tắc").click()
    expect(page.get_by_role("switch", name=re.compile("VNeID ngừng hoạt động"))).to_have_attribute(
        "aria-checked", "false"
    )
    tabs.get_by_role("link", name="Bộ chỉ số 766").click()
    expect(page.locator("li.indicator")).to_have_count(10)
    shoot(page, "shared-tenant")

    # Another tenant's pages need that tenant's credentials: back to the sign-in page.
    for where in ("/", "/faults", "/chi-so"):
        page.goto(f"{shared.gateway}/console/t/{other}{where}")
        expect(page).to_have_url(re.compile(rf"/console/login\?tenant={other}$"))
    assert other not in page.locator("main").inner_text()

    # Signing out forgets the tenant in this browser.
    page.goto(shared.gateway + "/console/")
    expect(page.get_by_role("link", name=re.compile(mine))).to_be_visible()
    shoot(page, "shared-home")
    page.get_by_role("button", name=re.compile("Đăng xuất")).click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.goto(f"{shared.gateway}/console/t/{mine}/")
    expect(page).to_have_url(re.compile(rf"/console/login\?tenant={mine}$"))
