"""Against real processes: the open embedded gateway, signed tenants, connection-level faults."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from tests.gateway.conftest import TenantCreds, create_tenant
from tests.support import SandboxProcesses

pytestmark = pytest.mark.multiprocess


def raw_exchange(base_url: str, request: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes, return everything read until the server closes (ConnectionResetError on RST)."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks: list[bytes] = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"connection: close" not in b"".join(chunks).lower():
                head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    None,
                )
                if length is not None and len(body) >= length:
                    return b"".join(chunks)


def get_request(path: str, token: str, body: bytes | None = None) -> bytes:
    method = "POST" if body is not None else "GET"
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


@pytest.fixture
def tenant(secured_client: httpx.Client) -> TenantCreds:
    return create_tenant(secured_client)


def test_open_embedded_gateway_relays_anonymous_calls_to_the_default_tenant(sandbox: SandboxProcesses) -> None:
    resp = httpx.get(sandbox.gateway + "/dvcqg/v1/_sandbox/clock")
    assert resp.status_code == 200
    assert resp.json()["tenant"] == "default"


def test_open_embedded_gateway_lets_anonymous_callers_name_their_tenant(sandbox: SandboxProcesses) -> None:
    resp = httpx.get(sandbox.gateway + "/paygov/v1/_sandbox/clock", headers={"x-sandbox-tenant": "ci-local"})
    assert resp.json()["tenant"] == "ci-local"


def test_service_refuses_a_direct_call_with_a_forged_tenant(secured: SandboxProcesses) -> None:
    for service in ("identity", "dossier", "payment"):
        resp = httpx.get(secured.url(service) + "/_sandbox/clock", headers={"x-sandbox-tenant": "someone-else"})
        assert resp.status_code == 401
        assert resp.json()["error_code"] == "TENANT_ASSERTION_INVALID"


def test_service_requiring_signatures_accepts_calls_relayed_by_the_gateway(tenant: TenantCreds) -> None:
    for prefix in ("/vneid/v1", "/dvcqg/v1", "/paygov/v1"):
        resp = tenant.get(f"{prefix}/_sandbox/clock")
        assert resp.status_code == 200, resp.text
        assert resp.json()["tenant"] == tenant.tenant


def test_reset_fault_resets_the_connection_without_a_reply(secured: SandboxProcesses, tenant: TenantCreds) -> None:
    tenant.post("/_sandbox/faults", json={"kind": "reset", "api": "dvcqg"})
    with pytest.raises(ConnectionResetError):
        raw_exchange(secured.gateway, get_request("/dvcqg/v1/", tenant.token))
    assert tenant.post("/_sandbox/journal/verify", json={"fault": "reset"}).json()["count"] == 1


def test_empty_fault_closes_the_connection_without_a_reply(secured: SandboxProcesses, tenant: TenantCreds) -> None:
    tenant.post("/_sandbox/faults", json={"kind": "empty", "api": "paygov"})
    assert raw_exchange(secured.gateway, get_request("/paygov/v1/", tenant.token)) == b""
    with pytest.raises(httpx.RemoteProtocolError):
        tenant.get("/paygov/v1/")


def test_reply_lost_after_the_service_handled_the_call(secured: SandboxProcesses, tenant: TenantCreds) -> None:
    tenant.post("/_sandbox/faults", json={"kind": "reset", "method": "POST", "params": {"phase": "after"}})
    body = json.dumps({"advance_seconds": 42}).encode()
    with pytest.raises(ConnectionResetError):
        raw_exchange(secured.gateway, get_request("/dvcqg/v1/_sandbox/clock", tenant.token, body))
    assert tenant.get("/dvcqg/v1/_sandbox/clock").json()["offset_seconds"] == 42


def test_client_side_timeout_is_observed_while_a_timeout_fault_holds_the_call(tenant: TenantCreds) -> None:
    tenant.post("/_sandbox/faults", json={"kind": "timeout", "params": {"after_ms": 3000}})
    with pytest.raises(httpx.ReadTimeout):
        tenant.get("/vneid/v1/", timeout=0.3)


def test_header_injection_with_a_bare_carriage_return_is_refused(
    secured: SandboxProcesses, tenant: TenantCreds
) -> None:
    request = (
        f"GET /dvcqg/v1/_sandbox/clock HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tenant.token}\r\n"
        "X-Note: a\rX-Sandbox-Tenant: victim\r\nConnection: close\r\n\r\n"
    ).encode()
    reply = raw_exchange(secured.gateway, request)
    assert reply.startswith(b"HTTP/1.1 400")


def test_header_injection_through_an_encoded_path_is_refused(tenant: TenantCreds) -> None:
    resp = tenant.get("/dvcqg/v1/x%0d%0aX-Sandbox-Tenant:%20victim")
    assert resp.status_code == 400
    assert resp.json()["error_code"] == "INVALID_PATH"
