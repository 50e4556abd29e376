"""Partner URLs and the outbound-URL policy: refused at registration (naming the field) and again
at delivery, after DNS resolution; delivery records stay with their own tenant."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.payment.conftest import SECRET, PartnerSetup, TenantReceiver, deliveries, wait_for
from tests.support import TenantClient, shared_mode
from vnsandbox.outbound import OutboundPolicy

ALWAYS_REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://0.0.0.0:8003/",
    "http://[fe80::1]/hook",
]
LOCAL = [
    "http://127.0.0.1:8002/_sandbox/units",
    "http://localhost:8003/_sandbox/partners",
    "http://[::1]:8000/",
    "http://10.0.0.5/notice",
    "http://172.16.0.1/notice",
    "http://192.168.1.10/notice",
]
FIELDS = ["notice_url", "return_url"]


@pytest.fixture
def shared(payment: TenantClient, monkeypatch: pytest.MonkeyPatch) -> TenantClient:
    return shared_mode(payment, monkeypatch)


def _put(payment: TenantClient, **urls: str) -> tuple[int, dict]:
    r = payment.put("/_sandbox/partners/P_URL", json={"secret": SECRET, **urls})
    return r.status_code, r.json()


def _refused(status: int, body: dict, field: str) -> bool:
    return (
        status == 422
        and body["error_code"] == "OUTBOUND_URL_REFUSED"
        and body["details"][0]["field"] == field
        and body["message"].startswith("URL gọi lại không được phép")
    )


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_metadata_link_local_and_unspecified_urls_are_refused_in_the_embedded_mode(
    payment: TenantClient, url: str, field: str
) -> None:
    assert _refused(*_put(payment, **{field: url}), field)
    assert payment.get("/_sandbox/partners/P_URL").status_code == 401


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_metadata_link_local_and_unspecified_urls_are_refused_in_the_shared_mode(
    shared: TenantClient, url: str, field: str
) -> None:
    assert _refused(*_put(shared, **{field: url}), field)


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("url", LOCAL)
def test_loopback_and_private_urls_are_refused_in_the_shared_mode(shared: TenantClient, url: str, field: str) -> None:
    status, body = _put(shared, **{field: url})
    assert _refused(status, body, field)
    assert "SANDBOX_CALLBACK_ALLOW" in body["message_en"]


def test_loopback_and_private_urls_are_allowed_in_the_embedded_mode(payment: TenantClient) -> None:
    for url in LOCAL:
        assert _put(payment, notice_url=url, return_url=url)[0] == 200, url


def test_shared_mode_allows_what_sandbox_callback_allow_names(
    shared: TenantClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared_mode(shared, monkeypatch, callback_allow="10.0.0.0/8, receiver.internal")
    assert _put(shared, notice_url="http://10.0.0.5/notice", return_url="http://receiver.internal/ok")[0] == 200
    assert _refused(*_put(shared, notice_url="http://192.168.1.10/notice"), "notice_url")


def test_non_http_url_is_refused_naming_the_field(payment: TenantClient) -> None:
    assert _refused(*_put(payment, return_url="javascript:alert(1)"), "return_url")


# --- At delivery ----------------------------------------------------------------------------


@pytest.fixture
def shared_outbox(shared: TenantClient) -> Iterator[None]:
    """The service's outbox under the shared mode's policy, with a resolver that knows
    ``province.test`` as 127.0.0.1 (a public-looking name with an internal address)."""
    assert shared.app is not None
    sender = shared.app.state.outbox
    before = sender.outbound
    sender.use_outbound(OutboundPolicy.parse("shared", "", resolver=lambda host, _port: ["127.0.0.1"]))
    yield
    sender.use_outbound(before)


def test_notice_to_a_name_resolving_to_a_loopback_address_is_refused_and_dead_lettered(
    shared: TenantClient, receiver: TenantReceiver, shared_outbox: None
) -> None:
    port = receiver.shared.server.server_address[1]
    receiver.reply = lambda n, r: (200, b'{"MaLoi": "00", "internal": "secret control data"}')
    setup = PartnerSetup(shared, receiver)
    setup.register(notice_url=f"http://province.test:{port}{receiver.prefix}/paygov/notice")  # a name: allowed here
    reply = setup.init()
    setup.complete(reply["MaGiaoDich"], "success")
    [row] = wait_for(lambda: [d for d in deliveries(shared, kind="payment.notice") if d["status"] == "dead"])
    assert row["attempts"] == 1
    assert row["last_error"].startswith("OUTBOUND_URL_REFUSED: 127.0.0.1 is a loopback address")
    [attempt] = row["attempt_log"]
    assert attempt["response_body"] is None and attempt["status_code"] is None
    assert setup.notices() == []


def test_deliveries_and_their_replies_are_listed_only_for_their_own_tenant(
    payment: TenantClient, province: PartnerSetup
) -> None:
    reply = province.init()
    province.complete(reply["MaGiaoDich"], "success")
    [mine] = wait_for(lambda: [d for d in deliveries(payment, kind="payment.notice") if d["status"] == "delivered"])
    assert mine["attempt_log"][0]["response_body"]
    other = TenantClient(payment.client, payment.tenant + "-other")
    assert deliveries(other) == []
    r = other.post(f"/_sandbox/deliveries/{mine['id']}/redeliver")
    assert (r.status_code, r.json()["error_code"]) == (404, "DELIVERY_NOT_FOUND")
