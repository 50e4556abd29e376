"""INIT answers the same whether a new payment is opened before any routing (the usual case: one
read and the ``INSERT``, services/payment/quick.py) or by the route in a unit of work (a request
with a query string always is; so is a refused message, a tenant with an INIT switch, a magic
bank, a repeated or conflicting reference)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.payment import router
from services.payment.models import Payment
from services.payment.protocol import INIT
from tests.payment.conftest import INIT_ORDER, INIT_REPLY_ORDER, PartnerSetup, init_body, init_fields, signed, verify
from tests.support import TenantClient, statements, wait_for


def both_ways(payment: TenantClient, body: dict[str, Any]) -> tuple[httpx.Response, httpx.Response]:
    """The message answered as usual, and by the route (a query string keeps it from the quick reply)."""
    return payment.post("/payments", json=body), payment.post("/payments?via=route", json=body)


def without_request_id(error: dict[str, Any]) -> dict[str, Any]:
    """An error reply without what differs from one request to the next."""
    return {k: v for k, v in error.items() if k != "request_id"}


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The references of the INITs the route answers (the quick reply's go uncounted)."""
    seen: list[str] = []
    handler = router.MESSAGES[INIT]

    def counted(request: Any, session: Any, tenant: str, settings: Any, body: dict[str, Any]) -> dict[str, Any]:
        seen.append(body.get("MaThamChieu", ""))
        return handler(request, session, tenant, settings, body)

    monkeypatch.setitem(router.MESSAGES, INIT, counted)
    return seen


def stored(payment: TenantClient, reference: str) -> Payment:
    assert payment.app is not None
    with payment.app.state.db.session() as session:
        row = session.scalar(select(Payment).where(Payment.tenant == payment.tenant, Payment.reference == reference))
    assert row is not None
    return row


def test_a_new_init_skips_the_route_and_its_reply_is_the_routes(
    payment: TenantClient, province: PartnerSetup, routed: list[str]
) -> None:
    body = init_body()
    with statements(payment) as seen:
        quick = payment.post("/payments", json=body)
    assert quick.status_code == 200 and quick.headers["content-type"] == "application/json"
    assert routed == [], "a new payment is opened before routing"
    # One read from the event loop, then the INSERT (on PostgreSQL in autocommit: no BEGIN/COMMIT).
    assert [s.lstrip().split()[0].upper() for s in seen] == ["SELECT", "INSERT"]
    reply = quick.json()
    assert reply["error_code"] == "0" and verify(reply, INIT_REPLY_ORDER)
    assert reply["UrlThanhToan"].endswith(f"/pay/{payment.tenant}/{stored(payment, body['MaThamChieu']).page_token}")
    # The route, given the same message again, finds that payment and answers it the same, byte for byte.
    route = payment.post("/payments?via=route", json=body)
    repeat = payment.post("/payments", json=body)  # the INSERT finds the reference taken: the route answers
    assert routed == [body["MaThamChieu"]] * 2
    assert quick.content == route.content == repeat.content


def test_a_payment_the_route_opened_is_repeated_the_same(payment: TenantClient, province: PartnerSetup) -> None:
    body = init_body()
    route, quick = payment.post("/payments?via=route", json=body), payment.post("/payments", json=body)
    assert route.status_code == 200 and route.content == quick.content


def test_both_ways_store_the_same_payment(payment: TenantClient, province: PartnerSetup) -> None:
    fields = init_fields(amount=200_000)
    first, second = (
        signed(fields, INIT_ORDER),
        signed({**fields, "MaThamChieu": "ROUTE-" + fields["MaThamChieu"]}, INIT_ORDER),
    )
    assert payment.post("/payments", json=first).status_code == 200
    assert payment.post("/payments?via=route", json=second).status_code == 200
    a, b = stored(payment, first["MaThamChieu"]), stored(payment, second["MaThamChieu"])
    differ = {"id", "reference", "transaction_id", "page_token", "fingerprint", "request", "created_ts", "expires_ts"}
    columns = [c.key for c in Payment.__table__.c if c.key not in differ]
    assert {c: getattr(a, c) for c in columns} == {c: getattr(b, c) for c in columns}
    assert a.request == first and b.request == second  # the message as sent, JSON types included
    assert a.expires_ts - a.created_ts == b.expires_ts - b.created_ts
    assert a.transaction_id[:8] == b.transaction_id[:8] and len(a.transaction_id) == len(b.transaction_id)


@pytest.mark.parametrize(
    "change",
    [
        lambda body: {**body, "MaXacThuc": "0" * 64},  # CHECKSUM_INVALID
        lambda body: {**body, "MaXacThuc": ""},  # FIELD_MISSING
        lambda body: signed({**body, "MaDoiTac": "NOBODY"}, INIT_ORDER),  # PARTNER_UNKNOWN
        lambda body: {**body, "MaDoiTac": 7},  # FIELD_INVALID
        lambda body: signed({**body, "SoTien": -5}, INIT_ORDER),  # AMOUNT_INVALID
        lambda body: signed({**body, "MaTienTe": "USD"}, INIT_ORDER),  # CURRENCY_UNSUPPORTED
        lambda body: {k: v for k, v in body.items() if k != "ThongTinGiaoDich"},  # FIELD_MISSING
    ],
)
def test_refusals_are_the_routes(
    payment: TenantClient, province: PartnerSetup, routed: list[str], change: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    body = change({k: v for k, v in init_body().items()})
    quick, route = both_ways(payment, body)
    assert quick.status_code >= 400 and len(routed) == 2
    assert quick.status_code == route.status_code
    assert without_request_id(quick.json()) == without_request_id(route.json())


def test_a_conflicting_reference_is_the_routes(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    other = init_body(reply["MaThamChieu"], amount=300_000)
    quick, route = both_ways(payment, other)
    assert (quick.status_code, quick.json()["error_code"]) == (409, "REFERENCE_CONFLICT")
    assert without_request_id(quick.json()) == without_request_id(route.json())


def test_a_tenant_with_an_init_switch_is_answered_by_the_route(
    payment: TenantClient, province: PartnerSetup, routed: list[str]
) -> None:
    assert payment.put("/_sandbox/switches/init_fail", json={"remaining": 1}).status_code == 200
    body = init_body()
    r = payment.post("/payments", json=body)
    assert (r.status_code, r.json()["error_code"]) == (503, "PLATFORM_UNAVAILABLE")
    assert routed == [body["MaThamChieu"]]
    assert payment.post("/payments", json=body).status_code == 200  # the switch is spent
    # A switch scoped to another partner still sends the tenant's INITs to the route (where it is not taken).
    payment.put("/_sandbox/switches/init_fail", json={"scope": "OTHER_PARTNER"})
    other = init_body()
    assert payment.post("/payments", json=other).status_code == 200 and routed[-1] == other["MaThamChieu"]


def test_a_magic_bank_completes_through_the_route_with_its_notice(
    payment: TenantClient, province: PartnerSetup, routed: list[str]
) -> None:
    body = init_body(MaNganHang="SANDBOX_OK")
    r = payment.post("/payments", json=body)
    assert r.status_code == 200 and routed == [body["MaThamChieu"]]
    notice = wait_for(lambda: province.notices(), what="the result notice")
    assert notice[0].json()["MaThamChieu"] == body["MaThamChieu"] and notice[0].json()["MaLoi"] == "00"


def test_another_tenants_partner_is_unknown(payment: TenantClient, province: PartnerSetup) -> None:
    stranger = TenantClient(payment.client, payment.tenant + "-x")
    r = stranger.post("/payments", json=init_body())
    assert (r.status_code, r.json()["error_code"]) == (401, "PARTNER_UNKNOWN")


def test_the_development_partner_opens_the_same_both_ways(payment: TenantClient, routed: list[str]) -> None:
    secret = "sandbox-paygov-secret"  # the built-in partner's documented secret (embedded mode)
    fields = {k: v for k, v in init_body(partner="SANDBOX").items() if k != "MaXacThuc"}
    quick = payment.post("/payments", json=signed(fields, INIT_ORDER, secret))
    assert quick.status_code == 200 and routed == [] and verify(quick.json(), INIT_REPLY_ORDER, secret)
    route = payment.post("/payments?via=route", json=signed(fields, INIT_ORDER, secret))
    assert route.content == quick.content
