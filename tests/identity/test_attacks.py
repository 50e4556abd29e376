"""Attacks a provider must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.identity.conftest import REDIRECT, pkce_pair, query_of, register

ISSUER = "http://testserver"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    head, body, sig = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(head))), json.loads(base64.urlsafe_b64decode(pad(body))), sig


def test_an_unsigned_alg_none_token_is_refused(rp, citizen):
    access = rp.login(citizen["SoDinhDanh"])["access_token"]
    header, claims, _ = parts(access)
    forged = f"{b64(json.dumps(header | {'alg': 'none'}).encode())}.{b64(json.dumps(claims).encode())}."
    assert rp.userinfo(forged).status_code == 401
    assert rp.introspect(forged) == {"active": False}


def test_hs256_signed_with_the_public_key_is_refused(identity, rp, citizen):
    access = rp.login(citizen["SoDinhDanh"])["access_token"]
    header, claims, _ = parts(access)
    jwk = next(k for k in identity.get("/oauth2/jwks").json()["keys"] if k["kid"] == header["kid"])
    public_pem = RSAKey.import_key(jwk).as_pem(private=False)
    signing_input = f"{b64(json.dumps(header | {'alg': 'HS256'}).encode())}.{b64(json.dumps(claims).encode())}"
    sig = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(sig)}"
    assert rp.userinfo(forged).status_code == 401


def test_a_tampered_signature_is_refused(rp, citizen):
    access = rp.login(citizen["SoDinhDanh"])["access_token"]
    head, body, sig = access.split(".")
    flipped = sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")
    assert rp.userinfo(f"{head}.{body}.{flipped}").status_code == 401


def test_changed_claims_under_the_original_signature_are_refused(rp, citizen):
    access = rp.login(citizen["SoDinhDanh"])["access_token"]
    head, _, sig = access.split(".")
    _, claims, _ = parts(access)
    body = b64(json.dumps(claims | {"scope": "openid profile population:verify"}).encode())
    assert rp.userinfo(f"{head}.{body}.{sig}").status_code == 401


def test_a_token_signed_by_another_key_is_refused(rp, citizen):
    access = rp.login(citizen["SoDinhDanh"])["access_token"]
    header, claims, _ = parts(access)
    other = RSAKey.generate_key(2048)
    forged = jwt.encode({"alg": "RS256", "kid": header["kid"]}, claims, other)
    assert rp.userinfo(forged).status_code == 401


def test_an_expired_access_token_is_refused(identity, rp, citizen):
    access = rp.login(citizen["SoDinhDanh"])["access_token"]
    identity.post("/_sandbox/clock", json={"advance_seconds": 7200})
    assert rp.userinfo(access).status_code == 401


def test_a_token_of_another_tenant_is_refused(identity, rp, citizen, service_clients):
    from tests.support import TenantClient, new_tenant

    access = rp.login(citizen["SoDinhDanh"])["access_token"]
    other = TenantClient(service_clients["identity"], new_tenant())
    assert other.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code == 401


def test_a_replayed_code_is_refused_and_revokes_its_tokens(rp, citizen):
    code = rp.code_for(citizen["SoDinhDanh"])
    first = rp.exchange(code).json()
    again = rp.exchange(code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert rp.userinfo(first["access_token"]).status_code == 401
    assert rp.token(grant_type="refresh_token", refresh_token=first["refresh_token"]).status_code == 400


def test_a_code_cannot_be_redeemed_by_another_client(identity, rp, citizen):
    code = rp.code_for(citizen["SoDinhDanh"])
    thief = register(identity)
    assert thief.exchange(code).json()["error"] == "invalid_grant"


def test_a_pkce_verifier_mismatch_is_refused(rp, citizen):
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    code = rp.code_for(citizen["SoDinhDanh"], code_challenge=challenge, code_challenge_method="S256")
    r = rp.exchange(code, code_verifier=other_verifier)
    assert r.json()["error"] == "invalid_grant"


def test_a_missing_pkce_verifier_is_refused(rp, citizen):
    _, challenge = pkce_pair()
    code = rp.code_for(citizen["SoDinhDanh"], code_challenge=challenge, code_challenge_method="S256")
    assert rp.exchange(code).json()["error"] == "invalid_grant"


def test_a_code_that_failed_pkce_cannot_be_retried(rp, citizen):
    verifier, challenge = pkce_pair()
    code = rp.code_for(citizen["SoDinhDanh"], code_challenge=challenge, code_challenge_method="S256")
    rp.exchange(code, code_verifier=pkce_pair()[0])
    assert rp.exchange(code, code_verifier=verifier).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "uri",
    [
        REDIRECT + "/evil",
        REDIRECT + "x",
        REDIRECT + "?next=https://evil.example",
        REDIRECT + "/../evil",
        REDIRECT.replace("https://", "http://"),
        REDIRECT.upper(),
        REDIRECT.replace("rp.example.gov.vn", "rp.example.gov.vn.evil.example"),
        REDIRECT.replace("https://", "https://evil.example@"),
        REDIRECT + "#frag",
        REDIRECT[:-1],
    ],
)
def test_redirect_uri_tricks_get_an_error_page_and_no_redirect(rp, citizen, uri):
    r = rp.authorize(login=citizen["SoDinhDanh"], redirect_uri=uri)
    assert r.status_code == 400
    assert "location" not in r.headers
    assert "redirect_uri" in r.text


def test_an_unknown_client_gets_an_error_page_and_no_redirect(rp, citizen):
    rp.client_id = "nobody"
    r = rp.authorize(login=citizen["SoDinhDanh"])
    assert r.status_code == 400
    assert "location" not in r.headers


def test_a_token_request_with_another_redirect_uri_is_refused(identity, citizen):
    rp = register(identity, redirect_uris=[REDIRECT, REDIRECT + "2"])
    code = rp.code_for(citizen["SoDinhDanh"])
    r = rp.token(grant_type="authorization_code", code=code, redirect_uri=REDIRECT + "2")
    assert r.json()["error"] == "invalid_grant"


def test_scopes_beyond_the_clients_registration_are_refused(identity, citizen):
    rp = register(identity, scopes=["openid"])
    q = query_of(rp.authorize(login=citizen["SoDinhDanh"], scope="openid profile").headers["location"])
    assert q["error"] == "invalid_scope"


def _assertion(key, client_id, aud, **extra):
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex}
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims | extra, key)


def _key_client(identity):
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    rp = register(identity, auth_methods=["private_key_jwt"], jwks={"keys": [key.as_dict(private=False)]})
    return key, rp


def _cc(identity, assertion):
    return identity.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )


def test_a_client_assertion_for_another_audience_is_refused(identity):
    key, rp = _key_client(identity)
    r = _cc(identity, _assertion(key, rp.client_id, "https://elsewhere.example/token"))
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")


def test_a_client_assertion_signed_by_an_unregistered_key_is_refused(identity):
    _, rp = _key_client(identity)
    stranger = RSAKey.generate_key(2048)
    r = _cc(identity, _assertion(stranger, rp.client_id, f"{ISSUER}/oauth2/token"))
    assert r.json()["error"] == "invalid_client"


def test_a_replayed_client_assertion_is_refused(identity):
    key, rp = _key_client(identity)
    assertion = _assertion(key, rp.client_id, f"{ISSUER}/oauth2/token")
    assert _cc(identity, assertion).status_code == 200
    assert _cc(identity, assertion).json()["error"] == "invalid_client"


def test_an_expired_client_assertion_is_refused(identity):
    key, rp = _key_client(identity)
    assertion = _assertion(key, rp.client_id, f"{ISSUER}/oauth2/token")
    identity.post("/_sandbox/clock", json={"advance_seconds": 120})
    assert _cc(identity, assertion).json()["error"] == "invalid_client"


def test_a_client_assertion_with_alg_none_is_refused(identity):
    _, rp = _key_client(identity)
    claims = {"iss": rp.client_id, "sub": rp.client_id, "aud": f"{ISSUER}/oauth2/token", "exp": 2**31, "jti": "x"}
    header = b64(json.dumps({"alg": "none"}).encode())
    forged = f"{header}.{b64(json.dumps(claims).encode())}."
    assert _cc(identity, forged).json()["error"] == "invalid_client"


def test_a_client_with_an_unusable_registered_key_gets_invalid_client_not_an_error(identity):
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    broken = key.as_dict(private=False) | {"n": "not-base64!"}
    rp = register(identity, auth_methods=["private_key_jwt"], jwks={"keys": [broken]})
    r = _cc(identity, _assertion(key, rp.client_id, f"{ISSUER}/oauth2/token"))
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
