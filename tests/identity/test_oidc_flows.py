"""Browser-less OpenID Connect flows, seen from the relying party, tokens checked by joserfc."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.identity.conftest import (
    LOGOUT_REDIRECT,
    REDIRECT,
    RelyingParty,
    persona,
    pkce_pair,
    query_of,
    register,
)
from tests.support import TenantClient

ISSUER = "http://testserver"


def verify_id_token(idp: TenantClient, token: str, client_id: str, nonce: str | None = None) -> dict[str, Any]:
    """Validate an ID token the way an independent OIDC library does (joserfc)."""
    keyset = KeySet.import_key_set(idp.get("/oauth2/jwks").json())
    decoded = jwt.decode(token, keyset, algorithms=["RS256"])
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": ISSUER},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
    }
    if nonce:
        options["nonce"] = {"essential": True, "value": nonce}
    registry = jwt.JWTClaimsRegistry(**options)
    registry.validate(decoded.claims)
    return dict(decoded.claims)


def test_discovery_names_the_wso2_style_endpoints_under_the_issuer(identity):
    meta = identity.get("/.well-known/openid-configuration").json()
    assert meta["issuer"] == ISSUER
    assert meta["authorization_endpoint"] == f"{ISSUER}/oauth2/authorize"
    assert meta["token_endpoint"] == f"{ISSUER}/oauth2/token"
    assert meta["userinfo_endpoint"] == f"{ISSUER}/oauth2/userinfo"
    assert meta["end_session_endpoint"] == f"{ISSUER}/oauth2/logout"
    assert meta["jwks_uri"] == f"{ISSUER}/oauth2/jwks"
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(meta["acr_values_supported"]) == {"1", "2"}


def test_discovery_behind_the_gateway_uses_the_gateway_prefix(identity):
    headers = {"X-Forwarded-Host": "lgsp.example.vn", "X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/vneid/v1"}
    meta = identity.get("/.well-known/openid-configuration", headers=headers).json()
    assert meta["issuer"] == "https://lgsp.example.vn/vneid/v1"
    assert meta["token_endpoint"] == "https://lgsp.example.vn/vneid/v1/oauth2/token"


def test_code_flow_with_client_secret_basic_gives_a_standard_id_token(identity, rp, citizen):
    verifier, challenge = pkce_pair()
    code = rp.code_for(citizen["SoDinhDanh"], nonce="n-123", code_challenge=challenge, code_challenge_method="S256")
    tokens = rp.exchange(code, code_verifier=verifier).json()
    assert tokens["token_type"] == "Bearer"
    claims = verify_id_token(identity, tokens["id_token"], rp.client_id, nonce="n-123")
    assert claims["sub"] == citizen["TechID"]
    assert claims["acr"] == "2"
    assert claims["azp"] == rp.client_id


def test_code_flow_with_client_secret_post(identity, citizen):
    rp = register(identity, auth_methods=["client_secret_post"])
    tokens = rp.login(citizen["SoDinhDanh"])
    verify_id_token(identity, tokens["id_token"], rp.client_id)


def test_code_flow_with_private_key_jwt(identity, citizen):
    key = RSAKey.generate_key(2048, parameters={"kid": "rp-key-1", "use": "sig"})
    rp = register(identity, auth_methods=["private_key_jwt"], jwks={"keys": [key.as_dict(private=False)]})
    code = rp.code_for(citizen["SoDinhDanh"])
    now = int(time.time())
    assertion = jwt.encode(
        {"alg": "RS256", "kid": "rp-key-1"},
        {
            "iss": rp.client_id,
            "sub": rp.client_id,
            "aud": f"{ISSUER}/oauth2/token",
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        },
        key,
    )
    r = identity.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )
    assert r.status_code == 200, r.text
    verify_id_token(identity, r.json()["id_token"], rp.client_id)


def test_a_client_using_another_auth_method_than_registered_is_refused(identity, citizen):
    rp = register(identity, auth_methods=["client_secret_basic"])
    rp.auth_method = "client_secret_post"
    r = rp.exchange(rp.code_for(citizen["SoDinhDanh"]))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_a_wrong_client_secret_is_invalid_client(rp, citizen):
    rp.client_secret = "wrong"
    r = rp.exchange(rp.code_for(citizen["SoDinhDanh"]))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in r.headers


def test_pkce_plain_is_accepted(rp, citizen):
    verifier = "v" * 50
    code = rp.code_for(citizen["SoDinhDanh"], code_challenge=verifier, code_challenge_method="plain")
    assert rp.exchange(code, code_verifier=verifier).status_code == 200


def test_a_client_requiring_pkce_refuses_a_request_without_it(identity, citizen):
    rp = register(identity, require_pkce=True)
    r = rp.authorize(login=citizen["SoDinhDanh"], state="s1")
    q = query_of(r.headers["location"])
    assert (q["error"], q["state"]) == ("invalid_request", "s1")


def test_the_state_comes_back_with_the_code(rp, citizen):
    r = rp.authorize(login=citizen["SoDinhDanh"], state="abc-123")
    q = query_of(r.headers["location"])
    assert q["state"] == "abc-123"
    assert r.headers["location"].startswith(REDIRECT + "?")


def test_login_hint_completes_the_login_headlessly(rp, citizen):
    r = rp.authorize(login_hint=citizen["SoDinhDanh"])
    assert r.status_code == 302
    assert "code" in query_of(r.headers["location"])


def test_userinfo_returns_the_vietnamese_attributes_and_standard_claims(rp, citizen):
    tokens = rp.login(citizen["SoDinhDanh"], scope="openid profile email phone address")
    info = rp.userinfo(tokens["access_token"]).json()
    assert info["HoVaTen"] == "Nguyễn Văn An"
    assert info["SoDinhDanh"] == citizen["SoDinhDanh"]
    assert info["NgayThangNamSinh"] == "19900115"
    assert info["GioiTinh"] == "Nam"
    assert info["DiaChiThuongTru"].startswith("Số 1, đường Lê Lợi")
    assert info["SoDienThoai"] == "0912345678"
    assert info["Email"] == "an.nguyen@example.vn"
    assert info["loginIdp"] == "BCA"
    assert info["MucDoXacThuc"] == "2"
    assert info["LoaiTaiKhoan"] == "1"
    assert info["TechID"] == info["sub"] == citizen["TechID"]
    assert (info["name"], info["birthdate"], info["gender"]) == ("Nguyễn Văn An", "1990-01-15", "male")
    assert info["family_name"] == "Nguyễn" and info["given_name"] == "An"


def test_userinfo_releases_only_what_the_scopes_allow(rp, citizen):
    info = rp.userinfo(rp.login(citizen["SoDinhDanh"], scope="openid")["access_token"]).json()
    assert "sub" in info
    assert "HoVaTen" not in info and "Email" not in info and "SoDienThoai" not in info


def test_userinfo_reads_are_audited(identity, rp, citizen):
    tokens = rp.login(citizen["SoDinhDanh"])
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "X-Purpose": quote("hồ sơ 123")}
    identity.get("/oauth2/userinfo", headers=headers)
    records = identity.get("/_sandbox/audit", params={"subject": citizen["SoDinhDanh"]}).json()["records"]
    assert records[0]["client"] == rp.client_id
    assert records[0]["purpose"] == "hồ sơ 123"
    assert "HoVaTen" in records[0]["fields"]


def test_a_level_2_client_refuses_a_level_1_persona_with_an_oidc_error(identity):
    rp = register(identity, required_level=2)
    weak = persona(identity, MucDoXacThuc=1)
    r = rp.authorize(login=weak["SoDinhDanh"], state="s-9")
    q = query_of(r.headers["location"])
    assert q["error"] == "unmet_authentication_requirements"
    assert q["state"] == "s-9"
    assert "mức độ 2" in q["error_description"]


def test_acr_values_2_on_the_request_demands_level_2(identity, rp):
    weak = persona(identity, MucDoXacThuc=1)
    r = rp.authorize(login=weak["SoDinhDanh"], acr_values="2")
    assert query_of(r.headers["location"])["error"] == "unmet_authentication_requirements"


def test_a_level_1_persona_gets_acr_1_where_level_1_is_enough(identity, rp):
    weak = persona(identity, MucDoXacThuc=1)
    claims = verify_id_token(identity, rp.login(weak["SoDinhDanh"])["id_token"], rp.client_id)
    assert claims["acr"] == "1"


def test_a_persona_without_an_account_is_refused(identity, rp):
    none = persona(identity, MucDoXacThuc=0)
    assert query_of(rp.authorize(login=none["SoDinhDanh"]).headers["location"])["error"] == "access_denied"


def test_the_refresh_token_is_rotated(rp, citizen):
    tokens = rp.login(citizen["SoDinhDanh"])
    r = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"] != tokens["refresh_token"]
    assert rp.userinfo(r.json()["access_token"]).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_family(rp, citizen):
    tokens = rp.login(citizen["SoDinhDanh"])
    fresh = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    again = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert rp.introspect(fresh["refresh_token"]) == {"active": False}
    assert rp.introspect(fresh["access_token"]) == {"active": False}


def test_client_credentials_gives_an_access_token_without_id_token(rp):
    r = rp.token(grant_type="client_credentials", scope="population:verify")
    assert r.status_code == 200, r.text
    body = r.json()
    assert "id_token" not in body and "refresh_token" not in body
    assert body["scope"] == "population:verify"
    info = rp.introspect(body["access_token"])
    assert info["active"] is True and info["sub"] == rp.client_id


def test_client_credentials_refuses_user_scopes(rp):
    r = rp.token(grant_type="client_credentials", scope="openid profile")
    assert r.json()["error"] == "invalid_scope"


def test_an_unknown_grant_type_is_unsupported(rp):
    assert rp.token(grant_type="password").json()["error"] == "unsupported_grant_type"


def test_introspection_describes_an_active_access_token(rp, citizen):
    tokens = rp.login(citizen["SoDinhDanh"])
    info = rp.introspect(tokens["access_token"])
    assert info["active"] is True
    assert info["client_id"] == rp.client_id
    assert info["sub"] == citizen["TechID"]
    assert info["username"] == citizen["SoDinhDanh"]


def test_another_client_sees_the_token_as_inactive(identity, rp, citizen):
    tokens = rp.login(citizen["SoDinhDanh"])
    other = register(identity)
    assert other.introspect(tokens["access_token"]) == {"active": False}


def test_a_revoked_access_token_no_longer_works(identity, rp, citizen):
    tokens = rp.login(citizen["SoDinhDanh"])
    r = identity.post("/oauth2/revoke", data={"token": tokens["access_token"]}, auth=(rp.client_id, rp.client_secret))
    assert r.status_code == 200
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    assert rp.introspect(tokens["access_token"]) == {"active": False}


def test_revoking_the_refresh_token_revokes_its_access_tokens(identity, rp, citizen):
    tokens = rp.login(citizen["SoDinhDanh"])
    identity.post("/oauth2/revoke", data={"token": tokens["refresh_token"]}, auth=(rp.client_id, rp.client_secret))
    assert rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]).status_code == 400
    assert rp.userinfo(tokens["access_token"]).status_code == 401


def test_token_times_follow_the_test_clock(identity, rp, citizen):
    identity.post("/_sandbox/clock", json={"advance_seconds": 86400 * 10})
    now = identity.get("/_sandbox/clock").json()["now"]
    claims = verify_id_token_at(identity, rp.login(citizen["SoDinhDanh"])["id_token"], rp.client_id)
    from datetime import datetime

    assert abs(claims["iat"] - datetime.fromisoformat(now).timestamp()) < 120


def verify_id_token_at(idp: TenantClient, token: str, client_id: str) -> dict[str, Any]:
    keyset = KeySet.import_key_set(idp.get("/oauth2/jwks").json())
    return dict(jwt.decode(token, keyset, algorithms=["RS256"]).claims)


def test_an_access_token_expires_on_the_test_clock(identity, rp, citizen):
    tokens = rp.login(citizen["SoDinhDanh"])
    identity.post("/_sandbox/clock", json={"advance_seconds": 3601})
    r = rp.userinfo(tokens["access_token"])
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_an_authorization_code_expires_after_a_minute(identity, rp, citizen):
    code = rp.code_for(citizen["SoDinhDanh"])
    identity.post("/_sandbox/clock", json={"advance_seconds": 61})
    r = rp.exchange(code)
    assert r.json()["error"] == "invalid_grant"


def test_the_login_page_lists_personas_and_offers_to_refuse(rp, citizen):
    r = rp.authorize(q=None)
    assert r.status_code == 200
    assert "Từ chối" in r.text
    assert citizen["SoDinhDanh"] in r.text
    assert "Nguyễn Văn An" in r.text


def test_the_deny_button_returns_access_denied_with_the_state(identity, rp):
    form = {"client_id": rp.client_id, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid"}
    r = identity.post("/oauth2/login", data=form | {"state": "st", "action": "deny"}, follow_redirects=False)
    assert r.status_code == 303
    q = query_of(r.headers["location"])
    assert (q["error"], q["state"]) == ("access_denied", "st")


def test_choosing_a_persona_on_the_page_logs_in(identity, rp, citizen):
    form = {"client_id": rp.client_id, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid"}
    r = identity.post(
        "/oauth2/login", data=form | {"SoDinhDanh": citizen["SoDinhDanh"], "action": "approve"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert rp.exchange(query_of(r.headers["location"])["code"]).status_code == 200


def test_typing_an_invalid_number_on_the_page_shows_what_is_wrong(identity, rp):
    form = {"client_id": rp.client_id, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid"}
    r = identity.post("/oauth2/login", data=form | {"SoDinhDanh": "12345", "action": "approve"})
    assert r.status_code == 200
    assert "12 chữ số" in r.text


def test_the_page_search_filters_personas(identity, rp, citizen):
    persona(identity, HoVaTen="Trần Thị Bích", NgayThangNamSinh="19851010", GioiTinh="Nữ")
    form = {"client_id": rp.client_id, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid"}
    r = identity.post("/oauth2/login", data=form | {"q": "Bích", "action": "search"})
    assert "Trần Thị Bích" in r.text
    assert citizen["SoDinhDanh"] not in r.text


def test_a_login_session_is_reused_without_the_page(rp, citizen):
    rp.login(citizen["SoDinhDanh"])  # sets the provider's session cookie
    r = rp.authorize()
    assert r.status_code == 302
    assert "code" in query_of(r.headers["location"])


def test_prompt_login_shows_the_page_even_with_a_session(rp, citizen):
    rp.login(citizen["SoDinhDanh"])
    assert rp.authorize(prompt="login").status_code == 200


def test_prompt_none_without_a_session_is_login_required(rp):
    r = rp.authorize(prompt="none")
    assert query_of(r.headers["location"])["error"] == "login_required"


def test_logout_redirects_to_the_registered_uri_with_the_state(identity, rp, citizen):
    tokens = rp.login(citizen["SoDinhDanh"])
    r = identity.get(
        "/oauth2/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGOUT_REDIRECT, "state": "bye"},
        follow_redirects=False,
    )
    assert r.status_code == 302
    assert r.headers["location"] == LOGOUT_REDIRECT + "?state=bye"
    assert query_of(rp.authorize(prompt="none").headers["location"])["error"] == "login_required"


def test_logout_refuses_an_unregistered_post_logout_uri(identity, rp, citizen):
    tokens = rp.login(citizen["SoDinhDanh"])
    r = identity.get(
        "/oauth2/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"},
        follow_redirects=False,
    )
    assert r.status_code == 400
    assert "location" not in r.headers


def test_key_rotation_keeps_the_old_key_published_until_its_tokens_expire(identity, rp, citizen):
    old_token = rp.login(citizen["SoDinhDanh"])["id_token"]
    old_kid = identity.get("/oauth2/jwks").json()["keys"][0]["kid"]
    new_kid = identity.post("/_sandbox/keys/rotate").json()["active_kid"]
    kids = [k["kid"] for k in identity.get("/oauth2/jwks").json()["keys"]]
    assert set(kids) == {old_kid, new_kid}
    verify_id_token(identity, old_token, rp.client_id)
    new_token = rp.login(citizen["SoDinhDanh"])["id_token"]
    assert jwt.decode(new_token, KeySet.import_key_set(identity.get("/oauth2/jwks").json())).header["kid"] == new_kid
    identity.post("/_sandbox/clock", json={"advance_seconds": 3700})
    assert [k["kid"] for k in identity.get("/oauth2/jwks").json()["keys"]] == [new_kid]


def test_key_rotation_in_one_tenant_leaves_others_alone(identity, service_clients):
    from tests.support import TenantClient, new_tenant

    other = TenantClient(service_clients["identity"], new_tenant())
    before = other.get("/oauth2/jwks").json()
    identity.post("/_sandbox/keys/rotate")
    assert other.get("/oauth2/jwks").json() == before


def test_the_default_development_client_is_listed(identity):
    body = identity.get("/_sandbox/clients/default").json()
    assert body["client_id"] == "vnsandbox-dev"
    assert body["client_secret"] == "vnsandbox-dev-secret"
    assert "http://localhost:3000/callback" in body["redirect_uris"]
    assert body["issuer"] == ISSUER


def test_the_default_client_logs_a_persona_in(identity, citizen):
    dev = RelyingParty(identity, "vnsandbox-dev", "vnsandbox-dev-secret", redirect_uri="http://localhost:3000/callback")
    verify_id_token(identity, dev.login(citizen["SoDinhDanh"])["id_token"], "vnsandbox-dev")


def test_max_age_asks_for_a_new_login_when_the_session_is_older(identity, rp, citizen):
    rp.login(citizen["SoDinhDanh"])
    identity.post("/_sandbox/clock", json={"advance_seconds": 120})
    assert rp.authorize(max_age="60").status_code == 200
    assert rp.authorize(max_age="600").status_code == 302


def test_the_openapi_document_describes_the_oidc_and_population_endpoints(identity):
    paths = identity.get("/openapi.json").json()["paths"]
    assert {"/oauth2/token", "/oauth2/authorize", "/population/v1/verify", "/_sandbox/personas"} <= set(paths)


def test_an_authorization_request_may_be_a_form_post(identity, rp, citizen):
    form = {"client_id": rp.client_id, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid"}
    r = identity.post(
        "/oauth2/authorize",
        data=form | {"state": "p1"},
        headers={"X-Sandbox-Login": citizen["SoDinhDanh"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    q = query_of(r.headers["location"])
    assert q["state"] == "p1" and rp.exchange(q["code"]).status_code == 200


def test_the_login_page_escapes_persona_names(identity, rp):
    persona(identity, HoVaTen="<script>alert(1)</script>")
    page = rp.authorize().text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_header_can_deny_headlessly(rp):
    q = query_of(rp.authorize(login="deny", state="d").headers["location"])
    assert (q["error"], q["state"]) == ("access_denied", "d")


def test_the_login_session_ends_after_eight_hours(identity, rp, citizen):
    rp.login(citizen["SoDinhDanh"])
    identity.post("/_sandbox/clock", json={"advance_seconds": 8 * 3600 + 1})
    assert query_of(rp.authorize(prompt="none").headers["location"])["error"] == "login_required"
