"""Secrets that open something on their own never reach a journal or a log line: the OIDC
authorization code (token form, redirect ``Location``) and the hosted payment page's token
(in its path). Journal reads relayed by the gateway are not journalled by it either."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.gateway.conftest import TenantCreds, create_tenant
from tests.payment.conftest import PARTNER, SECRET, init_body
from tests.support import SandboxProcesses, wait_for

pytestmark = pytest.mark.multiprocess

REDIRECT = "https://rp.example.gov.vn/callback"


@pytest.fixture
def tenant(secured_client: httpx.Client) -> TenantCreds:
    return create_tenant(secured_client)


def _journal_text(tenant: TenantCreds, path: str = "/_sandbox/journal") -> str:
    resp = tenant.get(path, params={"limit": 1000})
    assert resp.status_code == 200, resp.text
    return resp.text


def _log_text(secured: SandboxProcesses) -> str:
    return "".join(secured.output)


@pytest.fixture
def login(tenant: TenantCreds) -> dict[str, Any]:
    """A citizen's login through the gateway: the code from the redirect, exchanged for tokens."""
    client = tenant.post(
        "/vneid/v1/_sandbox/clients",
        json={
            "client_id": "rp-" + secrets.token_hex(4),
            "redirect_uris": [REDIRECT],
            "scopes": ["openid", "profile"],
            "grant_types": ["authorization_code"],
            "auth_methods": ["client_secret_basic"],
        },
    ).json()
    citizen = tenant.post(
        "/vneid/v1/_sandbox/personas",
        json={"HoVaTen": "Lê Thị Mai", "NgayThangNamSinh": "19920305", "GioiTinh": "Nữ", "MucDoXacThuc": 2},
    ).json()
    meta = tenant.get("/vneid/v1/.well-known/openid-configuration").json()
    state = "state-" + secrets.token_hex(6)
    redirect = httpx.get(
        meta["authorization_endpoint"],
        params={
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": REDIRECT,
            "scope": "openid profile",
            "state": state,
            "nonce": "n1",
            "login_hint": citizen["SoDinhDanh"],
        },
    )
    assert redirect.status_code == 302, redirect.text
    code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
    token = httpx.post(
        meta["token_endpoint"],
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert token.status_code == 200, token.text
    return {"code": code, "state": state}


def test_the_authorization_code_is_in_no_journal(tenant: TenantCreds, login: dict[str, Any]) -> None:
    for text in (_journal_text(tenant), _journal_text(tenant, "/vneid/v1/_sandbox/journal")):
        assert login["code"] not in text
        assert "code=***" in text


def test_the_redirect_location_keeps_the_state_and_hides_the_code(tenant: TenantCreds, login: dict[str, Any]) -> None:
    entries = tenant.get("/vneid/v1/_sandbox/journal", params={"path": "/oauth2/authorize"}).json()["entries"]
    location = entries[0]["response_headers"]["location"]
    assert location.startswith(REDIRECT + "?")
    assert parse_qs(urlsplit(location).query) == {"code": ["***"], "state": [login["state"]]}


def test_the_authorization_code_is_in_no_log_line(secured: SandboxProcesses, login: dict[str, Any]) -> None:
    assert login["code"] not in _log_text(secured)


@pytest.fixture
def page(tenant: TenantCreds) -> dict[str, str]:
    """A payment initiated through the gateway and its hosted page opened by the citizen's browser."""
    partner = tenant.put(
        f"/paygov/v1/_sandbox/partners/{PARTNER}",
        json={"name": "Một cửa", "secret": SECRET, "return_url": "https://mcdt.example.gov.vn/ket-qua"},
    )
    assert partner.status_code == 200, partner.text
    reply = tenant.post("/paygov/v1/payments", json=init_body()).json()
    url = reply["UrlThanhToan"]
    assert httpx.get(url).status_code == 200
    token = urlsplit(url).path.rsplit("/", 1)[1]
    return {"url": url, "token": token}


def test_the_payment_page_token_is_in_no_journal(tenant: TenantCreds, page: dict[str, str]) -> None:
    for text in (_journal_text(tenant), _journal_text(tenant, "/paygov/v1/_sandbox/journal")):
        assert page["token"] not in text


def test_the_payment_page_path_is_journalled_with_the_token_masked(tenant: TenantCreds, page: dict[str, str]) -> None:
    gateway = tenant.get("/_sandbox/journal", params={"path_glob": "*/pay/*"}).json()["entries"]
    assert gateway and gateway[0]["path"].endswith(f"/paygov/v1/pay/{tenant.tenant}/***")
    service = tenant.get("/paygov/v1/_sandbox/journal", params={"path_prefix": "/pay/"}).json()["entries"]
    assert service and service[0]["path"] == f"/pay/{tenant.tenant}/***"


def test_the_payment_page_token_is_in_no_log_line(secured: SandboxProcesses, page: dict[str, str]) -> None:
    masked = f"/pay/{page['url'].split('/pay/')[1].split('/')[0]}/***"
    # The processes write the page's log lines after answering it: wait until they are read.
    text = wait_for(lambda: next((t for t in [_log_text(secured)] if masked in t), None), what="the page's log line")
    assert page["token"] not in text


def test_relayed_reads_of_a_service_journal_are_not_in_the_gateway_journal(tenant: TenantCreds) -> None:
    for api in ("vneid", "dvcqg", "paygov"):
        assert tenant.get(f"/{api}/v1/_sandbox/journal").status_code == 200
    assert tenant.get("/dvcqg/v1/_sandbox/%6Aournal").status_code == 200
    assert tenant.get("/dvcqg/v1/").status_code == 200
    paths = [e["path"] for e in tenant.get("/_sandbox/journal").json()["entries"]]
    assert paths == ["/dvcqg/v1/"]
