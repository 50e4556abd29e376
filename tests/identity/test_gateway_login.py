"""A standard OIDC client library (authlib) logs in through the gateway with no sandbox-specific
code: it reads the discovery document, sends a PKCE authorization request with ``login_hint``,
exchanges the code, validates the ID token against the JWKS (joserfc) and reads userinfo."""

from __future__ import annotations

import secrets
import warnings
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support import SandboxProcesses, new_tenant

pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.xdist_group("multiprocess"),
    # authlib announces its move to httpx2; the client works the same.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*httpx2.*"),
]

REDIRECT = "https://rp.example.gov.vn/callback"


def oauth_client(**kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.integrations.httpx_client import OAuth2Client
    return OAuth2Client(**kwargs)


@pytest.fixture
def setup(sandbox: SandboxProcesses) -> dict[str, Any]:
    tenant = new_tenant()
    base = sandbox.gateway + "/vneid/v1"
    h = {"X-Sandbox-Tenant": tenant}
    client = httpx.post(
        f"{base}/_sandbox/clients",
        headers=h,
        json={
            "client_id": "mot-cua-" + secrets.token_hex(4),
            "redirect_uris": [REDIRECT],
            "scopes": ["openid", "profile", "email", "population:verify"],
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "auth_methods": ["client_secret_basic", "client_secret_post"],
        },
    ).json()
    citizen = httpx.post(
        f"{base}/_sandbox/personas",
        headers=h,
        json={"HoVaTen": "Lê Thị Hoa", "NgayThangNamSinh": "19950505", "GioiTinh": "Nữ", "MucDoXacThuc": 2},
    ).json()
    return {"base": base, "headers": h, "client": client, "citizen": citizen}


def test_discovery_through_the_gateway_names_gateway_urls(sandbox, setup):
    meta = httpx.get(setup["base"] + "/.well-known/openid-configuration", headers=setup["headers"]).json()
    # The gateway relays a tenant's calls under its tenant-bound prefix (/t/{tenant}/{sig}), so
    # the issuer and every endpoint carry the tenant and work from a browser without headers.
    assert meta["issuer"].startswith(sandbox.gateway + "/")
    assert meta["issuer"].endswith("/vneid/v1")
    assert meta["token_endpoint"] == meta["issuer"] + "/oauth2/token"
    assert httpx.get(meta["issuer"] + "/.well-known/openid-configuration").json()["issuer"] == meta["issuer"]


def test_the_default_tenants_issuer_is_the_plain_gateway_prefix(sandbox):
    meta = httpx.get(sandbox.gateway + "/vneid/v1/.well-known/openid-configuration").json()
    assert meta["issuer"] == f"{sandbox.gateway}/vneid/v1"


def test_the_login_page_through_the_gateway_works_without_tenant_headers(setup):
    meta = httpx.get(setup["base"] + "/.well-known/openid-configuration", headers=setup["headers"]).json()
    cl = setup["client"]
    query = {"client_id": cl["client_id"], "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid"}
    page = httpx.get(meta["authorization_endpoint"], params=query)
    assert page.status_code == 200
    assert "Lê Thị Hoa" in page.text
    form = query | {"SoDinhDanh": setup["citizen"]["SoDinhDanh"], "action": "approve"}
    login_url = meta["authorization_endpoint"].rsplit("/", 1)[0] + "/login"
    r = httpx.post(login_url, data=form, follow_redirects=False)
    assert r.status_code == 303
    assert "code=" in r.headers["location"]


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_completes_a_pkce_login_through_the_gateway(setup, method):
    h = setup["headers"]
    meta = httpx.get(setup["base"] + "/.well-known/openid-configuration", headers=h).json()
    cl = setup["client"]
    with oauth_client(
        client_id=cl["client_id"],
        client_secret=cl["client_secret"],
        scope="openid profile email",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method=method,
        headers=h,
    ) as oauth:
        login_and_use(oauth, meta, setup, h, cl)


def login_and_use(oauth, meta, setup, h, cl):
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(12)
    url, state = oauth.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, login_hint=setup["citizen"]["SoDinhDanh"]
    )
    redirect = httpx.get(url, headers=h, follow_redirects=False)
    assert redirect.status_code == 302
    token = oauth.fetch_token(
        meta["token_endpoint"], authorization_response=redirect.headers["location"], code_verifier=verifier, state=state
    )
    keyset = KeySet.import_key_set(httpx.get(meta["jwks_uri"], headers=h).json())
    id_token = jwt.decode(token["id_token"], keyset, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": meta["issuer"]},
        aud={"essential": True, "value": cl["client_id"]},
        nonce={"essential": True, "value": nonce},
    ).validate(id_token.claims)
    info = oauth.get(meta["userinfo_endpoint"]).json()
    assert info["HoVaTen"] == "Lê Thị Hoa"
    assert info["sub"] == id_token.claims["sub"]
    refreshed = oauth.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]


def test_a_province_system_verifies_a_citizen_through_the_gateway(setup):
    h = setup["headers"]
    cl = setup["client"]
    meta = httpx.get(setup["base"] + "/.well-known/openid-configuration", headers=h).json()
    with oauth_client(client_id=cl["client_id"], client_secret=cl["client_secret"], headers=h) as oauth:
        oauth.fetch_token(meta["token_endpoint"], grant_type="client_credentials", scope="population:verify")
        r = oauth.post(
            setup["base"] + "/population/v1/verify",
            json={"SoDinhDanh": setup["citizen"]["SoDinhDanh"], "HoVaTen": "Lê Thị Hoa", "GioiTinh": "Nữ"},
        )
    assert r.status_code == 200
    assert r.json()["MaKetQua"] == "00"


def test_authlib_authenticates_with_private_key_jwt_through_the_gateway(setup):
    from joserfc.jwk import RSAKey

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.oauth2.rfc7523 import PrivateKeyJWT
    h = setup["headers"]
    key = RSAKey.generate_key(2048, parameters={"kid": "mot-cua-key"})
    client_id = "mot-cua-pkjwt-" + secrets.token_hex(4)
    registered = httpx.post(
        setup["base"] + "/_sandbox/clients",
        headers=h,
        json={
            "client_id": client_id,
            "redirect_uris": [REDIRECT],
            "scopes": ["openid", "profile", "population:verify"],
            "grant_types": ["authorization_code", "client_credentials"],
            "auth_methods": ["private_key_jwt"],
            "jwks": {"keys": [key.as_dict(private=False)]},
        },
    )
    assert registered.status_code == 201, registered.text
    meta = httpx.get(setup["base"] + "/.well-known/openid-configuration", headers=h).json()
    with oauth_client(
        client_id=client_id,
        client_secret=key.as_pem(private=True).decode(),
        token_endpoint_auth_method=PrivateKeyJWT(meta["token_endpoint"], headers={"kid": "mot-cua-key"}),
        redirect_uri=REDIRECT,
        scope="openid profile",
        code_challenge_method="S256",
        headers=h,
    ) as oauth:
        verifier = secrets.token_urlsafe(48)
        url, state = oauth.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, login_hint=setup["citizen"]["SoDinhDanh"]
        )
        location = httpx.get(url, headers=h, follow_redirects=False).headers["location"]
        token = oauth.fetch_token(
            meta["token_endpoint"], authorization_response=location, code_verifier=verifier, state=state
        )
        assert "id_token" in token
        system = oauth.fetch_token(meta["token_endpoint"], grant_type="client_credentials", scope="population:verify")
        assert system["scope"] == "population:verify"


def headless_login(setup, scope: str) -> tuple[Any, dict[str, Any], httpx.Response, str, str]:
    """An authlib client of the setup's client, and the provider's reply to its PKCE
    authorization request for ``scope`` with the citizen as ``login_hint``."""
    h = setup["headers"]
    cl = setup["client"]
    meta = httpx.get(setup["base"] + "/.well-known/openid-configuration", headers=h).json()
    oauth = oauth_client(
        client_id=cl["client_id"],
        client_secret=cl["client_secret"],
        scope=scope,
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        headers=h,
    )
    verifier = secrets.token_urlsafe(48)
    url, state = oauth.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, login_hint=setup["citizen"]["SoDinhDanh"]
    )
    return oauth, meta, httpx.get(url, headers=h, follow_redirects=False), verifier, state


def test_a_citizen_login_through_the_gateway_cannot_carry_the_population_scope(setup):
    oauth, _, redirect, _, state = headless_login(setup, "openid population:verify")
    oauth.close()
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = dict(parse_qsl(urlsplit(location).query))
    assert (query["error"], query["state"]) == ("invalid_scope", state)
    assert "code" not in query


def test_a_citizens_login_token_is_refused_by_the_population_api_through_the_gateway(setup):
    oauth, meta, redirect, verifier, state = headless_login(setup, "openid profile")
    with oauth:
        location = redirect.headers["location"]
        oauth.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier, state=state)
        r = oauth.get(setup["base"] + f"/population/v1/citizens/{setup['citizen']['SoDinhDanh']}")
    assert r.status_code == 403
    assert r.json()["error"] == "insufficient_scope"
