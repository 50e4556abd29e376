"""Each named error switch, observed the way a relying party sees it."""

from __future__ import annotations

import pytest
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
)
from joserfc.jwk import KeySet

from tests.identity.conftest import persona, query_of, register

ISSUER = "http://testserver"


def switch(idp, name, **body):
    r = idp.put(f"/_sandbox/switches/{name}", json=body)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("ACCESS_DENIED", "access_denied"),
        ("LOGIN_REQUIRED", "login_required"),
        ("TEMPORARILY_UNAVAILABLE", "temporarily_unavailable"),
        ("SERVER_ERROR", "server_error"),
    ],
)
def test_an_authorize_switch_sends_its_oauth_error_to_the_redirect_uri(identity, rp, citizen, name, error):
    switch(identity, name)
    r = rp.authorize(login=citizen["SoDinhDanh"], state="s-1")
    assert r.status_code == 302
    q = query_of(r.headers["location"])
    assert (q["error"], q["state"]) == (error, "s-1")
    assert "code" not in q


def test_a_switch_for_the_next_request_only_applies_once(identity, rp, citizen):
    switch(identity, "ACCESS_DENIED", remaining=1)
    assert query_of(rp.authorize(login=citizen["SoDinhDanh"]).headers["location"])["error"] == "access_denied"
    assert "code" in query_of(rp.authorize(login=citizen["SoDinhDanh"]).headers["location"])


def test_a_switch_scoped_to_one_client_leaves_the_others_alone(identity, rp, citizen):
    other = register(identity)
    switch(identity, "SERVER_ERROR", scope=other.client_id)
    assert "code" in query_of(rp.authorize(login=citizen["SoDinhDanh"]).headers["location"])
    assert query_of(other.authorize(login=citizen["SoDinhDanh"]).headers["location"])["error"] == "server_error"


def decode(idp, token):
    return jwt.decode(token, KeySet.import_key_set(idp.get("/oauth2/jwks").json()), algorithms=["RS256"])


def validate(idp, token, client_id, nonce):
    claims = decode(idp, token).claims
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
    ).validate(claims)


def id_token_with(identity, rp, citizen, name):
    switch(identity, name)
    return rp.login(citizen["SoDinhDanh"], nonce="nonce-1")["id_token"]


def test_invalid_signature_fails_signature_verification(identity, rp, citizen):
    token = id_token_with(identity, rp, citizen, "INVALID_SIGNATURE")
    with pytest.raises(BadSignatureError):
        decode(identity, token)


def test_wrong_key_id_names_a_key_absent_from_the_jwks(identity, rp, citizen):
    token = id_token_with(identity, rp, citizen, "WRONG_KEY_ID")
    header = jws.extract_compact(token.encode()).headers()
    kids = {k["kid"] for k in identity.get("/oauth2/jwks").json()["keys"]}
    assert header["kid"] not in kids
    with pytest.raises(InvalidKeyIdError):
        decode(identity, token)


def test_invalid_issuer_fails_the_iss_check(identity, rp, citizen):
    token = id_token_with(identity, rp, citizen, "INVALID_ISSUER")
    with pytest.raises(InvalidClaimError, match="iss"):
        validate(identity, token, rp.client_id, "nonce-1")


def test_invalid_audience_fails_the_aud_check(identity, rp, citizen):
    token = id_token_with(identity, rp, citizen, "INVALID_AUDIENCE")
    with pytest.raises(InvalidClaimError, match="aud"):
        validate(identity, token, rp.client_id, "nonce-1")


def test_token_expired_gives_an_already_expired_id_token(identity, rp, citizen):
    token = id_token_with(identity, rp, citizen, "TOKEN_EXPIRED")
    with pytest.raises(ExpiredTokenError):
        validate(identity, token, rp.client_id, "nonce-1")


def test_nonce_mismatch_fails_the_nonce_check(identity, rp, citizen):
    token = id_token_with(identity, rp, citizen, "NONCE_MISMATCH")
    with pytest.raises(InvalidClaimError, match="nonce"):
        validate(identity, token, rp.client_id, "nonce-1")


def test_an_id_token_switch_spoils_one_token_and_the_next_is_sound(identity, rp, citizen):
    switch(identity, "INVALID_SIGNATURE", remaining=1)
    with pytest.raises(BadSignatureError):
        decode(identity, rp.login(citizen["SoDinhDanh"])["id_token"])
    validate(identity, rp.login(citizen["SoDinhDanh"], nonce="n2")["id_token"], rp.client_id, "n2")


def test_level_too_low_refuses_a_level_2_persona_where_level_2_is_required(identity, citizen):
    strict = register(identity, required_level=2)
    switch(identity, "LEVEL_TOO_LOW")
    q = query_of(strict.authorize(login=citizen["SoDinhDanh"]).headers["location"])
    assert q["error"] == "unmet_authentication_requirements"


def test_level_too_low_gives_acr_1_where_level_1_is_enough(identity, rp, citizen):
    switch(identity, "LEVEL_TOO_LOW")
    tokens = rp.login(citizen["SoDinhDanh"])
    assert decode(identity, tokens["id_token"]).claims["acr"] == "1"
    assert rp.userinfo(tokens["access_token"]).json()["MucDoXacThuc"] == "1"


def test_slow_approval_delays_the_redirect_and_still_logs_in(identity, rp, citizen):
    switch(identity, "SLOW_APPROVAL", params={"delay_seconds": 0.05})
    r = rp.authorize(login=citizen["SoDinhDanh"])
    assert "code" in query_of(r.headers["location"])
    entries = identity.get("/_sandbox/journal", params={"path": "/oauth2/authorize"}).json()["entries"]
    assert entries[0]["notes"]["slow_approval_seconds"] == 0.05


def test_every_switch_is_listed_with_a_description(identity):
    available = identity.get("/_sandbox/switches").json()["available"]
    assert set(available) == {
        "ACCESS_DENIED",
        "LOGIN_REQUIRED",
        "TEMPORARILY_UNAVAILABLE",
        "SERVER_ERROR",
        "INVALID_SIGNATURE",
        "WRONG_KEY_ID",
        "INVALID_ISSUER",
        "INVALID_AUDIENCE",
        "TOKEN_EXPIRED",
        "NONCE_MISMATCH",
        "LEVEL_TOO_LOW",
        "SLOW_APPROVAL",
        "POPULATION_UNAVAILABLE",
        "POPULATION_TIMEOUT",
        "POPULATION_NOT_FOUND",
    }


def test_switches_of_one_tenant_do_not_touch_another(identity, service_clients, citizen):
    from tests.support import TenantClient, new_tenant

    other = TenantClient(service_clients["identity"], new_tenant())
    switch(identity, "ACCESS_DENIED")
    other_rp = register(other)
    someone = persona(other)
    assert "code" in query_of(other_rp.authorize(login=someone["SoDinhDanh"]).headers["location"])
