"""Bad input and secrets: traversal, control characters, oversized input, forged headers, leaks."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from tests.gateway.conftest import TenantCreds, expect_error


@pytest.mark.parametrize(
    "path",
    ["/dvcqg/v1/%2e%2e/%2e%2e/etc/passwd", "/dvcqg/v1/a/%252e%252e/b", "/vneid/v1/a%5c..%5cb", "/paygov/v1/x/%2E%2E"],
)
def test_path_traversal_is_refused(tenant_a: TenantCreds, path: str) -> None:
    expect_error(tenant_a.client.get(path, headers=tenant_a.auth), 400, "PATH_TRAVERSAL")


def test_encoded_traversal_is_refused_before_authentication(gateway: TestClient) -> None:
    expect_error(gateway.get("/dvcqg/v1/%2e%2e/%2e%2e/etc/passwd"), 400, "PATH_TRAVERSAL")


def test_control_characters_in_the_path_are_refused(tenant_a: TenantCreds) -> None:
    resp = tenant_a.client.get("/dvcqg/v1/a%0d%0aX-Injected:%201", headers=tenant_a.auth)
    body = expect_error(resp, 400, "INVALID_PATH")
    assert body["type"] == "Client.InvalidPath"


def test_oversized_headers_are_refused_with_431(tenant_a: TenantCreds) -> None:
    resp = tenant_a.get("/vneid/v1/", headers={"x-padding": "a" * 20_000})
    expect_error(resp, 431, "HEADERS_TOO_LARGE")


def test_oversized_body_is_refused_with_413(tenant_a: TenantCreds) -> None:
    resp = tenant_a.post(
        "/dvcqg/v1/_sandbox/clock", content=b"x" * 1_100_000, headers={"content-type": "application/json"}
    )
    expect_error(resp, 413, "PAYLOAD_TOO_LARGE")


def test_caller_cannot_forge_the_consumer_or_the_tenant_signature(tenant_a: TenantCreds) -> None:
    resp = tenant_a.get(
        "/dvcqg/v1/_sandbox/clock",
        headers={"x-sandbox-consumer": "c-forged", "x-sandbox-tenant-signature": "0" * 64, "x-request-id": "rid-forge"},
    )
    assert resp.status_code == 200
    seen = tenant_a.get("/dvcqg/v1/_sandbox/journal", params={"request_id": "rid-forge"}).json()["entries"][0]
    assert seen["request_headers"]["x-sandbox-consumer"] == tenant_a.client_id
    assert seen["request_headers"]["x-sandbox-tenant"] == tenant_a.tenant


def test_gateway_credentials_are_not_passed_to_the_services(tenant_a: TenantCreds) -> None:
    tenant_a.client.get("/dvcqg/v1/", headers={"x-api-key": tenant_a.api_key, "x-request-id": "rid-key"})
    tenant_a.get("/dvcqg/v1/", headers={"x-request-id": "rid-token"})
    text = tenant_a.get("/dvcqg/v1/_sandbox/journal").text
    assert tenant_a.api_key not in text
    assert tenant_a.token not in text
    for rid in ("rid-key", "rid-token"):
        entry = tenant_a.get("/dvcqg/v1/_sandbox/journal", params={"request_id": rid}).json()["entries"][0]
        assert "x-api-key" not in entry["request_headers"]
        assert "authorization" not in entry["request_headers"]


def test_an_upstream_authorization_header_is_relayed_untouched(tenant_a: TenantCreds) -> None:
    tenant_a.client.get(
        "/vneid/v1/",
        headers={
            "x-gateway-token": tenant_a.token,
            "authorization": "Bearer vneid-user-token",
            "x-request-id": "rid-up",
        },
    )
    entry = tenant_a.get("/vneid/v1/_sandbox/journal", params={"request_id": "rid-up"}).json()["entries"][0]
    # Present (redacted by the service's journal): the upstream received the caller's own Authorization.
    assert entry["request_headers"]["authorization"] == "***"


def test_secrets_never_appear_in_the_gateway_journal(tenant_a: TenantCreds) -> None:
    tenant_a.client.get("/paygov/v1/", headers={"x-api-key": tenant_a.api_key})
    tenant_a.post("/paygov/v1/_sandbox/clock", json={"advance_seconds": 1, "client_secret": tenant_a.client_secret})
    text = tenant_a.get("/_sandbox/journal").text
    for secret in (tenant_a.api_key, tenant_a.token, tenant_a.client_secret):
        assert secret not in text


def test_secrets_never_appear_in_error_replies(tenant_a: TenantCreds) -> None:
    bad_secret = tenant_a.client_secret[:-3] + "xyz"
    replies = [
        tenant_a.client.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": tenant_a.client_id, "client_secret": bad_secret},
        ),
        tenant_a.client.get("/vneid/v1/", headers={"authorization": f"Bearer {tenant_a.token}x"}),
        tenant_a.client.get("/vneid/v1/", headers={"x-api-key": tenant_a.api_key + "x"}),
    ]
    for resp in replies:
        assert resp.status_code == 401
        for secret in (bad_secret, tenant_a.token, tenant_a.api_key, tenant_a.client_secret):
            assert secret not in resp.text


def test_secrets_never_appear_in_the_logs(tenant_a: TenantCreds, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    tenant_a.get("/vneid/v1/")
    tenant_a.client.get("/vneid/v1/", headers={"x-api-key": tenant_a.api_key})
    tenant_a.client.get("/vneid/v1/", headers={"authorization": f"Bearer {tenant_a.token}x"})
    tenant_a.client.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": tenant_a.client_id,
            "client_secret": tenant_a.client_secret,
        },
    )
    assert any(r.name == "gateway.proxy" for r in caplog.records)
    dumped = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in (tenant_a.api_key, tenant_a.token, tenant_a.client_secret):
        assert secret not in dumped


def test_relayed_calls_are_logged_with_request_id_and_consumer(
    tenant_a: TenantCreds, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.proxy")
    tenant_a.get("/vneid/v1/", headers={"x-request-id": "rid-logged"})
    record = next(r for r in caplog.records if r.name == "gateway.proxy" and r.__dict__.get("status") == 200)
    assert record.__dict__["consumer"] == tenant_a.client_id
    assert record.__dict__["upstream"] == "identity"


def test_forwarded_headers_sent_by_the_caller_are_replaced_by_the_gateways(tenant_a: TenantCreds) -> None:
    tenant_a.get(
        "/dvcqg/v1/_sandbox/clock",
        headers={
            "x-forwarded-host": "evil.example",
            "x-forwarded-proto": "https",
            "x-forwarded-prefix": "/phish",
            "x-request-id": "rid-fwd-pin",
        },
    )
    seen = tenant_a.get("/dvcqg/v1/_sandbox/journal", params={"request_id": "rid-fwd-pin"}).json()["entries"][0]
    headers = seen["request_headers"]
    assert headers["x-forwarded-host"] == "testserver"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-prefix"].endswith("/dvcqg/v1")
    assert headers["x-forwarded-prefix"].startswith(f"/t/{tenant_a.tenant}/")


def test_the_gateways_public_base_url_shapes_the_forwarded_headers(sandbox, tmp_path) -> None:
    from gateway.app import Gateway
    from tests.gateway.conftest import gateway_settings

    settings = gateway_settings(
        sandbox, f"sqlite:///{tmp_path / 'gw.db'}", tmp_path, public_base_url="https://lgsp.example.gov.vn/sandbox"
    )
    with TestClient(Gateway(settings)) as client:
        meta = client.get(
            "/vneid/v1/.well-known/openid-configuration", headers={"x-sandbox-admin-key": settings.admin_key}
        ).json()
    assert meta["issuer"] == "https://lgsp.example.gov.vn/sandbox/vneid/v1"
