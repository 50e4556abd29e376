"""Isolation sweep: every route of every service, tried as another tenant.

Generic over whatever routes the services publish: it reads each API's OpenAPI document
through the gateway, so routes added later are swept too. Against the real processes of
the ``secured`` sandbox (auth at the gateway, signed tenants at the services):

1. Tenant A and tenant B each make the same calls to create data (every POST/PUT without
   path parameters, with bodies generated from the OpenAPI schemas; each tenant's own
   marker in free-text fields), so data derived from fixed seeds exists in both.
2. A's view is recorded: every GET without path parameters (and with A's identifiers).
   "A-only" strings are those in A's view and nowhere in B's.
3. B calls every operation (GET, then POST/PUT/PATCH, then DELETE), filling path
   parameters with A-only identifiers.
4. No reply to B may contain an A-only string (or A's marker) that B did not itself send,
   and A's view afterwards is what it was before (B changed and reset nothing of A's).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from typing import Any

import httpx
import pytest
from hypothesis import find
from hypothesis import strategies as st

from tests.gateway.conftest import TenantCreds, create_tenant

pytestmark = pytest.mark.multiprocess

ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
COMPACT_TIME = re.compile(r"^20\d{12}$")  # yyyyMMddHHmmss, as DVCQG and PayGov write times
VOLATILE_KEYS = {"now", "time", "pid", "request_id", "duration_ms", "at", "generated_at", "server_time"}
#: Routes whose replies describe calls or the process rather than a tenant's data (they
#: change with every call, or with other tenants' traffic by design, e.g. process metrics).
UNSNAPSHOTTED = ("/_sandbox/journal", "/_sandbox/health", "/_sandbox/metrics")
IDENT = re.compile(r"^[A-Za-z0-9._:@/+-]{6,80}$")


class SchemaFaker:
    """Minimal request bodies from an OpenAPI document's JSON schemas."""

    def __init__(self, spec: dict[str, Any], marker: str) -> None:
        self.spec = spec
        self.marker = marker
        #: Fields named "seed" get a number of the tenant's own, so seeded data differs per tenant.
        self.seed = int(hashlib.sha256(marker.encode()).hexdigest()[:6], 16)

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.spec
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def value(self, schema: dict[str, Any], depth: int = 0) -> Any:
        schema = self.resolve(schema)
        if depth > 6:
            return None
        if "example" in schema:
            return schema["example"]
        examples = schema.get("examples")
        if isinstance(examples, list) and examples:
            return examples[0]
        if schema.get("default") is not None:
            return schema["default"]
        if "enum" in schema:
            return schema["enum"][0]
        if "const" in schema:
            return schema["const"]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [o for o in schema[key] if self.resolve(o).get("type") != "null"]
                return self.value(options[0], depth + 1) if options else None
        if "allOf" in schema:
            return self.value(schema["allOf"][0], depth + 1)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            props = schema.get("properties", {})
            out = {k: self.value(props[k], depth + 1) for k in schema.get("required", []) if k in props}
            if "seed" in props and self.resolve(props["seed"]).get("type") == "integer":
                out["seed"] = self.seed
            if not props and schema.get("additionalProperties") not in (None, False):
                out["marker"] = self.marker
            return out
        if kind == "array":
            return [self.value(schema.get("items", {}), depth + 1) for _ in range(max(1, schema.get("minItems", 1)))]
        if kind == "integer":
            low, high = schema.get("minimum", 1), schema.get("maximum")
            return 3 if low <= 3 and (high is None or high >= 3) else int(low)
        if kind == "number":
            return float(schema.get("minimum", 1.0))
        if kind == "boolean":
            return True
        if kind == "string":
            return self.string(schema)
        return self.marker

    def string(self, schema: dict[str, Any]) -> str:
        if "pattern" in schema:
            pattern = schema["pattern"]
            found: str = find(st.from_regex(pattern, fullmatch=True), lambda _: True)
            return found
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2026-01-15T08:00:00+07:00"
        if fmt == "date":
            return "2026-01-15"
        if fmt == "email":
            return f"{self.marker}@example.vn"
        if fmt in ("uri", "url"):
            return "http://127.0.0.1:9/hook"
        text = self.marker
        if "maxLength" in schema:
            text = text[: schema["maxLength"]]
        return text.ljust(schema.get("minLength", 0), "x")


def strings_in(value: Any) -> set[str]:
    """Identifier-like strings anywhere in a JSON value (keys and values)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and IDENT.match(k):
                out.add(k)
            out |= strings_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            out |= strings_in(v)
    elif isinstance(value, str) and IDENT.match(value) and not ISO_TIME.fullmatch(value):
        out.add(value)
    return out


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str):
        return "<time>" if COMPACT_TIME.match(value) else ISO_TIME.sub("<time>", value)
    return value


def reply_value(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return resp.text


class Api:
    def __init__(self, prefix: str, spec: dict[str, Any]) -> None:
        self.prefix = prefix
        self.spec = spec
        self.operations: list[tuple[str, str, dict[str, Any]]] = [
            (method.upper(), path, op)
            for path, item in spec["paths"].items()
            for method, op in item.items()
            if method in ("get", "post", "put", "patch", "delete")
        ]


def params_of(path: str) -> list[str]:
    return re.findall(r"{([^}]+)}", path)


def body_for(op: dict[str, Any], faker: SchemaFaker) -> dict[str, Any]:
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return {"json": faker.value(content["application/json"].get("schema", {}))}
    for form in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if form in content:
            data = faker.value(content[form].get("schema", {}))
            return {"data": {k: v if isinstance(v, str) else json.dumps(v) for k, v in (data or {}).items()}}
    return {}


def call(tenant: TenantCreds, method: str, url: str, **kw: Any) -> httpx.Response:
    return tenant.request(method, url, timeout=15, follow_redirects=False, **kw)


def fill(path: str, tenant: TenantCreds, value: str) -> str:
    out = path
    for name in params_of(path):
        # A tenant named in a path is the caller's own: B reaching for A's data must do it as B.
        out = out.replace("{" + name + "}", tenant.tenant if name == "tenant" else value)
    return out


def seed(tenant: TenantCreds, apis: list[Api]) -> None:
    faker_cache: dict[str, SchemaFaker] = {}
    for api in apis:
        faker = faker_cache.setdefault(api.prefix, SchemaFaker(api.spec, f"MARK{tenant.tenant.replace('-', '')}"))
        code = "m" + hashlib.sha256(tenant.tenant.encode()).hexdigest()[:7]
        for method, path, op in api.operations:
            creates = (method == "POST" and not params_of(path)) or (method == "PUT" and "switches" not in path)
            if creates and not path.endswith(("/reset", "/rotate")):
                call(tenant, method, api.prefix + fill(path, tenant, code), **body_for(op, faker))


def view(tenant: TenantCreds, apis: list[Api], ids: set[str]) -> dict[str, Any]:
    """Normalised replies of every GET (without path parameters, and with each of ``ids``)."""
    out: dict[str, Any] = {}
    for api in apis:
        for method, path, _ in api.operations:
            if method != "GET" or path.startswith(UNSNAPSHOTTED):
                continue
            targets = [path] if not params_of(path) else [fill(path, tenant, i) for i in sorted(ids)[:4]]
            for target in targets:
                resp = call(tenant, "GET", api.prefix + target)
                out[api.prefix + target] = (resp.status_code, normalise(reply_value(resp)))
    return out


@pytest.fixture
def apis(secured_client: httpx.Client) -> list[Api]:
    probe = create_tenant(secured_client)
    out = []
    for entry in secured_client.get("/apis").json():
        resp = probe.get(f"{entry['prefix']}/openapi.json")
        assert resp.status_code == 200, resp.text
        out.append(Api(entry["prefix"], resp.json()))
    assert sum(len(a.operations) for a in out) > 20
    return out


def test_no_route_of_any_service_shows_or_changes_another_tenants_data(
    secured_client: httpx.Client, apis: list[Api]
) -> None:
    a, b = create_tenant(secured_client), create_tenant(secured_client)
    seed(a, apis)
    seed(b, apis)
    first = view(a, apis, set())
    b_view = view(b, apis, set())
    a_only = strings_in(first) - strings_in(b_view) - {a.tenant}
    # Short digit strings (dates, phone numbers) may coincide by chance between tenants.
    a_only = {s for s in a_only if not (s.isdigit() and len(s) < 12)}
    a_ids = {s for s in a_only if not s.startswith(("http", "/"))}
    before = view(a, apis, a_ids)
    again = view(a, apis, a_ids)
    stable = {k: v for k, v in before.items() if again.get(k) == v}
    secrets = a_only | {a.tenant, f"MARK{a.tenant.replace('-', '')}"}

    leaks: list[str] = []
    sent = ""  # everything B sent so far: what B named itself is B's, not a leak
    order = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    swept = 0
    for api in apis:
        faker = SchemaFaker(api.spec, f"MARK{b.tenant.replace('-', '')}")
        for method, path, op in sorted(api.operations, key=lambda o: order[o[0]]):
            candidates = sorted(a_ids)[:6] if params_of(path) else [""]
            for value in candidates:
                target = api.prefix + fill(path, b, value)
                kw = body_for(op, faker)
                sent += target + json.dumps(kw, default=str)
                resp = call(b, method, target, **kw)
                swept += 1
                text = resp.text
                leaks += [f"{method} {target} → {s!r}" for s in secrets if s in text and s not in sent]
    assert swept > 50
    assert leaks == []
    after = view(a, apis, a_ids)
    changed = {k: (v, after.get(k)) for k, v in stable.items() if after.get(k) != v}
    assert changed == {}
    assert len(stable) > 10


def test_sweep_would_notice_a_leak(secured_client: httpx.Client) -> None:
    """The sweep's checks themselves: an identifier of A in B's reply is caught."""
    a_view = {"items": [{"MaHoSo": "000.00.01.H22-240915-12345"}, {"note": "shared"}]}
    b_view = {"items": [{"note": "shared"}]}
    a_only = strings_in(a_view) - strings_in(b_view)
    assert a_only == {"000.00.01.H22-240915-12345", "MaHoSo"}
    assert normalise({"now": "x", "offset": 5, "t": "2026-01-01T00:00:00+00:00"}) == {"offset": 5, "t": "<time>"}
    assert list(itertools.islice(iter(a_only), 1))
