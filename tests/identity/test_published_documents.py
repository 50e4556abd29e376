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
