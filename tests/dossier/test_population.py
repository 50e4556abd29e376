"""Optional check that the owner's CCCD is present in the population database (identity
service over HTTP; here a stand-in on loopback answering as its persona endpoint does)."""

from __future__ import annotations

import http.server
import threading

import pytest
from fastapi.testclient import TestClient

from services.dossier.app import create_app
from services.dossier.settings import DossierSettings
from tests.dossier.conftest import CCCD, Province, record
from tests.support import TenantClient, new_tenant

KNOWN = {CCCD}


@pytest.fixture(scope="module")
def identity_stub():
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            number = self.path.rsplit("/", 1)[-1]
            seen.append(self.headers.get("x-sandbox-tenant", ""))
            self.send_response(200 if number in KNOWN else 404)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def checking_client(database_urls, identity_stub, tmp_path_factory):
    url, _ = identity_stub
    settings = DossierSettings(
        database_url=database_urls["dossier"],
        data_dir=tmp_path_factory.mktemp("pop"),
        check_population=True,
        identity_url=url,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def checking_province(checking_client, identity_stub):
    _, seen = identity_stub
    seen.clear()
    return Province(TenantClient(checking_client, new_tenant())), seen


def test_owner_present_in_the_population_is_accepted(checking_province):
    province, seen = checking_province
    assert province.sync(record()).json()["error_code"] == 0
    assert seen == [province.client.tenant]


def test_owner_absent_from_the_population_is_refused(checking_province):
    province, _ = checking_province
    body = province.sync(record(SoGiayToChuHoSo="001190099999")).json()
    assert body["error_code"] == 20
    assert body["details"][0]["rule"] == "population"


def test_population_check_is_off_by_default(province):
    assert province.sync(record(SoGiayToChuHoSo="001190099999")).json()["error_code"] == 0
