"""The population verification scope belongs to machine clients: a citizen's login never carries it,
and the verification API refuses every user-bound token, whatever scope it names."""

from __future__ import annotations

from sqlalchemy import update

from services.identity.models import AuthorizationCode, IssuedToken
from tests.identity.conftest import REDIRECT, query_of
from tests.support import TenantClient

POPULATION = "population:verify"


def legacy_scope(identity: TenantClient, table: type[AuthorizationCode] | type[IssuedToken], **where: str) -> None:
    """Give a stored code or token the population scope, as one issued before the rule existed."""
    with identity.app.state.db.session() as session:
        stmt = update(table).where(*(getattr(table, k) == v for k, v in where.items()))
        session.execute(stmt.values(scope=f"openid profile {POPULATION}"))


def test_a_citizen_login_asking_for_the_population_scope_is_invalid_scope(rp, citizen):
    r = rp.authorize(login=citizen["SoDinhDanh"], scope=f"openid {POPULATION}", state="st-1")
    assert r.status_code == 302
    assert r.headers["location"].startswith(REDIRECT + "?")
    q = query_of(r.headers["location"])
    assert q["error"] == "invalid_scope"
    assert q["state"] == "st-1"
    assert "code" not in q
    assert POPULATION in q["error_description"]


def test_the_login_page_form_post_refuses_the_population_scope_too(identity, rp, citizen):
    form = {
        "client_id": rp.client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": f"openid profile {POPULATION}",
        "state": "st-2",
        "SoDinhDanh": citizen["SoDinhDanh"],
        "action": "approve",
    }
    r = identity.post("/oauth2/login", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert query_of(r.headers["location"]) | {"error_description": ""} == {
        "error": "invalid_scope",
        "error_description": "",
        "state": "st-2",
    }


def test_the_default_development_client_refuses_it_in_a_login_as_well(identity, citizen):
    r = identity.get(
        "/oauth2/authorize",
        params={
            "client_id": "vnsandbox-dev",
            "redirect_uri": "http://localhost:3000/callback",
            "response_type": "code",
            "scope": f"openid {POPULATION}",
            "login_hint": citizen["SoDinhDanh"],
        },
        follow_redirects=False,
    )
    assert query_of(r.headers["location"])["error"] == "invalid_scope"


def test_a_code_carrying_the_population_scope_is_not_exchanged(identity, rp, citizen):
    code = rp.code_for(citizen["SoDinhDanh"])
    legacy_scope(identity, AuthorizationCode, code=code)
    r = rp.exchange(code)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"


def test_a_refresh_token_carrying_the_population_scope_is_not_refreshed(identity, rp, citizen):
    tokens = rp.login(citizen["SoDinhDanh"])
    legacy_scope(identity, IssuedToken, jti=tokens["refresh_token"])
    r = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"


def test_the_verification_api_refuses_a_user_bound_token_even_with_the_scope(identity, rp, citizen):
    tokens = rp.login(citizen["SoDinhDanh"])
    with identity.app.state.db.session() as session:
        session.execute(
            update(IssuedToken)
            .where(IssuedToken.tenant == identity.tenant, IssuedToken.cccd == citizen["SoDinhDanh"])
            .values(scope=f"openid profile {POPULATION}")
        )
    other = identity.post(
        "/_sandbox/personas", json={"HoVaTen": "Trần Thị Bình", "NgayThangNamSinh": "19850303", "GioiTinh": "Nữ"}
    ).json()["SoDinhDanh"]
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    r = identity.get(f"/population/v1/citizens/{other}", headers=auth)
    assert r.status_code == 403
    assert r.json()["error"] == "insufficient_scope"
    assert "client_credentials" in r.json()["error_description"]
    v = identity.post("/population/v1/verify", headers=auth, json={"SoDinhDanh": other})
    assert v.status_code == 403


def test_a_machine_token_of_a_client_registered_for_the_scope_still_reads_citizens(identity, rp, citizen):
    token = rp.token(grant_type="client_credentials", scope=POPULATION).json()["access_token"]
    r = identity.get(f"/population/v1/citizens/{citizen['SoDinhDanh']}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json()["CongDan"]["SoDinhDanh"] == citizen["SoDinhDanh"]
