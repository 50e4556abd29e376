"""The published OpenAPI of every service: error replies, security, required headers and
media types as the services really answer (so Swagger UI's "Try it out" and generated
clients work). tests/test_schemathesis.py checks the replies against it at run time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.app import Gateway
from gateway.settings import GatewaySettings
from tests.conftest import FACTORIES
from tests.support import TenantClient, new_tenant
from vnsandbox.openapi import SECURITY_SCHEMES, operations


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TestClient]]:
    data: Path = tmp_path_factory.mktemp("openapi")
    out: dict[str, TestClient] = {}
    for name, (factory, settings_cls) in FACTORIES.items():
        settings = settings_cls(database_url=f"sqlite:///{data / name}.db", data_dir=data)
        out[name] = TestClient(factory(settings), raise_server_exceptions=False).__enter__()
    yield out
    for client in out.values():
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def specs(clients: dict[str, TestClient]) -> dict[str, dict[str, Any]]:
    return {name: client.get("/openapi.json").json() for name, client in clients.items()}


def gateway_control_spec(data: Path, *, require_auth: bool) -> dict[str, Any]:
    """The OpenAPI of a gateway's own control plane (``/_sandbox/openapi.json``)."""
    settings = GatewaySettings(
        database_url=f"sqlite:///{data / 'gateway.db'}", data_dir=data, require_auth=require_auth
    )
    spec: dict[str, Any] = Gateway(settings).control.openapi()
    return spec


@pytest.fixture(scope="module")
def gateway_specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The gateway control plane's schema with authentication required, and on an open gateway."""
    return {
        "required": gateway_control_spec(tmp_path_factory.mktemp("gw-required"), require_auth=True),
        "open": gateway_control_spec(tmp_path_factory.mktemp("gw-open"), require_auth=False),
    }


def _op(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    op: dict[str, Any] = spec["paths"][path][method.lower()]
    return op


def _refs(response: dict[str, Any]) -> set[str]:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    alternatives = schema.get("anyOf", [schema])
    return {a["$ref"].rsplit("/", 1)[-1] for a in alternatives if "$ref" in a}


def test_every_operation_declares_the_foundations_error_replies(specs: dict[str, dict[str, Any]]) -> None:
    for name, spec in specs.items():
        for path, method, op in operations(spec):
            declared = op["responses"]
            assert {"400", "401", "429"} <= set(declared), (name, method, path)
            if "requestBody" in op:
                assert "413" in declared, (name, method, path)
            for status in ("400", "401", "429"):
                assert "ErrorBody" in _refs(declared[status]), (name, method, path, status)


def test_validation_replies_are_the_sandbox_envelope_not_fastapis(specs: dict[str, dict[str, Any]]) -> None:
    for name, spec in specs.items():
        assert "HTTPValidationError" not in str(spec), name
        op = _op(spec, "PUT", "/_sandbox/switches/{name}")
        assert _refs(op["responses"]["422"]) == {"ErrorBody"}
        assert "415" in op["responses"]


def test_platform_envelopes_are_declared_beside_the_sandbox_envelope(specs: dict[str, dict[str, Any]]) -> None:
    sync = _op(specs["dossier"], "POST", "/api/service")["responses"]
    assert {"401", "403", "404", "409", "413", "422"} <= set(sync)
    assert _refs(sync["401"]) == {"DvcqgErrorBody", "ErrorBody"}
    assert specs["dossier"]["components"]["schemas"]["DvcqgErrorBody"]["properties"]["error_code"]["type"] == "integer"
    token = _op(specs["identity"], "POST", "/oauth2/token")["responses"]
    assert "OAuthErrorBody" in _refs(token["400"]) and "OAuthErrorBody" in _refs(token["401"])
    lookup = _op(specs["identity"], "GET", "/population/v1/citizens/{number}")["responses"]
    assert _refs(lookup["404"]) == {"PopulationErrorBody"}
    message = _op(specs["payment"], "POST", "/payments")["responses"]
    assert {"400", "401", "404", "409", "422"} <= set(message)
    assert _refs(message["401"]) == {"ErrorBody"}


def test_not_found_is_declared_where_a_path_names_a_record(specs: dict[str, dict[str, Any]]) -> None:
    for service, method, path in [
        ("dossier", "GET", "/api/tthc/{code}"),
        ("dossier", "GET", "/_sandbox/units/{code}"),
        ("dossier", "POST", "/_sandbox/deliveries/{delivery_id}/redeliver"),
        ("identity", "GET", "/_sandbox/clients/{client_id}"),
        ("identity", "PATCH", "/_sandbox/personas/{number}"),
        ("payment", "GET", "/receipts/{transaction_id}.json"),
        ("payment", "POST", "/_sandbox/payments/{transaction_id}/complete"),
    ]:
        assert "404" in _op(specs[service], method, path)["responses"], (service, method, path)


def test_operations_that_need_credentials_declare_their_security(specs: dict[str, dict[str, Any]]) -> None:
    expected = {
        ("dossier", "POST", "/api/service"): {"dvcqgSession", "dvcqgBearer"},
        ("dossier", "POST", "/api/{service_name}"): {"dvcqgSession", "dvcqgBearer"},
        ("dossier", "GET", "/api/doisoat"): {"dvcqgSession", "dvcqgBearer"},
        ("dossier", "GET", "/api/chiso766"): {"dvcqgSession", "dvcqgBearer"},
        ("identity", "GET", "/oauth2/userinfo"): {"vneidBearer"},
        ("identity", "POST", "/oauth2/token"): {"clientBasic"},
        ("identity", "POST", "/oauth2/introspect"): {"clientBasic"},
        ("identity", "POST", "/oauth2/revoke"): {"clientBasic"},
        ("identity", "GET", "/population/v1/citizens/{number}"): {"vneidBearer"},
        ("identity", "POST", "/population/v1/verify"): {"vneidBearer"},
        ("identity", "POST", "/population/v1/verify/batch"): {"vneidBearer"},
    }
    for (service, method, path), schemes in expected.items():
        security = _op(specs[service], method, path)["security"]
        assert {name for requirement in security for name in requirement} == schemes, (service, method, path)
    for name, spec in specs.items():
        declared = spec.get("components", {}).get("securitySchemes", {})
        for path, method, op in operations(spec):
            for requirement in op.get("security", ()):
                for scheme in requirement:
                    assert declared[scheme] == SECURITY_SCHEMES[scheme], (name, method, path)
    session = specs["dossier"]["components"]["securitySchemes"]["dvcqgSession"]
    assert session == SECURITY_SCHEMES["dvcqgSession"] and session["in"] == "header" and session["name"] == "session"


GATEWAY_CREDENTIALS = {"gatewayBearer", "gatewayApiKey", "gatewayAdminKey"}
#: Control operations anyone may call without credentials.
GATEWAY_PUBLIC = {
    ("GET", "/"),
    ("GET", "/apis"),
    ("GET", "/docs"),
    ("GET", "/metrics"),
    ("GET", "/_sandbox/health"),
    ("GET", "/_sandbox/ready"),
    ("GET", "/_sandbox/version"),
}


def _alternatives(op: dict[str, Any]) -> tuple[set[str], bool]:
    """The schemes an operation accepts, and whether it also accepts no credentials."""
    security = op.get("security", [])
    return {name for requirement in security for name in requirement}, {} in security


def test_gateway_control_operations_declare_their_security(gateway_specs: dict[str, dict[str, Any]]) -> None:
    spec = gateway_specs["required"]
    seen = set()
    for path, method, op in operations(spec):
        schemes, anonymous = _alternatives(op)
        seen.add((method, path))
        if (method, path) in GATEWAY_PUBLIC:
            assert "security" not in op, (method, path)
        elif (method, path) == ("POST", "/oauth2/token"):
            assert (schemes, anonymous) == ({"clientBasic"}, True)
        elif (method, path) == ("POST", "/_sandbox/tenants"):
            assert (schemes, anonymous) == (GATEWAY_CREDENTIALS, True)
        else:
            assert (schemes, anonymous) == (GATEWAY_CREDENTIALS, False), (method, path)
    assert ("DELETE", "/_sandbox/tenants/{tenant}") in seen and ("POST", "/_sandbox/faults") in seen
    declared = spec["components"]["securitySchemes"]
    assert declared == {name: SECURITY_SCHEMES[name] for name in GATEWAY_CREDENTIALS | {"clientBasic"}}


def test_an_open_gateway_declares_its_control_plane_open_to_anonymous_callers(
    gateway_specs: dict[str, dict[str, Any]],
) -> None:
    for path, method, op in operations(gateway_specs["open"]):
        if (method, path) not in GATEWAY_PUBLIC:
            assert _alternatives(op)[1], (method, path)


def test_dvcqg_login_declares_the_required_madonvi_header(specs: dict[str, dict[str, Any]]) -> None:
    op = _op(specs["dossier"], "POST", "/api/login")
    [header] = [p for p in op["parameters"] if p["in"] == "header"]
    assert header["name"] == "MaDonVi" and header["required"] is True


def test_swagger_try_it_out_of_dvcqg_login_logs_in(
    specs: dict[str, dict[str, Any]], clients: dict[str, TestClient]
) -> None:
    """What Swagger UI sends from the documented example and header parameter is a login."""
    op = _op(specs["dossier"], "POST", "/api/login")
    headers = {p["name"]: p["example"] for p in op["parameters"] if p["in"] == "header"}
    body = op["requestBody"]["content"]["application/json"]["example"]
    reply = TenantClient(clients["dossier"], new_tenant()).post("/api/login", json=body, headers=headers)
    assert reply.status_code == 200 and reply.json()["error_code"] == 0


def test_non_json_replies_declare_their_media_types(specs: dict[str, dict[str, Any]]) -> None:
    expected = [
        ("dossier", "GET", "/_sandbox/metrics", "200", "text/plain"),
        ("dossier", "GET", "/_sandbox/audit", "200", "text/csv"),
        ("dossier", "GET", "/api/doisoat", "200", "text/csv"),
        ("dossier", "GET", "/_sandbox/reconciliation", "200", "text/csv"),
        ("identity", "GET", "/oauth2/authorize", "200", "text/html"),
        ("identity", "GET", "/oauth2/authorize", "400", "text/html"),
        ("identity", "POST", "/oauth2/login", "200", "text/html"),
        ("identity", "GET", "/oauth2/logout", "200", "text/html"),
        ("payment", "GET", "/pay/{tenant}/{token}", "200", "text/html"),
        ("payment", "GET", "/pay/{tenant}/{token}/receipt.pdf", "200", "application/pdf"),
        ("payment", "GET", "/receipts/{transaction_id}.pdf", "200", "application/pdf"),
        ("payment", "GET", "/reconciliation", "200", "text/csv"),
    ]
    for service, method, path, status, media in expected:
        content = _op(specs[service], method, path)["responses"][status]["content"]
        assert media in content, (service, method, path, status)
    metrics = _op(specs["dossier"], "GET", "/_sandbox/metrics")["responses"]["200"]["content"]
    assert set(metrics) == {"text/plain"}
    pdf = _op(specs["payment"], "GET", "/receipts/{transaction_id}.pdf")["responses"]["200"]["content"]
    assert set(pdf) == {"application/pdf"}


def test_paygov_messages_declare_their_shapes(specs: dict[str, dict[str, Any]]) -> None:
    body = _op(specs["payment"], "POST", "/payments")["requestBody"]["content"]["application/json"]
    refs = {alt["$ref"].rsplit("/", 1)[-1] for alt in body["schema"]["oneOf"]}
    assert refs == {"InitIn", "QueryIn", "RefundIn"}
    init = specs["payment"]["components"]["schemas"]["InitIn"]
    assert {"LoaiBanTin", "MaDoiTac", "MaThamChieu", "SoTien", "MaXacThuc"} <= set(init["required"])
