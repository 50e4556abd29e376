"""A unit's ``webhook_url`` and the outbound-URL policy: refused at registration and on change,
in the DVCQG envelope (code 20, HTTP 422) naming the field."""

from __future__ import annotations

import itertools

import pytest

from tests.dossier.conftest import register_unit
from tests.support import TenantClient, shared_mode

ALWAYS_REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/",
    "http://0.0.0.0:8002/",
    "http://[fe80::1]/hook",
]
LOCAL = ["http://127.0.0.1:8003/_sandbox/partners", "http://localhost/", "http://[::1]/", "http://10.1.2.3/hook"]
_codes = (f"000.00.{n:02d}.H99" for n in itertools.count(10))


@pytest.fixture
def shared(dossier: TenantClient, monkeypatch: pytest.MonkeyPatch) -> TenantClient:
    return shared_mode(dossier, monkeypatch)


def _create(client: TenantClient, url: str) -> tuple[int, dict]:
    code = next(_codes)
    body = {"MaDonVi": code, "username": f"u-{code}", "password": "pw-secret", "webhook_url": url}
    r = client.post("/_sandbox/units", json=body)
    return r.status_code, r.json()


def _patch(client: TenantClient, url: str) -> tuple[int, dict]:
    code = register_unit(client, next(_codes))["MaDonVi"]
    r = client.patch(f"/_sandbox/units/{code}", json={"webhook_url": url})
    return r.status_code, r.json()


def _refused(status: int, body: dict) -> bool:
    return (
        (status, body["error_code"]) == (422, 20)
        and body["details"][0]["field"] == "webhook_url"
        and body["details"][0]["rule"] == "outbound_url"
        and body["message"].startswith("URL gọi lại không được phép")
    )


@pytest.mark.parametrize("how", [_create, _patch], ids=["create", "patch"])
@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_metadata_link_local_and_unspecified_webhooks_are_refused_in_the_embedded_mode(
    dossier: TenantClient, url: str, how
) -> None:
    assert _refused(*how(dossier, url))


@pytest.mark.parametrize("how", [_create, _patch], ids=["create", "patch"])
@pytest.mark.parametrize("url", ALWAYS_REFUSED + LOCAL)
def test_internal_webhooks_are_refused_in_the_shared_mode(shared: TenantClient, url: str, how) -> None:
    assert _refused(*how(shared, url))


@pytest.mark.parametrize("how", [_create, _patch], ids=["create", "patch"])
def test_local_webhooks_are_allowed_in_the_embedded_mode(dossier: TenantClient, how) -> None:
    for url in LOCAL:
        status, body = how(dossier, url)
        assert status == 200 and body["data"]["webhook_url"] == url


def test_shared_mode_allows_what_sandbox_callback_allow_names(
    shared: TenantClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared_mode(shared, monkeypatch, callback_allow="10.0.0.0/8")
    assert _create(shared, "http://10.1.2.3/hook")[0] == 200
    assert _refused(*_create(shared, "http://192.168.0.9/hook"))


def test_refused_webhook_change_keeps_the_previous_url(dossier: TenantClient) -> None:
    unit = register_unit(dossier, next(_codes), webhook_url="https://province.example/hook")
    r = dossier.patch(f"/_sandbox/units/{unit['MaDonVi']}", json={"webhook_url": "http://169.254.169.254/"})
    assert _refused(r.status_code, r.json())
    assert dossier.get(f"/_sandbox/units/{unit['MaDonVi']}").json()["data"]["webhook_url"] == (
        "https://province.example/hook"
    )
