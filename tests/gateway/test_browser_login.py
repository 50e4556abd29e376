"""An OIDC login in a gateway that requires credentials: the province's backend holds an API
key, the citizen's browser holds nothing, and the tenant-bound links carry the tenant."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.gateway.conftest import TenantCreds, create_tenant

pytestmark = pytest.mark.multiprocess

REDIRECT = "https://rp.example.gov.vn/callback"


@pytest.fixture
def province(secured_client: httpx.Client) -> dict[str, Any]:
    tenant = create_tenant(secured_client)
    key = {"x-api-key": tenant.api_key}
    client = secured_client.post(
        "/vneid/v1/_sandbox/clients",
        headers=key,
        json={
            "client_id": "mot-cua-" + secrets.token_hex(4),
            "redirect_uris": [REDIRECT],
            "scopes": ["openid", "profile"],
            "grant_types": ["authorization_code"],
            "auth_methods": ["client_secret_basic"],
        },
    ).json()
    citizen = secured_client.post(
        "/vneid/v1/_sandbox/personas",
        headers=key,
        json={"HoVaTen": "Trần Văn Bình", "NgayThangNamSinh": "19900101", "GioiTinh": "Nam", "MucDoXacThuc": 2},
    ).json()
    meta = secured_client.get("/vneid/v1/.well-known/openid-configuration", headers=key).json()
    return {"tenant": tenant, "client": client, "citizen": citizen, "meta": meta}


def _browser_login(province: dict[str, Any]) -> str:
    """The citizen's browser, without any credentials, follows the authorization URL."""
    query = {
        "response_type": "code",
        "client_id": province["client"]["client_id"],
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "s1",
        "nonce": "n1",
        "login_hint": province["citizen"]["SoDinhDanh"],
    }
    redirect = httpx.get(province["meta"]["authorization_endpoint"], params=query, follow_redirects=False)
    assert redirect.status_code == 302, redirect.text
    code: str = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
    return code


def test_discovery_for_a_consumer_points_browsers_at_its_tenant_link(province: dict[str, Any]) -> None:
    tenant: TenantCreds = province["tenant"]
    assert f"/t/{tenant.tenant}/" in province["meta"]["authorization_endpoint"]


def test_citizen_logs_in_through_the_tenant_link_and_the_province_reads_userinfo(province: dict[str, Any]) -> None:
    code = _browser_login(province)
    client = province["client"]
    token = httpx.post(
        province["meta"]["token_endpoint"],
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert token.status_code == 200, token.text
    info = httpx.get(
        province["meta"]["userinfo_endpoint"], headers={"authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert info.json()["HoVaTen"] == "Trần Văn Bình"


def test_another_tenants_link_cannot_redeem_the_code(province: dict[str, Any], secured_client: httpx.Client) -> None:
    code = _browser_login(province)
    other = create_tenant(secured_client)
    other_meta = secured_client.get(
        "/vneid/v1/.well-known/openid-configuration", headers={"x-api-key": other.api_key}
    ).json()
    client = province["client"]
    stolen = httpx.post(
        other_meta["token_endpoint"],
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert stolen.status_code in (400, 401)
    assert stolen.json()["error"] in ("invalid_client", "invalid_grant")
