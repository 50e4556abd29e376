"""Consumers, tokens, scopes and tenants at the gateway."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from gateway.settings import GatewaySettings
from tests.gateway.conftest import ADMIN_KEY, TenantCreds, create_tenant, expect_error, get_token

PUBLIC = "https://lgsp.example.gov.vn"


def test_anonymous_call_is_refused_with_401_when_auth_is_required(gateway: TestClient) -> None:
    resp = gateway.get("/dvcqg/v1/_sandbox/version")
    body = expect_error(resp, 401, "UNAUTHORIZED")
    assert "Bearer" in resp.headers["www-authenticate"]
    assert body["type"] == "Client.Unauthorized"


def test_token_endpoint_issues_a_bearer_token_for_client_credentials(tenant_a: TenantCreds) -> None:
    resp = tenant_a.client.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": tenant_a.client_id,
            "client_secret": tenant_a.client_secret,
        },
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "*"
    assert resp.headers["cache-control"] == "no-store"


def test_token_endpoint_accepts_http_basic_client_authentication(tenant_a: TenantCreds) -> None:
    basic = base64.b64encode(f"{tenant_a.client_id}:{tenant_a.client_secret}".encode()).decode()
    resp = tenant_a.client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, headers={"authorization": f"Basic {basic}"}
    )
    assert resp.status_code == 200
    assert resp.json()["access_token"]


def test_wrong_client_secret_gets_invalid_client(tenant_a: TenantCreds) -> None:
    resp = tenant_a.client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": tenant_a.client_id, "client_secret": "guess"},
    )
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"


def test_unsupported_grant_type_is_refused(tenant_a: TenantCreds) -> None:
    resp = tenant_a.client.post(
        "/oauth2/token",
        data={"grant_type": "password", "client_id": tenant_a.client_id, "client_secret": tenant_a.client_secret},
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "unsupported_grant_type"


def test_scope_beyond_the_consumers_grant_is_refused(tenant_a: TenantCreds) -> None:
    narrow = tenant_a.new_consumer(scopes=["vneid"])["credentials"]
    resp = tenant_a.client.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": narrow["client_id"],
            "client_secret": narrow["client_secret"],
            "scope": "vneid paygov",
        },
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_scope"


def test_relayed_call_carries_the_consumers_tenant(tenant_a: TenantCreds) -> None:
    resp = tenant_a.get("/dvcqg/v1/_sandbox/clock")
    assert resp.status_code == 200
    assert resp.json()["tenant"] == tenant_a.tenant


def test_api_key_authenticates_like_a_token(tenant_a: TenantCreds) -> None:
    resp = tenant_a.client.get("/paygov/v1/_sandbox/clock", headers={"x-api-key": tenant_a.api_key})
    assert resp.status_code == 200
    assert resp.json()["tenant"] == tenant_a.tenant


def test_unknown_api_key_is_refused(gateway: TestClient) -> None:
    expect_error(gateway.get("/paygov/v1/_sandbox/clock", headers={"x-api-key": "ak_nope"}), 401, "INVALID_API_KEY")


def test_tampered_token_is_refused(tenant_a: TenantCreds) -> None:
    header, payload, sig = tenant_a.token.split(".")
    forged = f"{header}.{payload}.{sig[:-4]}AAAA"
    resp = tenant_a.client.get("/dvcqg/v1/_sandbox/clock", headers={"authorization": f"Bearer {forged}"})
    expect_error(resp, 401, "INVALID_TOKEN")
    assert "invalid_token" in resp.headers["www-authenticate"]


def test_call_outside_the_consumers_scopes_gets_403(tenant_a: TenantCreds) -> None:
    creds = tenant_a.new_consumer(scopes=["vneid"])["credentials"]
    token = get_token(tenant_a.client, creds["client_id"], creds["client_secret"])
    resp = tenant_a.client.get("/dvcqg/v1/_sandbox/clock", headers={"authorization": f"Bearer {token}"})
    body = expect_error(resp, 403, "SCOPE_NOT_ALLOWED")
    assert "dvcqg" in body["message_en"]


def test_read_scope_allows_get_but_not_post(tenant_a: TenantCreds) -> None:
    creds = tenant_a.new_consumer(scopes=["dvcqg:read"])["credentials"]
    headers = {"authorization": f"Bearer {get_token(tenant_a.client, creds['client_id'], creds['client_secret'])}"}
    assert tenant_a.client.get("/dvcqg/v1/_sandbox/clock", headers=headers).status_code == 200
    resp = tenant_a.client.post("/dvcqg/v1/_sandbox/clock", json={"advance_seconds": 1}, headers=headers)
    expect_error(resp, 403, "SCOPE_NOT_ALLOWED")


def test_narrowing_a_consumers_scopes_applies_to_tokens_already_issued(tenant_a: TenantCreds) -> None:
    creds = tenant_a.new_consumer(scopes=["dvcqg", "vneid"])["credentials"]
    headers = {"authorization": f"Bearer {get_token(tenant_a.client, creds['client_id'], creds['client_secret'])}"}
    assert tenant_a.client.get("/dvcqg/v1/_sandbox/clock", headers=headers).status_code == 200
    assert tenant_a.patch(f"/_sandbox/consumers/{creds['client_id']}", json={"scopes": ["vneid"]}).status_code == 200
    expect_error(tenant_a.client.get("/dvcqg/v1/_sandbox/clock", headers=headers), 403, "SCOPE_NOT_ALLOWED")


def test_forged_tenant_header_with_a_valid_token_is_refused(tenant_a: TenantCreds, tenant_b: TenantCreds) -> None:
    resp = tenant_a.get("/dvcqg/v1/_sandbox/clock", headers={"x-sandbox-tenant": tenant_b.tenant})
    expect_error(resp, 403, "TENANT_MISMATCH")


def test_token_of_one_tenant_cannot_run_another_tenants_control_plane(
    tenant_a: TenantCreds, tenant_b: TenantCreds
) -> None:
    expect_error(
        tenant_a.get("/_sandbox/journal", headers={"x-sandbox-tenant": tenant_b.tenant}), 403, "TENANT_MISMATCH"
    )
    expect_error(tenant_a.delete(f"/_sandbox/tenants/{tenant_b.tenant}"), 403, "OTHER_TENANT")
    assert tenant_b.get("/dvcqg/v1/_sandbox/clock").status_code == 200


def test_other_tenants_consumer_is_not_found(tenant_a: TenantCreds, tenant_b: TenantCreds) -> None:
    expect_error(tenant_a.get(f"/_sandbox/consumers/{tenant_b.client_id}"), 404, "CONSUMER_NOT_FOUND")
    expect_error(
        tenant_a.put(f"/_sandbox/consumers/{tenant_b.client_id}/quota", json={"rate_per_second": 0}),
        404,
        "CONSUMER_NOT_FOUND",
    )


def test_deleted_consumers_token_and_api_key_stop_working(tenant_a: TenantCreds) -> None:
    creds = tenant_a.new_consumer(scopes=["dvcqg"])["credentials"]
    token = get_token(tenant_a.client, creds["client_id"], creds["client_secret"])
    assert tenant_a.delete(f"/_sandbox/consumers/{creds['client_id']}").status_code == 200
    expect_error(tenant_a.client.get("/dvcqg/v1/", headers={"authorization": f"Bearer {token}"}), 401, "INVALID_TOKEN")
    expect_error(tenant_a.client.get("/dvcqg/v1/", headers={"x-api-key": creds["api_key"]}), 401, "INVALID_API_KEY")


def test_token_expires_when_the_tenants_test_clock_passes_its_lifetime(tenant_a: TenantCreds) -> None:
    assert tenant_a.get("/vneid/v1/").status_code == 200
    moved = tenant_a.post("/_sandbox/clock", json={"advance_seconds": 3601})
    assert moved.status_code == 200
    expect_error(tenant_a.get("/vneid/v1/"), 401, "TOKEN_EXPIRED")
    fresh = get_token(tenant_a.client, tenant_a.client_id, tenant_a.client_secret)
    assert tenant_a.client.get("/vneid/v1/", headers={"authorization": f"Bearer {fresh}"}).status_code == 200


def test_consumer_without_sandbox_scope_cannot_use_the_control_plane(tenant_a: TenantCreds) -> None:
    creds = tenant_a.new_consumer(scopes=["dvcqg"])["credentials"]
    token = get_token(tenant_a.client, creds["client_id"], creds["client_secret"])
    resp = tenant_a.client.post("/_sandbox/reset", headers={"authorization": f"Bearer {token}"})
    expect_error(resp, 403, "SCOPE_NOT_ALLOWED")


def test_admin_acts_on_the_tenant_it_names(gateway: TestClient, tenant_a: TenantCreds) -> None:
    resp = gateway.get(
        "/_sandbox/consumers", headers={"x-sandbox-admin-key": ADMIN_KEY, "x-sandbox-tenant": tenant_a.tenant}
    )
    assert resp.status_code == 200
    assert [c["client_id"] for c in resp.json()["consumers"]] == [tenant_a.client_id]


def test_wrong_admin_key_is_refused(gateway: TestClient) -> None:
    expect_error(
        gateway.get("/_sandbox/tenants", headers={"x-sandbox-admin-key": "not-the-key"}), 401, "INVALID_ADMIN_KEY"
    )


def test_admin_lists_every_tenant_a_consumer_only_its_own(
    gateway: TestClient, tenant_a: TenantCreds, tenant_b: TenantCreds
) -> None:
    every = {
        t["tenant"]
        for t in gateway.get("/_sandbox/tenants", headers={"x-sandbox-admin-key": ADMIN_KEY}).json()["tenants"]
    }
    assert {tenant_a.tenant, tenant_b.tenant} <= every
    own = [t["tenant"] for t in tenant_a.get("/_sandbox/tenants").json()["tenants"]]
    assert own == [tenant_a.tenant]


def test_new_tenant_name_can_be_chosen_once(gateway: TestClient) -> None:
    name = "ci-job-" + base64.b32encode(__import__("os").urandom(5)).decode().lower()
    t = create_tenant(gateway, tenant=name)
    assert t.tenant == name
    expect_error(gateway.post("/_sandbox/tenants", json={"tenant": name}), 409, "TENANT_EXISTS")
    assert t.delete(f"/_sandbox/tenants/{name}").status_code == 200


def test_deleting_a_tenant_revokes_its_credentials(gateway: TestClient) -> None:
    t = create_tenant(gateway)
    resp = t.delete(f"/_sandbox/tenants/{t.tenant}")
    assert resp.status_code == 200
    assert resp.json()["services_reset"] is True
    expect_error(t.get("/vneid/v1/"), 401, "INVALID_TOKEN")


def test_shared_mode_refuses_to_run_without_auth() -> None:
    with pytest.raises(ValidationError, match="GATEWAY_REQUIRE_AUTH"):
        GatewaySettings(
            mode="shared", gateway_secret="s" * 32, admin_key="a" * 32, require_auth=False, public_base_url=PUBLIC
        )


def test_shared_mode_refuses_the_development_admin_key() -> None:
    with pytest.raises(ValidationError, match="GATEWAY_ADMIN_KEY"):
        GatewaySettings(mode="shared", gateway_secret="s" * 32, public_base_url=PUBLIC)


def test_shared_mode_requires_auth_by_default() -> None:
    assert GatewaySettings(
        mode="shared", gateway_secret="s" * 32, admin_key="a" * 32, public_base_url=PUBLIC
    ).auth_required
    assert not GatewaySettings(mode="embedded").auth_required


# -- tenant-bound links for browsers -----------------------------------------------------------


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_urls_handed_out_to_a_consumer_carry_its_tenant_link(gateway: TestClient) -> None:
    created = gateway.post("/_sandbox/tenants", json={}).json()
    link = created["links"]["vneid"]
    creds = created["consumer"]["credentials"]
    index = gateway.get("/vneid/v1/", headers={"x-api-key": creds["api_key"]}).json()
    assert index["docs"].startswith(link)
    assert f"/t/{created['tenant']}/" in link


def test_tenant_link_opens_browser_pages_without_credentials_in_that_tenant(
    gateway: TestClient, tenant_a: TenantCreds
) -> None:
    link = _path(tenant_a.get(f"/_sandbox/tenants/{tenant_a.tenant}").json()["links"]["vneid"])
    resp = gateway.get(f"{link}/.well-known/openid-configuration")
    assert resp.status_code == 200
    assert f"/t/{tenant_a.tenant}/" in resp.json()["issuer"]
    entries = tenant_a.get("/_sandbox/journal", params={"consumer": "anonymous"}).json()["entries"]
    assert [e["path"] for e in entries] == [f"{link}/.well-known/openid-configuration"]


def test_tenant_link_without_credentials_refuses_api_and_control_paths(
    gateway: TestClient, tenant_a: TenantCreds
) -> None:
    link = _path(tenant_a.get(f"/_sandbox/tenants/{tenant_a.tenant}").json()["links"]["vneid"])
    expect_error(gateway.get(f"{link}/_sandbox/clock"), 401, "UNAUTHORIZED")
    expect_error(gateway.get(f"{link}/population/v1/citizens/001099000001"), 401, "UNAUTHORIZED")


def test_tenant_link_with_a_made_up_signature_is_refused(gateway: TestClient, tenant_a: TenantCreds) -> None:
    resp = gateway.get(f"/t/{tenant_a.tenant}/{'0' * 20}/vneid/v1/.well-known/openid-configuration")
    expect_error(resp, 403, "INVALID_TENANT_LINK")


def test_another_tenants_link_refuses_a_consumers_credentials(tenant_a: TenantCreds, tenant_b: TenantCreds) -> None:
    link_b = _path(tenant_b.get(f"/_sandbox/tenants/{tenant_b.tenant}").json()["links"]["dvcqg"])
    expect_error(tenant_a.get(f"{link_b}/_sandbox/clock"), 403, "TENANT_MISMATCH")


def test_anonymous_caller_cannot_name_a_tenant_when_auth_is_required(gateway: TestClient) -> None:
    resp = gateway.get("/vneid/v1/.well-known/openid-configuration", headers={"x-sandbox-tenant": "someone"})
    expect_error(resp, 401, "UNAUTHORIZED")


def test_browser_pages_need_no_credentials_on_the_plain_prefix(gateway: TestClient) -> None:
    assert gateway.get("/vneid/v1/.well-known/openid-configuration").status_code == 200
