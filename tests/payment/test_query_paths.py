"""QUERY answers the same whether it is read in one statement from the event loop, before any
routing (the usual case), or by the route in a unit of work (a request with a query string
always is; so is a payment to expire, a refused message, an unknown reference)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.payment.conftest import (
    INIT_ORDER,
    QUERY_ORDER,
    QUERY_REPLY_ORDER,
    PartnerSetup,
    advance,
    init_body,
    query_body,
    refund_body,
    signed,
    verify,
)
from tests.support import TenantClient, statements, wait_for


def both_ways(payment: TenantClient, body: dict[str, Any]) -> tuple[httpx.Response, httpx.Response]:
    """The message answered as usual, and by the route (a query string keeps it from the quick reply)."""
    return payment.post("/payments", json=body), payment.post("/payments?via=route", json=body)


def test_a_query_is_one_read_and_the_reply_is_the_routes(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    body = query_body(reply["MaThamChieu"])
    with statements(payment) as seen:
        quick = payment.post("/payments", json=body)
    assert quick.status_code == 200 and quick.headers["content-type"] == "application/json"
    assert len(seen) == 1 and seen[0].lstrip().upper().startswith("SELECT")
    route = payment.post("/payments?via=route", json=body)
    assert quick.content == route.content
    assert quick.json()["TrangThaiGD"] == 3 and verify(quick.json(), QUERY_REPLY_ORDER)


def test_paid_and_refunded_payments_answer_the_same_both_ways(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init(amount=200_000)
    province.complete(reply["MaGiaoDich"], "success", bank="VCB")
    quick, route = both_ways(payment, query_body(reply["MaThamChieu"]))
    assert quick.content == route.content and quick.json()["TrangThaiGD"] == 1
    r = payment.post("/payments", json=refund_body(reply["MaThamChieu"], "RF-1", 50_000))
    assert r.status_code == 200, r.text
    quick, route = both_ways(payment, query_body(reply["MaThamChieu"]))
    assert quick.content == route.content and quick.json()["SoTienDaHoan"] == 50_000


def test_the_development_partner_is_queried_the_same_both_ways(payment: TenantClient) -> None:
    secret = "sandbox-paygov-secret"  # the built-in partner's documented secret (embedded mode)
    fields = {k: v for k, v in init_body(partner="SANDBOX").items() if k != "MaXacThuc"}
    r = payment.post("/payments", json=signed(fields, INIT_ORDER, secret))
    assert r.status_code == 200, r.text
    query = {k: v for k, v in query_body(fields["MaThamChieu"], "SANDBOX").items() if k != "MaXacThuc"}
    quick, route = both_ways(payment, signed(query, QUERY_ORDER, secret))
    assert quick.status_code == 200 and quick.content == route.content
    assert verify(quick.json(), QUERY_REPLY_ORDER, secret)


def test_refusals_are_the_routes(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    wrong = {**query_body(reply["MaThamChieu"]), "MaXacThuc": "0" * 64}
    quick, route = both_ways(payment, wrong)
    assert (quick.status_code, quick.json()["error_code"]) == (401, "CHECKSUM_INVALID")
    assert quick.json()["details"] == route.json()["details"]
    missing = payment.post("/payments", json=query_body("NO-SUCH-REF"))
    assert (missing.status_code, missing.json()["error_code"]) == (404, "PAYMENT_NOT_FOUND")
    unknown = payment.post("/payments", json=query_body(reply["MaThamChieu"], partner="NOBODY"))
    assert (unknown.status_code, unknown.json()["error_code"]) == (401, "PARTNER_UNKNOWN")
    bad = {**query_body(reply["MaThamChieu"]), "ThoiGianGD": "x\x00"}
    r = payment.post("/payments", json=bad)
    assert r.status_code in (400, 422) and r.json()["error_code"] == "FIELD_INVALID"


def test_a_query_that_expires_the_payment_sends_its_notice(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    advance(payment, 901)
    q = province.query(reply["MaThamChieu"])
    assert (q["TrangThaiGD"], q["MaLoi"]) == (4, "11")
    notice = wait_for(lambda: province.notices(), what="the timeout notice")
    assert notice[0].json()["MaThamChieu"] == reply["MaThamChieu"]
