"""Hostile input on every service: each is a documented 4xx, never a 500 or a traceback.

JSON nested thousands deep, integers beyond 64 bits, clock offsets beyond year 9999,
unparseable bodies, wrong methods (``Allow`` lists every method of the path) and bodies
that never finish (408, against real processes).
"""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.app import Gateway
from gateway.settings import GatewaySettings
from tests.support import SandboxProcesses, TenantClient, free_port
from vnsandbox.bounds import MAX_CLOCK_OFFSET_S, json_depth
from vnsandbox.journal import redact_body

DEEP = [1000, 100_000]
HUGE = [2**63, -(2**63) - 1, 10**30]
JSON = {"content-type": "application/json"}


def deep_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_object(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


def journal_entry(client: TenantClient, resp: httpx.Response) -> dict[str, Any]:
    r = client.get("/_sandbox/journal", params={"request_id": resp.headers["x-request-id"]})
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = r.json()["entries"]
    assert len(entries) == 1
    return entries[0]


@pytest.fixture(scope="module")
def lone_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An open embedded gateway whose upstreams are not running (its control plane alone)."""
    d = tmp_path_factory.mktemp("gw-alone")
    dead = f"http://127.0.0.1:{free_port()}"
    settings = GatewaySettings(
        database_url=f"sqlite:///{d / 'gateway.db'}",
        data_dir=d,
        identity_url=dead,
        dossier_url=dead,
        payment_url=dead,
        upstream_timeout_s=2.0,
    )
    with TestClient(Gateway(settings), raise_server_exceptions=False) as client:
        yield client


# -- JSON nesting depth ---------------------------------------------------------------------------


@pytest.mark.parametrize("depth", DEEP)
@pytest.mark.parametrize("shape", [deep_array, deep_object])
def test_deep_json_on_the_control_plane_is_refused_and_journalled(
    any_service: TenantClient, caplog: pytest.LogCaptureFixture, depth: int, shape: Any
) -> None:
    caplog.set_level(logging.INFO)
    resp = any_service.post("/_sandbox/clock", content=shape(depth), headers=JSON)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["error_code"] == "JSON_TOO_DEEP"
    assert body["message"].startswith("Nội dung JSON") and body["message_en"]
    assert body["details"] == [{"field": "body", "rule": "max_depth", "message": "64"}]
    entry = journal_entry(any_service, resp)
    assert entry["status"] == 400
    assert entry["request_body"].startswith("<") and "nested deeper" in entry["request_body"]
    assert_no_traceback(caplog)


@pytest.mark.parametrize("depth", DEEP)
@pytest.mark.parametrize(("service", "path"), [("identity", "/_sandbox/personas"), ("payment", "/payments")])
def test_deep_json_on_data_endpoints_is_refused_in_the_envelope(
    service_clients: dict[str, TestClient],
    tenant: str,
    caplog: pytest.LogCaptureFixture,
    service: str,
    path: str,
    depth: int,
) -> None:
    caplog.set_level(logging.INFO)
    client = TenantClient(service_clients[service], tenant)
    resp = client.post(path, content=deep_object(depth), headers=JSON)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["error_code"] == "JSON_TOO_DEEP" and body["message"] and body["message_en"]
    assert journal_entry(client, resp)["status"] == 400
    assert_no_traceback(caplog)


def test_json_as_deep_as_allowed_is_accepted(any_service: TenantClient) -> None:
    body = b'{"advance_seconds": 1, "x": ' + b"[" * 63 + b"]" * 63 + b"}"
    resp = any_service.post("/_sandbox/clock", content=body, headers=JSON)
    assert resp.status_code == 200, resp.text


def test_brackets_inside_strings_do_not_count_as_nesting(any_service: TenantClient) -> None:
    resp = any_service.put("/_sandbox/switches/none", json={"scope": "*", "params": {"note": "[" * 1000}})
    assert resp.json()["error_code"] == "UNKNOWN_SWITCH"  # read and validated, not refused as too deep


def test_max_json_depth_is_a_setting(tmp_path: Path) -> None:
    from services.identity.app import create_app
    from services.identity.settings import IdentitySettings

    settings = IdentitySettings(database_url=f"sqlite:///{tmp_path / 'i.db'}", data_dir=tmp_path, max_json_depth=3)
    with TestClient(create_app(settings)) as client:
        resp = client.post("/_sandbox/clock", content=b'{"advance_seconds": 1, "x": [[[]]]}', headers=JSON)
        assert resp.status_code == 400 and resp.json()["details"][0]["message"] == "3"
        assert client.post("/_sandbox/clock", content=b'{"advance_seconds": 1, "x": [[]]}', headers=JSON).is_success


@pytest.mark.parametrize("depth", DEEP)
def test_deep_json_on_the_gateway_control_plane_is_refused(
    lone_gateway: TestClient, caplog: pytest.LogCaptureFixture, depth: int
) -> None:
    caplog.set_level(logging.INFO)
    for path in ("/_sandbox/faults", "/_sandbox/tenants", "/_sandbox/journal/verify"):
        resp = lone_gateway.post(path, content=deep_object(depth), headers=JSON)
        assert (resp.status_code, resp.json()["error_code"]) == (400, "JSON_TOO_DEEP"), path
    assert_no_traceback(caplog)


def test_deep_json_inside_a_bearer_token_does_not_break_the_gateway(
    lone_gateway: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    import base64

    payload = base64.urlsafe_b64encode(deep_array(5000)).rstrip(b"=").decode()
    resp = lone_gateway.get("/vneid/v1/", headers={"authorization": f"Bearer e30.{payload}.sig"})
    assert resp.status_code == 502  # not a gateway token: relayed, and the upstream is down
    assert_no_traceback(caplog)


@pytest.mark.parametrize("depth", [300, 100_000])
def test_journal_redaction_never_raises_and_keeps_no_deep_body(depth: int) -> None:
    body = b'{"password": "hunter2", "a": ' + deep_array(depth) + b"}"
    text = redact_body(body, "application/json", 16_384)
    assert text is not None and "hunter2" not in text and "nested deeper" in text


# -- integer ranges -------------------------------------------------------------------------------


def _switch_name(client: TenantClient) -> str:
    assert client.app is not None
    return sorted(client.app.state.spec.switches)[0]


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize(
    "call",
    [
        "switch.remaining",
        "clock.advance_seconds",
        "clock.offset_seconds",
        "journal.status",
        "audit.limit",
    ],
)
def test_every_service_bounds_the_integers_of_its_control_plane(
    any_service: TenantClient, caplog: pytest.LogCaptureFixture, call: str, value: int
) -> None:
    caplog.set_level(logging.INFO)
    if call == "switch.remaining":
        resp = any_service.put(f"/_sandbox/switches/{_switch_name(any_service)}", json={"remaining": value})
    elif call.startswith("clock."):
        resp = any_service.post("/_sandbox/clock", json={call.split(".")[1]: value})
    elif call == "journal.status":
        resp = any_service.get("/_sandbox/journal", params={"status": value})
    else:
        resp = any_service.get("/_sandbox/audit", params={"limit": value})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error_code"] == "VALIDATION_ERROR"
    assert_no_traceback(caplog)


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize(
    ("service", "method", "path", "field", "where"),
    [
        ("identity", "POST", "/_sandbox/seed", "people", "json"),
        ("identity", "POST", "/_sandbox/seed", "seed", "json"),
        ("dossier", "GET", "/api/tthc", "offset", "query"),
        ("dossier", "GET", "/api/chiso766", "SoHoSoBaoCao", "query"),
        ("dossier", "GET", "/_sandbox/scorecard", "SoHoSoBaoCao", "query"),
        ("dossier", "GET", "/_sandbox/deliveries", "limit", "query"),
        ("payment", "GET", "/_sandbox/deliveries", "limit", "query"),
    ],
)
def test_service_specific_integers_are_bounded(
    service_clients: dict[str, TestClient],
    tenant: str,
    service: str,
    method: str,
    path: str,
    field: str,
    where: str,
    value: int,
) -> None:
    client = TenantClient(service_clients[service], tenant)
    body = {"people": 1, "seed": 1} | {field: value} if where == "json" else None
    params = {field: str(value)} if where == "query" else None
    resp = client.request(method, path, json=body, params=params)
    assert resp.status_code == 422, resp.text
    assert field in str(resp.json()["details"])


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize(
    ("method", "path", "body", "params"),
    [
        ("POST", "/_sandbox/faults", {"kind": "error", "next_n": "{v}"}, None),
        ("POST", "/_sandbox/faults", {"kind": "error", "seed": "{v}"}, None),
        ("POST", "/_sandbox/tenants", {"quota": {"burst": "{v}"}}, None),
        ("POST", "/_sandbox/tenants", {"quota": {"rate_per_second": "{v}"}}, None),
        ("POST", "/_sandbox/journal/verify", {"status": "{v}"}, None),
        ("POST", "/_sandbox/journal/verify", {"expected": "{v}"}, None),
        ("POST", "/_sandbox/clock", {"advance_seconds": "{v}"}, None),
        ("POST", "/_sandbox/clock", {"offset_seconds": "{v}"}, None),
        ("GET", "/_sandbox/journal", None, {"status": "{v}"}),
        ("GET", "/_sandbox/audit", None, {"limit": "{v}"}),
        ("GET", "/_sandbox/deliveries", None, {"limit": "{v}"}),
        ("DELETE", "/_sandbox/faults/{v}", None, None),
    ],
)
def test_gateway_bounds_every_integer_of_its_control_plane(
    lone_gateway: TestClient,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    params: dict[str, str] | None,
    value: int,
) -> None:
    caplog.set_level(logging.INFO)

    def fill(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: fill(v) for k, v in x.items()}
        return value if x == "{v}" else x

    resp = lone_gateway.request(
        method,
        path.replace("{v}", str(value)),
        json=fill(body),
        params={k: str(value) for k in params} if params else None,
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["error_code"] == "VALIDATION_ERROR"
    assert_no_traceback(caplog)


@pytest.mark.parametrize("raw", [b"9223372036854775808", b"-9223372036854775809", b"1e400", b"NaN", b"[1e30]"])
def test_numbers_in_switch_parameters_are_bounded(any_service: TenantClient, raw: bytes) -> None:
    body = b'{"params": {"delay_ms": ' + raw + b"}}"
    resp = any_service.put(f"/_sandbox/switches/{_switch_name(any_service)}", content=body, headers=JSON)
    assert resp.status_code == 422, resp.text
    assert resp.json()["details"][0]["field"] == "params"


def test_the_clock_cannot_be_advanced_past_its_range_step_by_step(any_service: TenantClient) -> None:
    step = MAX_CLOCK_OFFSET_S // 2
    assert any_service.post("/_sandbox/clock", json={"advance_seconds": step}).status_code == 200
    assert any_service.post("/_sandbox/clock", json={"advance_seconds": step}).status_code == 200
    resp = any_service.post("/_sandbox/clock", json={"advance_seconds": step})
    assert resp.status_code == 422 and resp.json()["error_code"] == "CLOCK_OUT_OF_RANGE"
    now = any_service.get("/_sandbox/clock")
    assert now.status_code == 200 and now.json()["offset_seconds"] == 2 * step


def test_the_gateway_clock_cannot_be_advanced_past_its_range_step_by_step(lone_gateway: TestClient) -> None:
    headers = {"x-sandbox-tenant": "t-clock-range"}
    step = MAX_CLOCK_OFFSET_S // 2
    for _ in range(2):
        assert lone_gateway.post("/_sandbox/clock", json={"advance_seconds": step}, headers=headers).status_code == 200
    resp = lone_gateway.post("/_sandbox/clock", json={"advance_seconds": step}, headers=headers)
    assert resp.status_code == 422 and resp.json()["error_code"] == "CLOCK_OUT_OF_RANGE"
    lone_gateway.delete("/_sandbox/clock", headers=headers)


def test_non_finite_clock_values_are_refused(any_service: TenantClient) -> None:
    for raw in (b'{"advance_seconds": Infinity}', b'{"offset_seconds": NaN}'):
        resp = any_service.post("/_sandbox/clock", content=raw, headers=JSON)
        assert resp.status_code == 422, resp.text


def _schemas_without_bounds(app: FastAPI) -> list[str]:
    doc = app.openapi()

    def walk(schema: Any, where: str, seen: frozenset[str]) -> Iterator[str]:
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref")
        if ref is not None:
            name = ref.rsplit("/", 1)[-1]
            target = doc.get("components", {}).get("schemas", {}).get(name)
            if target is not None and ref not in seen:
                yield from walk(target, where, seen | {ref})
            return
        if schema.get("type") in ("integer", "number") and "enum" not in schema and "const" not in schema:
            # An enumeration (``Literal[1, 2]``) is bounded by its values.
            has_max = "maximum" in schema or "exclusiveMaximum" in schema
            has_min = "minimum" in schema or "exclusiveMinimum" in schema
            if not (has_max and has_min):
                yield where
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in schema.get(key, []):
                yield from walk(sub, where, seen)
        for name, sub in schema.get("properties", {}).items():
            yield from walk(sub, f"{where}.{name}", seen)
        for key in ("items", "additionalProperties"):
            yield from walk(schema.get(key), f"{where}[]", seen)
        for name, sub in schema.get("$defs", {}).items():
            yield from walk(sub, f"{where}#{name}", seen)

    found = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                found += [f"{method.upper()} {path} {w}" for w in walk(p.get("schema"), p["name"], frozenset())]
            for media in op.get("requestBody", {}).get("content", {}).values():
                found += [f"{method.upper()} {path} {w}" for w in walk(media.get("schema"), "body", frozenset())]
    return found


def test_every_number_a_service_accepts_has_a_documented_range(any_service: TenantClient) -> None:
    assert any_service.app is not None
    assert _schemas_without_bounds(any_service.app) == []


def test_every_number_the_gateway_control_plane_accepts_has_a_documented_range(lone_gateway: TestClient) -> None:
    gw: Gateway = lone_gateway.app  # type: ignore[assignment]
    assert _schemas_without_bounds(gw.control) == []


# -- unparseable bodies -----------------------------------------------------------------------------


MULTIPART = {"content-type": "multipart/form-data"}  # no boundary: the form cannot be parsed
BROKEN_MULTIPART = b"--zz\r\nnot a form"


@pytest.mark.parametrize(
    ("service", "path"),
    [("identity", "/oauth2/token"), ("identity", "/_sandbox/personas"), ("payment", "/_sandbox/partners")],
)
def test_unparseable_bodies_answer_a_documented_code_in_vietnamese(
    service_clients: dict[str, TestClient], tenant: str, service: str, path: str
) -> None:
    client = TenantClient(service_clients[service], tenant)
    for headers, content in (
        (MULTIPART, BROKEN_MULTIPART),
        (JSON, b'{"a": "\xff\xfe"}'),
    ):
        resp = client.post(path, content=content, headers=headers)
        assert 400 <= resp.status_code < 500, resp.text
        body = resp.json()
        code = body.get("error_code") or body.get("error")
        assert code and not str(code).startswith("HTTP_"), body
        assert "error parsing the body" not in str(body)


def test_the_gateway_token_endpoint_answers_an_unparseable_form_with_a_documented_code(
    lone_gateway: TestClient,
) -> None:
    resp = lone_gateway.post("/oauth2/token", content=BROKEN_MULTIPART, headers=MULTIPART)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["error_code"] == "MALFORMED_BODY"
    assert body["message"] == "Không đọc được nội dung yêu cầu (biểu mẫu hoặc dữ liệu sai định dạng)"


def test_every_framework_status_has_a_documented_code_and_a_vietnamese_message() -> None:
    from vnsandbox.errors import framework_error

    for status in range(400, 600):
        err = framework_error(status)
        assert err.status_code == status
        assert re.fullmatch(r"[A-Z_]+", err.code) and not err.code.startswith("HTTP_")
        assert err.message_vi != err.message_en
    assert framework_error(400, "application/json").code == "MALFORMED_JSON"
    assert framework_error(400, "multipart/form-data; boundary=x").code == "MALFORMED_BODY"


# -- 405 and Allow ---------------------------------------------------------------------------------

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _methods_by_path(app: FastAPI) -> dict[str, set[str]]:
    """Every concrete path of the app's routes → the methods some route answers there."""
    routes = [r for r in iter_route_contexts(app.routes) if r.methods]
    paths = {_concrete(r.path) for r in routes}
    out: dict[str, set[str]] = {}
    for path in paths:
        out[path] = {m for r in routes if r.path_regex.match(path) for m in r.methods}
    return out


def _assert_405_lists_every_method(client: TestClient | TenantClient, app: FastAPI) -> None:
    for path, allowed in sorted(_methods_by_path(app).items()):
        wrong = next((m for m in METHODS if m not in allowed), None)
        if wrong is None:
            continue
        resp = client.request(wrong, path)
        assert resp.status_code == 405, (wrong, path, resp.text)
        assert resp.json()["error_code"] == "METHOD_NOT_ALLOWED"
        assert set(resp.headers["allow"].split(", ")) == allowed, (wrong, path)


def test_405_lists_every_method_of_the_path(any_service: TenantClient) -> None:
    assert any_service.app is not None
    _assert_405_lists_every_method(any_service, any_service.app)


def test_405_on_the_clock_names_get_post_and_delete(any_service: TenantClient) -> None:
    resp = any_service.put("/_sandbox/clock")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "DELETE, GET, POST"


def test_405_on_the_gateway_control_plane_lists_every_method_of_the_path(lone_gateway: TestClient) -> None:
    gw: Gateway = lone_gateway.app  # type: ignore[assignment]
    _assert_405_lists_every_method(lone_gateway, gw.control)


# -- bodies that never finish -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_body_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcesses]:
    """``vnsandbox up`` with every body-read timeout lowered to one second."""
    env = {f"{p}_BODY_READ_TIMEOUT_S": "1" for p in ("IDENTITY", "DOSSIER", "PAYMENT", "GATEWAY")}
    procs = SandboxProcesses(data_dir=Path(tmp_path_factory.mktemp("slow-body")), env=env).start()
    yield procs
    procs.stop()


def half_a_body(base_url: str, path: str) -> bytes:
    """Send headers announcing 100 bytes and only 10 of them; return the reply (read until close)."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n".encode()
            + b'{"advance'
        )
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("identity", "/_sandbox/clock"),
        ("dossier", "/api/login"),
        ("payment", "/payments"),
        ("gateway", "/_sandbox/tenants"),
        ("gateway", "/vneid/v1/_sandbox/clock"),
    ],
)
def test_a_body_that_never_finishes_is_answered_408(
    slow_body_sandbox: SandboxProcesses, target: str, path: str
) -> None:
    reply = half_a_body(slow_body_sandbox.url(target), path)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), reply[:300]
    assert b'"error_code":"REQUEST_TIMEOUT"' in body


def _parsed_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_parsed_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_parsed_depth, value), default=0)
    return 0


_JSON_TEXTS = st.text(alphabet=st.sampled_from('ab[]{}"\\:,ệ\n'), max_size=8)
_JSON_VALUES = st.recursive(
    st.none() | st.integers() | _JSON_TEXTS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_JSON_TEXTS, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(value=_JSON_VALUES, ascii_only=st.booleans())
def test_json_depth_is_the_nesting_of_the_parsed_value_whatever_the_strings_hold(value: Any, ascii_only: bool) -> None:
    # Strings full of brackets, quotes and backslashes do not nest; escaped or not (\u1ec7).
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json_depth(text) == _parsed_depth(value)
    assert json_depth(text.encode()) == _parsed_depth(value)


@pytest.mark.parametrize(
    "text, depth",
    [('["]"]', 1), ('[["\\"[["]]', 2), ('"\\\\" [[', 2), ('["[', 2), ('[["\\"[[', 4), ("", 0)],
)
def test_json_depth_of_a_broken_text_counts_every_bracket_outside_its_complete_strings(text: str, depth: int) -> None:
    # An unterminated string is not a string: its brackets count (the parser refuses the text anyway).
    assert json_depth(text) == depth
