"""``client_credentials`` answers the same whether it is served before any routing (the usual
case: one read, the signature, the token row) or by the route in a unit of work (a request with
a query string always is; so is every refusal, another grant, another authentication method)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt

from tests.identity.conftest import register
from tests.support import TenantClient, statements

DEV = ("vnsandbox-dev", "vnsandbox-dev-secret")
TIMES = ("iat", "nbf", "exp", "jti")


def both_ways(identity: TenantClient, **kwargs: Any) -> tuple[httpx.Response, httpx.Response]:
    """The token request answered as usual, and by the route (a query string keeps it from the quick path)."""
    return identity.post("/oauth2/token", **kwargs), identity.post("/oauth2/token?via=route", **kwargs)


def claims(identity: TenantClient, token: str) -> dict[str, Any]:
    """The token's header and claims, its signature checked against the tenant's JWKS."""
    header = jwt.get_unverified_header(token)
    jwk = next(k for k in identity.get("/oauth2/jwks").json()["keys"] if k["kid"] == header["kid"])
    key = jwt.PyJWK.from_json(json.dumps(jwk))
    body: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        options={"verify_aud": False, "verify_iat": False, "verify_nbf": False, "verify_exp": False},
    )
    return {"header": header, **body}


def same_but_times(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert {k: v for k, v in a.items() if k not in TIMES} == {k: v for k, v in b.items() if k not in TIMES}


def test_a_client_credentials_token_is_one_read_and_one_insert_and_the_reply_is_the_routes(
    identity: TenantClient,
) -> None:
    form = {"grant_type": "client_credentials"}
    identity.post("/oauth2/token", data=form, auth=DEV)  # the process now holds the tenant's keys
    with statements(identity) as seen:
        quick = identity.post("/oauth2/token", data=form, auth=DEV)
    assert quick.status_code == 200, quick.text
    # (the key set is read again when the process's few-second cache of it lapsed)
    ours = [s.lstrip().upper() for s in seen if "identity_signing_key" not in s]
    assert len(ours) == 2 and ours[0].startswith("SELECT") and ours[1].startswith("INSERT INTO IDENTITY_TOKEN ")
    route = identity.post("/oauth2/token?via=route", data=form, auth=DEV)
    assert route.status_code == 200
    for name in ("cache-control", "pragma", "content-type"):
        assert quick.headers[name] == route.headers[name]
    q, r = quick.json(), route.json()
    assert list(q) == list(r) == ["access_token", "token_type", "expires_in", "scope"]
    assert {k: v for k, v in q.items() if k != "access_token"} == {k: v for k, v in r.items() if k != "access_token"}
    quick_claims, route_claims = claims(identity, q["access_token"]), claims(identity, r["access_token"])
    same_but_times(quick_claims, route_claims)
    assert quick_claims["header"]["typ"] == "at+jwt" and quick_claims["scope"] == "population:verify"
    # The quick path wrote the token's row: introspection and the population API know it.
    seen_by_idp = identity.post("/oauth2/introspect", data={"token": q["access_token"]}, auth=DEV).json()
    assert seen_by_idp["active"] is True and seen_by_idp["client_id"] == DEV[0]


def test_secret_in_the_form_a_requested_scope_and_a_tenants_own_client(identity: TenantClient) -> None:
    rp = register(identity, auth_methods=["client_secret_post"], scopes=["openid", "population:verify"])
    form = {"grant_type": "client_credentials", "scope": "population:verify"}
    form |= {"client_id": rp.client_id, "client_secret": rp.client_secret}
    quick, route = both_ways(identity, data=form)
    assert quick.status_code == route.status_code == 200, quick.text
    same_but_times(claims(identity, quick.json()["access_token"]), claims(identity, route.json()["access_token"]))
    assert claims(identity, quick.json()["access_token"])["sub"] == rp.client_id


def test_the_tenants_clock_and_a_rotated_key_are_used(identity: TenantClient) -> None:
    form = {"grant_type": "client_credentials"}
    identity.post("/_sandbox/clock", json={"advance_seconds": 86_400})
    quick, route = both_ways(identity, data=form, auth=DEV)
    for reply in (quick, route):  # issued a day ahead, on the tenant's clock
        assert abs(claims(identity, reply.json()["access_token"])["iat"] - time.time() - 86_400) < 120
    new_kid = identity.post("/_sandbox/keys/rotate").json()["active_kid"]
    token = identity.post("/oauth2/token", data=form, auth=DEV).json()["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    now = identity.get("/_sandbox/clock").json()
    assert now["offset_seconds"] == 86_400


def test_refusals_are_the_routes(identity: TenantClient) -> None:
    form = {"grant_type": "client_credentials"}
    wrong = ("vnsandbox-dev", "not-the-secret")
    for kwargs, status, error in (
        ({"data": form, "auth": wrong}, 401, "invalid_client"),
        ({"data": form, "auth": ("nobody", "x")}, 401, "invalid_client"),
        ({"data": form | {"scope": "openid"}, "auth": DEV}, 400, "invalid_scope"),
        ({"data": form | {"client_id": "vnsandbox-dev", "client_secret": DEV[1]}, "auth": DEV}, 400, "invalid_request"),
        ({"data": form | {"client_id": "someone-else"}, "auth": DEV}, 401, "invalid_client"),
        ({"data": {"grant_type": "password"}, "auth": DEV}, 400, "unsupported_grant_type"),
        ({"data": form}, 401, "invalid_client"),
    ):
        quick, route = both_ways(identity, **kwargs)
        assert (quick.status_code, quick.json()["error"]) == (status, error), (kwargs, quick.text)
        assert quick.json() == route.json()
        assert quick.headers.get("www-authenticate") == route.headers.get("www-authenticate")
    machine_only = register(identity, grant_types=["authorization_code"])
    r = identity.post("/oauth2/token", data=form, auth=(machine_only.client_id, machine_only.client_secret))
    assert (r.status_code, r.json()["error"]) == (400, "unauthorized_client")
    broken = "Basic " + base64.b64encode(b"no-colon").decode()
    r = identity.post("/oauth2/token", data=form, headers={"Authorization": broken})
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
