"""``vnsandbox seed`` and settings that need an app of their own."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from launcher.cli import main
from services.identity.app import create_app
from services.identity.settings import IdentitySettings
from tests.identity.conftest import RelyingParty, query_of
from tests.support import TenantClient, new_tenant


def app_client(tmp_path: Path, **settings: object) -> TestClient:
    url = f"sqlite:///{tmp_path / 'identity.db'}"
    s = IdentitySettings(database_url=url, data_dir=tmp_path, **settings)  # type: ignore[arg-type]
    return TestClient(create_app(s), raise_server_exceptions=False)


def test_vnsandbox_seed_makes_the_base_population_every_tenant_sees(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'identity.db'}"
    assert main(["seed", "--people", "500", "--seed", "11", "--database-url", url]) == 0
    assert "500 people from seed 11" in capsys.readouterr().out
    with app_client(tmp_path) as client:
        idp = TenantClient(client, new_tenant())
        base = idp.get("/_sandbox/seed").json()["base"]
        assert (base["seed"], base["people"]) == (11, 500)
        assert idp.get("/_sandbox/personas", params={"limit": 1000}).json()["count"] == 500


def test_seeding_again_replaces_the_base_population(tmp_path):
    url = f"sqlite:///{tmp_path / 'identity.db'}"
    main(["seed", "--people", "300", "--seed", "1", "--database-url", url])
    main(["seed", "--people", "200", "--seed", "2", "--database-url", url])
    with app_client(tmp_path) as client:
        idp = TenantClient(client, new_tenant())
        assert idp.get("/_sandbox/personas", params={"limit": 1000}).json()["count"] == 200


def test_requiring_s256_refuses_plain_pkce(tmp_path):
    with app_client(tmp_path, seed_people=0, pkce_require_s256=True) as client:
        idp = TenantClient(client, new_tenant())
        assert idp.get("/.well-known/openid-configuration").json()["code_challenge_methods_supported"] == ["S256"]
        dev = RelyingParty(idp, "vnsandbox-dev", "vnsandbox-dev-secret", redirect_uri="http://localhost:3000/callback")
        r = dev.authorize(code_challenge="p" * 50, code_challenge_method="plain")
        assert query_of(r.headers["location"])["error"] == "invalid_request"


def test_the_shared_mode_has_no_development_client(tmp_path):
    with app_client(
        tmp_path,
        seed_people=0,
        mode="shared",
        gateway_secret="a-real-secret",
        public_base_url="https://sandbox.example.gov.vn/vneid/v1",
    ) as client:
        idp = TenantClient(client, new_tenant())
        assert idp.get("/_sandbox/clients/default").status_code == 404


def test_long_expired_codes_and_tokens_are_purged_and_live_ones_kept(tmp_path):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from services.identity.models import Base, IssuedToken
    from services.identity.oidc import purge_expired

    engine = create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    Base.metadata.create_all(engine)
    now = datetime.now(UTC)

    def token(jti: str, expires: datetime) -> IssuedToken:
        return IssuedToken(
            tenant="t", jti=jti, kind="access", client_id="c", subject="s", scope="", issued_at=now, expires_at=expires
        )

    with Session(engine) as session:
        session.add_all([token("old", now - timedelta(days=30)), token("live", now + timedelta(hours=1))])
        session.flush()
        counts = purge_expired(session, now - timedelta(days=7))
        assert counts["identity_token"] == 1
        assert list(session.scalars(select(IssuedToken.jti))) == ["live"]
