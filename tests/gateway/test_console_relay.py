"""The gateway sends browsers to the training console and relays ``/console/...`` to its
process; API clients keep the JSON index at ``/``."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from gateway.app import Gateway
from gateway.settings import GatewaySettings
from tests.support import SandboxProcesses, free_port

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_browser_opening_the_gateway_is_sent_to_the_console(sandbox: SandboxProcesses) -> None:
    r = httpx.get(sandbox.gateway + "/", headers={"Accept": BROWSER_ACCEPT})
    assert r.status_code == 303 and r.headers["location"] == "console/"


def test_api_clients_keep_the_json_index_at_the_root(sandbox: SandboxProcesses) -> None:
    for accept in ("application/json", "*/*"):
        r = httpx.get(sandbox.gateway + "/", headers={"Accept": accept})
        assert r.status_code == 200 and r.json()["gateway"] == "vnsandbox"


def test_console_pages_and_files_are_relayed_by_the_gateway(sandbox: SandboxProcesses) -> None:
    page = httpx.get(sandbox.gateway + "/console/", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Bảng điều khiển huấn luyện" in page.text
    assert len(page.headers.get_list("date")) == 1
    htmx = httpx.get(sandbox.gateway + "/console/static/htmx.min.js")
    assert htmx.status_code == 200 and b"htmx" in htmx.content


def test_the_gateway_answers_502_in_both_languages_when_the_console_is_down(tmp_path: Path) -> None:
    settings = GatewaySettings(data_dir=tmp_path, console_url=f"http://127.0.0.1:{free_port()}")
    with TestClient(Gateway(settings)) as client:
        r = client.get("/console/")
    assert r.status_code == 502
    body = r.json()
    assert body["error_code"] == "UPSTREAM_UNREACHABLE"
    assert body["message"].startswith("Không kết nối được") and body["message_en"]
    with TestClient(Gateway(settings)) as client:
        page = client.get("/console/t/x/", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 502 and page.headers["content-type"].startswith("text/html")
    assert "Không kết nối được tới bảng điều khiển huấn luyện" in page.text
    assert "<code>UPSTREAM_UNREACHABLE</code>" in page.text
    assert '<a href="">Thử lại</a>' in page.text
