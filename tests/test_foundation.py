"""What the shared foundation gives every service: errors, request ids, journal, reset, clock, switches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.identity.app import create_app as create_identity
from services.identity.settings import IdentitySettings
from tests.support import TenantClient, new_tenant
from vnsandbox import audit
from vnsandbox.signing import tenant_assertion


def _error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error_code"] == code
    assert body["message"] and body["message_en"]
    assert body["request_id"] == resp.headers["x-request-id"]
    return body


def test_unknown_route_answers_404_with_json_error(any_service: TenantClient) -> None:
    _error(any_service.get("/no/such/route"), 404, "NOT_FOUND")


def test_wrong_method_answers_405_with_json_error(any_service: TenantClient) -> None:
    _error(any_service.request("PATCH", "/_sandbox/reset"), 405, "METHOD_NOT_ALLOWED")


def test_malformed_json_answers_400(any_service: TenantClient) -> None:
    resp = any_service.post(
        "/_sandbox/clock", content=b'{"advance_seconds": ', headers={"content-type": "application/json"}
    )
    _error(resp, 400, "MALFORMED_JSON")


def test_wrong_content_type_answers_415(any_service: TenantClient) -> None:
    resp = any_service.post("/_sandbox/clock", content=b"advance_seconds=5", headers={"content-type": "text/plain"})
    body = _error(resp, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert body["details"][0]["field"] == "content-type"


def test_invalid_field_answers_422_naming_the_field(any_service: TenantClient) -> None:
    resp = any_service.post("/_sandbox/clock", json={"advance_seconds": "soon"})
    body = _error(resp, 422, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "advance_seconds"


def test_oversized_body_answers_413_before_the_app_sees_it(any_service: TenantClient) -> None:
    limit = any_service.app.state.settings.max_body_bytes
    resp = any_service.post("/_sandbox/clock", content=b"x" * (limit + 1), headers={"content-type": "application/json"})
    _error(resp, 413, "PAYLOAD_TOO_LARGE")


def test_request_id_is_echoed_when_given(any_service: TenantClient) -> None:
    resp = any_service.get("/_sandbox/version", headers={"x-request-id": "ci-job-42.step-1"})
    assert resp.headers["x-request-id"] == "ci-job-42.step-1"


def test_request_id_is_generated_when_missing_or_unsafe(any_service: TenantClient) -> None:
    resp = any_service.get("/_sandbox/version", headers={"x-request-id": "bad id\twith spaces"})
    rid = resp.headers["x-request-id"]
    assert rid != "bad id\twith spaces" and len(rid) == 32


def test_invalid_tenant_name_is_refused(any_service: TenantClient) -> None:
    resp = any_service.get("/_sandbox/version", headers={"x-sandbox-tenant": "../Other Tenant"})
    _error(resp, 400, "INVALID_TENANT")


def test_health_reports_database_and_pid(any_service: TenantClient, backend: str) -> None:
    body = any_service.get("/_sandbox/health").json()
    assert body["status"] == "ok"
    assert body["database_ok"] is True
    assert body["database"] == ("sqlite" if backend == "sqlite" else "postgresql")
    assert isinstance(body["pid"], int)


def test_version_names_service_and_protocol(any_service: TenantClient) -> None:
    body = any_service.get("/_sandbox/version").json()
    assert body["service"] in ("identity", "dossier", "payment")
    assert body["protocol"] and body["sandbox_version"]


def test_journal_records_request_and_reply(any_service: TenantClient) -> None:
    any_service.post("/_sandbox/clock", json={"advance_seconds": 5}, headers={"x-request-id": "journal-check-1"})
    body = any_service.get("/_sandbox/journal", params={"request_id": "journal-check-1"}).json()
    assert body["total_matched"] == 1
    entry = body["entries"][0]
    assert entry["method"] == "POST" and entry["path"] == "/_sandbox/clock" and entry["status"] == 200
    assert json.loads(entry["request_body"]) == {"advance_seconds": 5}
    assert json.loads(entry["response_body"])["offset_seconds"] == 5
    assert entry["duration_ms"] >= 0


def test_journal_redacts_secrets_in_headers_and_bodies(any_service: TenantClient) -> None:
    any_service.post(
        "/_sandbox/clock",
        json={"advance_seconds": 1, "client_secret": "s3cr3t-value", "password": "hunter2-value"},
        headers={"authorization": "Bearer tok-value-123", "x-request-id": "redact-1"},
    )
    text = json.dumps(any_service.get("/_sandbox/journal", params={"request_id": "redact-1"}).json())
    for secret in ("s3cr3t-value", "hunter2-value", "tok-value-123"):
        assert secret not in text
    assert '"authorization": "***"' in text


def test_journal_filters_by_method_path_and_status(any_service: TenantClient) -> None:
    any_service.get("/_sandbox/version")
    any_service.get("/nope")
    assert any_service.get("/_sandbox/journal", params={"status": 404}).json()["total_matched"] == 1
    assert (
        any_service.get("/_sandbox/journal", params={"method": "GET", "path": "/_sandbox/version"}).json()[
            "total_matched"
        ]
        == 1
    )


def test_journal_is_per_tenant_and_clearable(any_service: TenantClient) -> None:
    other = TenantClient(any_service.client, new_tenant())
    any_service.get("/_sandbox/version")
    other.get("/_sandbox/version")
    assert any_service.get("/_sandbox/journal").json()["total_matched"] == 1
    assert any_service.delete("/_sandbox/journal").json()["cleared"] == 1
    assert any_service.get("/_sandbox/journal").json()["total_matched"] == 0
    assert other.get("/_sandbox/journal").json()["total_matched"] == 1


def test_clock_advances_and_returns_to_real_time(any_service: TenantClient) -> None:
    assert any_service.post("/_sandbox/clock", json={"advance_seconds": 3600}).json()["offset_seconds"] == 3600
    assert any_service.post("/_sandbox/clock", json={"advance_seconds": 60}).json()["offset_seconds"] == 3660
    assert any_service.get("/_sandbox/clock").json()["offset_seconds"] == 3660
    assert any_service.delete("/_sandbox/clock").json()["offset_seconds"] == 0


def test_clock_refuses_to_move_backwards(any_service: TenantClient) -> None:
    _error(any_service.post("/_sandbox/clock", json={"advance_seconds": -1}), 422, "CLOCK_BACKWARDS")


def test_unknown_switch_is_refused_listing_the_valid_names(any_service: TenantClient) -> None:
    body = _error(any_service.put("/_sandbox/switches/NOT_A_SWITCH", json={}), 422, "UNKNOWN_SWITCH")
    assert "NOT_A_SWITCH" in body["message_en"]


def test_reset_wipes_only_the_calling_tenants_data(any_service: TenantClient) -> None:
    other = TenantClient(any_service.client, new_tenant())
    any_service.post("/_sandbox/clock", json={"advance_seconds": 100})
    other.post("/_sandbox/clock", json={"advance_seconds": 200})
    reply = any_service.post("/_sandbox/reset").json()
    assert reply["tenant"] == any_service.tenant
    assert reply["deleted_rows"]["sandbox_clock"] == 1
    assert any_service.get("/_sandbox/clock").json()["offset_seconds"] == 0
    assert other.get("/_sandbox/clock").json()["offset_seconds"] == 200


def test_audit_trail_exports_json_and_csv(any_service: TenantClient) -> None:
    db = any_service.app.state.db
    with db.session() as session:
        audit.record(
            session,
            any_service.tenant,
            service="test",
            client="province-h22",
            subject="001099012345",
            fields=["HoVaTen", "NgayThangNamSinh"],
            purpose="kiểm tra hồ sơ",
        )
    data = any_service.get("/_sandbox/audit").json()
    assert data["count"] == 1
    assert data["records"][0]["fields"] == ["HoVaTen", "NgayThangNamSinh"]
    csv_text = any_service.get("/_sandbox/audit", params={"format": "csv"}).text
    assert csv_text.splitlines()[0].startswith("at,service,client,subject")
    assert "001099012345" in csv_text and "HoVaTen;NgayThangNamSinh" in csv_text and "kiểm tra hồ sơ" in csv_text


def test_openapi_documents_the_control_plane(any_service: TenantClient) -> None:
    paths = any_service.get("/openapi.json").json()["paths"]
    for path in ("/_sandbox/reset", "/_sandbox/journal", "/_sandbox/health", "/_sandbox/version"):
        assert path in paths


def test_forwarded_prefix_shapes_public_urls(any_service: TenantClient) -> None:
    body = any_service.get(
        "/",
        headers={
            "x-forwarded-host": "sandbox.example:8000",
            "x-forwarded-proto": "https",
            "x-forwarded-prefix": "/vneid/v1",
        },
    ).json()
    assert body["docs"] == "https://sandbox.example:8000/vneid/v1/docs"


@pytest.fixture(scope="module")
def signed_only(tmp_path_factory: pytest.TempPathFactory):
    d: Path = tmp_path_factory.mktemp("signed")
    settings = IdentitySettings(
        database_url=f"sqlite:///{d}/identity.db",
        data_dir=d,
        require_tenant_signature=True,
        gateway_secret="a-test-gateway-secret",
    )
    with TestClient(create_identity(settings)) as client:
        yield client


def test_service_requiring_signature_refuses_unsigned_tenant(signed_only: TestClient) -> None:
    _error(signed_only.get("/_sandbox/version", headers={"x-sandbox-tenant": "t-a"}), 401, "TENANT_ASSERTION_INVALID")


def test_service_requiring_signature_refuses_missing_tenant(signed_only: TestClient) -> None:
    _error(signed_only.get("/_sandbox/version"), 401, "TENANT_ASSERTION_MISSING")


def test_service_requiring_signature_refuses_signature_for_another_tenant(signed_only: TestClient) -> None:
    sig = tenant_assertion("a-test-gateway-secret", "t-a", "rid-1")
    resp = signed_only.get(
        "/_sandbox/version",
        headers={"x-sandbox-tenant": "t-b", "x-sandbox-tenant-signature": sig, "x-request-id": "rid-1"},
    )
    _error(resp, 401, "TENANT_ASSERTION_INVALID")


def test_service_requiring_signature_accepts_the_gateways_assertion(signed_only: TestClient) -> None:
    sig = tenant_assertion("a-test-gateway-secret", "t-a", "rid-2")
    resp = signed_only.get(
        "/_sandbox/clock",
        headers={"x-sandbox-tenant": "t-a", "x-sandbox-tenant-signature": sig, "x-request-id": "rid-2"},
    )
    assert resp.status_code == 200
    assert resp.json()["tenant"] == "t-a"


def test_nul_character_in_a_json_body_is_refused_not_stored(any_service: TenantClient) -> None:
    resp = any_service.put(
        "/_sandbox/switches/ANY", content=b'{"scope": "a\\u0000b"}', headers={"content-type": "application/json"}
    )
    body = _error(resp, 400, "NUL_CHARACTER")
    assert body["details"][0]["field"] == "body"


def test_nul_character_in_the_query_is_refused(any_service: TenantClient) -> None:
    _error(any_service.get("/_sandbox/journal", params={"path": "/a\x00b"}), 400, "NUL_CHARACTER")


def test_nul_character_in_the_path_is_refused(any_service: TenantClient) -> None:
    _error(any_service.delete("/_sandbox/switches/A%00B"), 400, "NUL_CHARACTER")


def test_docs_pages_load_their_assets_from_the_service(any_service: TenantClient) -> None:
    page = any_service.get("/docs").text
    assert "/static/docs/swagger-ui-bundle.js" in page and "cdn.jsdelivr" not in page
    assert any_service.get("/static/docs/swagger-ui.css").status_code == 200
    assert "/static/docs/redoc.standalone.js" in any_service.get("/redoc").text


def test_redaction_masks_declared_secret_path_segments_at_any_depth() -> None:
    from vnsandbox.journal import SECRET_PATHS, Redaction

    rules = Redaction(SECRET_PATHS["payment"])
    assert rules.path("/pay/t-1/tok123") == "/pay/t-1/***"
    assert rules.path("/pay/t-1/tok123/receipt.pdf") == "/pay/t-1/***/receipt.pdf"
    assert rules.path("/t/t-1/sig/paygov/v1/pay/t-1/tok123") == "/t/t-1/sig/paygov/v1/pay/t-1/***"
    assert rules.path("/payments") == "/payments"


def test_redaction_masks_the_oauth_code_in_forms_and_urls_and_keeps_the_state() -> None:
    from vnsandbox.journal import NO_SECRET_PATHS, redact_query

    assert redact_query("grant_type=authorization_code&code=abc&redirect_uri=x") == (
        "grant_type=authorization_code&code=***&redirect_uri=x"
    )
    assert (
        NO_SECRET_PATHS.url("https://rp.example/cb?code=abc&state=s%201")
        == "https://rp.example/cb?code=***&state=s%201"
    )
    assert NO_SECRET_PATHS.headers([("Location", "/cb?code=abc")]) == {"location": "/cb?code=***"}


def test_redaction_shows_names_that_only_describe_a_secret_and_masks_the_secrets() -> None:
    from vnsandbox.journal import NO_SECRET_PATHS

    described = json.loads(
        NO_SECRET_PATHS.body(
            b'{"token_endpoint": "https://idp/token", "token_type": "Bearer", "end_session_endpoint": "https://idp/out",'
            b' "token_endpoint_auth_methods_supported": ["client_secret_basic"], "access_token": "eyJ.x.y",'
            b' "client_secret": "s3", "session_state": "abc", "refresh_token_expires_in": 600}',
            "application/json",
            10_000,
        )
        or ""
    )
    assert described["token_endpoint"] == "https://idp/token"
    assert described["token_type"] == "Bearer"
    assert described["end_session_endpoint"] == "https://idp/out"
    assert described["token_endpoint_auth_methods_supported"] == ["client_secret_basic"]
    assert described["refresh_token_expires_in"] == 600
    assert described["access_token"] == described["client_secret"] == described["session_state"] == "***"


SHARED_SECRET = "a-shared-mode-gateway-secret"
SHARED_ISSUER = "https://sandbox.example.gov.vn/vneid/v1"
FORGED = {"x-forwarded-host": "evil.example", "x-forwarded-proto": "https", "x-forwarded-prefix": "/phish"}


@pytest.fixture(scope="module")
def shared_identity(tmp_path_factory: pytest.TempPathFactory):
    d: Path = tmp_path_factory.mktemp("shared-identity")
    settings = IdentitySettings(
        database_url=f"sqlite:///{d}/identity.db",
        data_dir=d,
        mode="shared",
        gateway_secret=SHARED_SECRET,
        public_base_url=SHARED_ISSUER,
        seed_people=0,
    )
    with TestClient(create_identity(settings)) as client:
        yield client


def test_shared_mode_a_direct_caller_cannot_change_the_issuer(shared_identity: TestClient) -> None:
    meta = shared_identity.get("/.well-known/openid-configuration", headers=FORGED).json()
    assert meta["issuer"] == SHARED_ISSUER
    assert meta["authorization_endpoint"].startswith(SHARED_ISSUER + "/")


def test_shared_mode_a_direct_caller_cannot_move_the_docs_prefix(shared_identity: TestClient) -> None:
    index = shared_identity.get("/", headers=FORGED).json()
    assert index["docs"] == SHARED_ISSUER + "/docs"
    assert "/phish" not in shared_identity.get("/docs", headers=FORGED).text


def test_shared_mode_a_call_signed_by_the_gateway_follows_its_forwarded_headers(shared_identity: TestClient) -> None:
    sig = tenant_assertion(SHARED_SECRET, "t-a", "rid-fwd")
    meta = shared_identity.get(
        "/.well-known/openid-configuration",
        headers={
            "x-sandbox-tenant": "t-a",
            "x-sandbox-tenant-signature": sig,
            "x-request-id": "rid-fwd",
            "x-forwarded-host": "lgsp.example.gov.vn",
            "x-forwarded-proto": "https",
            "x-forwarded-prefix": "/t/t-a/sig/vneid/v1",
        },
    ).json()
    assert meta["issuer"] == "https://lgsp.example.gov.vn/t/t-a/sig/vneid/v1"


def test_shared_mode_a_forged_signature_does_not_unlock_forwarded_headers(shared_identity: TestClient) -> None:
    headers = {"x-sandbox-tenant": "t-a", "x-sandbox-tenant-signature": "0" * 64, "x-request-id": "rid-x", **FORGED}
    resp = shared_identity.get("/.well-known/openid-configuration", headers=headers)
    assert "evil.example" not in resp.text


def test_shared_mode_requires_the_public_base_url_naming_the_variable(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from services.payment.settings import PaymentSettings

    with pytest.raises(ValidationError, match="PAYMENT_PUBLIC_BASE_URL must be set when SANDBOX_MODE=shared"):
        PaymentSettings(mode="shared", gateway_secret=SHARED_SECRET, data_dir=tmp_path)


def test_a_parameter_route_beside_a_fixed_sibling_never_takes_the_siblings_name(identity) -> None:  # type: ignore[no-untyped-def]
    fixed = identity.patch("/_sandbox/clients/default", json={"name": "x"})
    assert fixed.status_code == 405
    assert fixed.headers["allow"] == "GET"
    refused = identity.post(
        "/_sandbox/clients", json={"client_id": "default", "redirect_uris": ["https://rp.example/cb"]}
    )
    assert refused.status_code == 422


@pytest.mark.parametrize("keep", [True, False])
def test_an_error_that_keeps_its_changes_leaves_its_unit_of_work_committed(keep: bool) -> None:
    from sqlalchemy import select

    from vnsandbox.db import ControlBase, Database, Switch
    from vnsandbox.errors import SandboxError

    db = Database("sqlite://", [])
    ControlBase.metadata.create_all(db.engine)
    with pytest.raises(SandboxError), db.session() as session:
        session.add(Switch(tenant="t", name="USED", scope="*", params={}))
        session.flush()
        raise SandboxError("refused", "bị từ chối", keep_changes=keep)
    with db.session() as session:
        assert session.scalars(select(Switch.name)).all() == (["USED"] if keep else [])
    db.dispose()
