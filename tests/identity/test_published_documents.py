"""The discovery document and the JWKS are kept encoded in memory: what they say must still follow
every change at once (rotation, clock, reset) and differ per tenant and issuer."""

from __future__ import annotations

from tests.support import TenantClient


def _kids(client: TenantClient) -> list[str]:
    return [k["kid"] for k in client.get("/oauth2/jwks").json()["keys"]]


def test_rotation_changes_the_served_jwks_at_once(identity):
    before = _kids(identity)
    assert _kids(identity) == before  # now answered from memory
    new_kid = identity.post("/_sandbox/keys/rotate").json()["active_kid"]
    assert _kids(identity) == [*before, new_kid]


def test_each_tenant_is_served_its_own_jwks(identity, service_clients):
    from tests.support import new_tenant

    other = TenantClient(service_clients["identity"], new_tenant())
    shared = _kids(other)
    assert _kids(identity) == shared
    new_kid = identity.post("/_sandbox/keys/rotate").json()["active_kid"]
    assert new_kid in _kids(identity)
    assert _kids(other) == shared


def test_a_reset_serves_the_shared_keys_again(identity):
    shared = _kids(identity)
    identity.post("/_sandbox/keys/rotate")
    assert _kids(identity) != shared
    identity.post("/_sandbox/reset")
    assert _kids(identity) == shared


def test_moving_the_clock_past_a_retired_keys_tokens_unpublishes_it_at_once(identity):
    old = _kids(identity)
    new_kid = identity.post("/_sandbox/keys/rotate").json()["active_kid"]
    assert _kids(identity) == [*old, new_kid]
    identity.post("/_sandbox/clock", json={"advance_seconds": 3700})
    assert _kids(identity) == [new_kid]


def test_each_issuer_is_served_its_own_discovery_document(identity):
    def issuer(host: str) -> str:
        headers = {"X-Forwarded-Host": host, "X-Forwarded-Proto": "https"}
        meta = identity.get("/.well-known/openid-configuration", headers=headers).json()
        assert meta["token_endpoint"] == meta["issuer"] + "/oauth2/token"
        return str(meta["issuer"])

    assert issuer("a.example.vn") == "https://a.example.vn"
    assert issuer("b.example.vn") == "https://b.example.vn"
    assert issuer("a.example.vn") == "https://a.example.vn"


def test_discovery_and_jwks_are_json(identity):
    for path in ("/.well-known/openid-configuration", "/oauth2/jwks"):
        resp = identity.get(path)
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/json"


#: Callers of the static documents: direct, through the gateway's forwarding headers, on another
#: Host, for another tenant, with a bad tenant name, with a query string.
STATIC_CALLS = [
    ("/.well-known/openid-configuration", {}),
    (
        "/.well-known/openid-configuration",
        {"X-Forwarded-Host": "a.example.vn", "X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/vneid/v1/"},
    ),
    ("/.well-known/openid-configuration?x=1", {"Host": "other.example.vn:8443"}),
    ("/oauth2/jwks", {}),
    ("/oauth2/jwks", {"X-Sandbox-Tenant": "static-docs"}),
    ("/oauth2/jwks", {"X-Sandbox-Tenant": "Bad!"}),
    ("/_sandbox/health", {"X-Sandbox-Tenant": "static-docs"}),
]


def test_static_documents_answer_what_their_routes_answer(tmp_path):
    """The pre-encoded replies given before routing are the routes' replies, journal included."""
    from fastapi.testclient import TestClient

    from services.identity.app import create_app
    from services.identity.settings import IdentitySettings
    from vnsandbox.service import ServiceApp

    app = create_app(
        IdentitySettings(database_url=f"sqlite:///{tmp_path}/identity.db", data_dir=tmp_path, seed_people=0)
    )
    assert isinstance(app, ServiceApp)
    hits: dict[str, int] = {}

    def answers(client: TestClient) -> list[tuple[object, ...]]:
        out = []
        for path, headers in STATIC_CALLS:
            for _ in range(2):  # the second JWKS and health calls are answered from memory
                resp = client.get(path, headers=headers)
                rid = resp.headers["x-request-id"]
                tenant = {k: v for k, v in headers.items() if k == "X-Sandbox-Tenant" and v.islower()}
                entries = client.get("/_sandbox/journal", params={"request_id": rid}, headers=tenant).json()["entries"]
                journalled = [
                    {k: v for k, v in e.items() if k not in ("id", "time", "request_id", "duration_ms")}
                    | {"response_headers": {k: v for k, v in e["response_headers"].items() if k != "x-request-id"}}
                    for e in entries
                ]
                headers_out = sorted((k, v) for k, v in resp.headers.items() if k not in ("x-request-id", "date"))
                # An error's body names its request id: the same reply has another one each time.
                record = repr((path, resp.status_code, resp.content, headers_out, journalled))
                out.append((path, resp.status_code, record.replace(rid, "RID"), bool(journalled)))
        return out

    with TestClient(app) as client:
        context = app.context_middleware()
        assert context is not None

        def counted(path: str, reply):  # type: ignore[no-untyped-def]
            def count(scope):  # type: ignore[no-untyped-def]
                body = reply(scope)
                hits[path] = hits.get(path, 0) + (body is not None)
                return body

            return count

        context.static_replies = {p: counted(p, r) for p, r in context.static_replies.items()}
        fast = answers(client)
        assert set(hits) == {"/.well-known/openid-configuration", "/oauth2/jwks", "/_sandbox/health"}
        assert all(hits.values())
        context.static_replies = {}
        app.static_paths = frozenset()
        assert answers(client) == fast
    assert all(journalled for path, _status, _record, journalled in fast if path != "/_sandbox/health")
