"""Who may use the console: in the shared mode every tenant needs its credentials (a sign-in
page for operators); forms are accepted only from the console's own pages."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from console.app import create_app
from console.settings import ConsoleSettings
from tests.support import free_port


def _console(mode: str) -> Iterator[TestClient]:
    settings = ConsoleSettings(
        mode=mode,
        gateway_secret="a-shared-secret-long-enough-0123456789",
        public_base_url="http://gateway.example",
        gateway_url=f"http://127.0.0.1:{free_port()}",  # nothing listens: no call may be needed
        gateway_timeout_s=2.0,
    )
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


@pytest.fixture
def shared() -> Iterator[TestClient]:
    yield from _console("shared")


@pytest.fixture
def embedded() -> Iterator[TestClient]:
    yield from _console("embedded")


def test_in_the_shared_mode_the_console_opens_on_the_operators_sign_in_page(shared: TestClient) -> None:
    r = shared.get("/console/")
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    page = shared.get("/console/login")
    assert page.status_code == 200
    assert '<label for="client_id">' in page.text and '<label for="client_secret">' in page.text


def test_in_the_shared_mode_even_the_default_tenant_needs_its_credentials(shared: TestClient) -> None:
    r = shared.get("/console/t/default/")
    assert r.status_code == 303 and r.headers["location"] == "/console/login?tenant=default"


def test_a_tenant_not_signed_in_to_sends_the_operator_to_sign_in(embedded: TestClient) -> None:
    r = embedded.get("/console/t/t-someone-else/faults")
    assert r.status_code == 303 and r.headers["location"] == "/console/login?tenant=t-someone-else"


def test_a_form_posted_from_another_site_is_refused(embedded: TestClient) -> None:
    r = embedded.post("/console/t/default/clock", data={"step": "day"}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "CROSS_SITE_FORM" in r.text


def test_the_console_says_in_vietnamese_when_the_gateway_cannot_be_reached(embedded: TestClient) -> None:
    r = embedded.get("/console/t/default/")
    assert r.status_code == 502
    assert "Không kết nối được tới cổng kết nối" in r.text and 'lang="vi"' in r.text


def test_english_is_a_toggle_kept_in_a_cookie(embedded: TestClient) -> None:
    r = embedded.get("/console/lang/en", params={"back": "/console/"})
    assert r.status_code == 303 and r.headers["location"] == "/console/"
    page = embedded.get("/console/")
    assert 'lang="en"' in page.text and "Create a new tenant" in page.text


def test_the_language_toggle_only_returns_to_console_pages(embedded: TestClient) -> None:
    r = embedded.get("/console/lang/en", params={"back": "https://evil.example/"})
    assert r.headers["location"] == "/console/"


@pytest.mark.parametrize("self_service", [True, False])
def test_creating_a_tenant_is_offered_only_where_the_gateway_lets_anyone_create_one(self_service: bool) -> None:
    """A shared gateway may keep tenant creation to its administrator (``self_service_tenants``
    off, said in ``/_sandbox/version``): the console then offers only the sign-in."""

    def gateway(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/_sandbox/version"
        return httpx.Response(200, json={"mode": "shared", "self_service_tenants": self_service})

    settings = ConsoleSettings(
        mode="shared", gateway_secret="a-shared-secret-long-enough-0123456789", public_base_url="http://gateway.example"
    )
    app = create_app(settings, transport=httpx.MockTransport(gateway))
    with TestClient(app, follow_redirects=False) as client:
        page = client.get("/console/login")
    assert page.status_code == 200 and '<label for="client_id">' in page.text
    assert ('action="/console/tenants"' in page.text) is self_service


def _fake_gateway(request: httpx.Request) -> httpx.Response:
    """What the presenter's page asks of the gateway: a new tenant, a token, the DVCQG inbox."""
    if request.url.path == "/_sandbox/tenants":
        creds = {"client_id": "c-presenter", "client_secret": "s-presenter-secret"}
        return httpx.Response(201, json={"tenant": "t-presenter", "consumer": {"credentials": creds}})
    if request.url.path == "/oauth2/token" and request.headers["authorization"].startswith("Basic d3Jvbmc6"):
        return httpx.Response(401, json={"error": "invalid_client"})  # client id "wrong"
    if request.url.path == "/oauth2/token":
        return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})
    if request.url.path == "/dvcqg/v1/_sandbox/inbox":
        return httpx.Response(200, json={"data": []})
    return httpx.Response(404, json={"message": "no"})


def _assert_private(r: httpx.Response) -> None:
    assert r.headers["cache-control"] == "no-store", r.headers
    assert r.headers["referrer-policy"] == "no-referrer", r.headers


def test_pages_carrying_credentials_are_never_cached_nor_named_in_a_referrer(shared: TestClient) -> None:
    _assert_private(shared.get("/console/login"))
    assert "no-store" not in shared.get("/console/kich-ban").headers.get("cache-control", "")


def test_the_presenters_page_holding_the_desk_hand_off_secret_is_never_cached() -> None:
    settings = ConsoleSettings(
        mode="embedded",
        gateway_secret="a-shared-secret-long-enough-0123456789",
        gateway_url="http://gw",
        desk_url="http://127.0.0.1:8005",
    )
    with TestClient(create_app(settings, httpx.MockTransport(_fake_gateway)), follow_redirects=False) as client:
        created = client.post("/console/tenants")
        assert created.status_code == 201 and "s-presenter-secret" in created.text
        _assert_private(created)
        page = client.get("/console/t/t-presenter/trinh-chieu/khai-sinh-thanh-toan/3")
        assert page.status_code == 200 and 'value="s-presenter-secret"' in page.text, page.text
        _assert_private(page)
        refused = client.post("/console/login", data={"client_id": "wrong", "client_secret": "s"})
        assert refused.status_code == 401
        _assert_private(refused)
