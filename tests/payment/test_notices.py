"""Result notices: signed, retried until MaLoi 00, failure switches, replay, and the dossier link."""

from __future__ import annotations

from typing import Any

import pytest

from tests.payment.conftest import (
    ACK,
    NOTIFY_ORDER,
    SECRET,
    PartnerSetup,
    TenantReceiver,
    ack_after,
    advance,
    deliveries,
    refund_body,
    settled,
    verify,
    wait_for,
)
from tests.support import TenantClient
from vnsandbox.signing import tenant_assertion, verify_webhook_signature


def _switch(payment: TenantClient, name: str, **body: Any) -> None:
    r = payment.put(f"/_sandbox/switches/{name}", json=body)
    assert r.status_code == 200, r.text


def _paid(province: PartnerSetup, **init: Any) -> dict[str, Any]:
    reply = province.init(**init)
    province.complete(reply["MaGiaoDich"], "success", bank="VCB")
    return reply


def test_successful_payment_sends_a_signed_notice(province: PartnerSetup) -> None:
    reply = _paid(province)
    [notice] = wait_for(province.notices, what="notice")
    body = notice.json()
    assert body["LoaiBanTin"] == "NOTIFY"
    assert (body["MaLoi"], body["TrangThaiGD"]) == ("00", 1)
    assert (body["MaThamChieu"], body["MaGiaoDich"]) == (reply["MaThamChieu"], reply["MaGiaoDich"])
    assert (body["SoTien"], body["MaTienTe"], body["MaNganHang"]) == (150_000, "VND", "VCB")
    assert verify(body, NOTIFY_ORDER)
    assert notice.headers["x-sandbox-delivery-id"]
    assert verify_webhook_signature(SECRET, notice.headers["x-sandbox-signature"], notice.body)


def test_failed_payment_sends_its_failure_code(province: PartnerSetup) -> None:
    reply = province.init()
    province.complete(reply["MaGiaoDich"], "insufficient_funds")
    [notice] = wait_for(province.notices, what="notice")
    assert (notice.json()["MaLoi"], notice.json()["TrangThaiGD"]) == ("51", 4)
    assert verify(notice.json(), NOTIFY_ORDER)


def test_notice_is_retried_with_backoff_until_the_partner_answers_00(
    payment: TenantClient, province: PartnerSetup, receiver: TenantReceiver
) -> None:
    receiver.reply = ack_after(2)
    reply = _paid(province)
    assert settled(payment, 1, ref=reply["MaThamChieu"])["status"] == "pending"
    advance(payment, 2)  # backoff after attempt 1: 2 s
    assert settled(payment, 2, ref=reply["MaThamChieu"])["status"] == "pending"
    advance(payment, 4)  # after attempt 2: 4 s
    delivery = settled(payment, 3, ref=reply["MaThamChieu"])
    assert delivery["status"] == "delivered"
    assert len(province.notices()) == 3
    assert [a["accepted"] for a in delivery["attempt_log"]] == [0, 0, 1]
    assert '"99"' in delivery["attempt_log"][0]["response_body"]
    ids = {n.headers["x-sandbox-delivery-id"] for n in province.notices()}
    assert ids == {delivery["id"]}


def test_journal_shows_each_notice_attempt(
    payment: TenantClient, province: PartnerSetup, receiver: TenantReceiver
) -> None:
    receiver.reply = ack_after(1)
    reply = _paid(province)
    settled(payment, 1, ref=reply["MaThamChieu"])
    advance(payment, 2)
    delivery = settled(payment, 2, ref=reply["MaThamChieu"])
    entries = payment.get("/_sandbox/journal", params={"path": receiver.url + "/paygov/notice"}).json()["entries"]
    attempts = sorted(entries, key=lambda e: e["notes"]["attempt"])
    assert [e["notes"]["attempt"] for e in attempts] == [1, 2]
    assert [e["notes"]["accepted"] for e in attempts] == [False, True]
    assert {e["request_id"] for e in attempts} == {delivery["id"]}
    assert attempts[0]["method"] == "POST" and attempts[0]["status"] == 200
    assert '"99"' in attempts[0]["response_body"]
    assert reply["MaGiaoDich"] in attempts[1]["request_body"]


def test_notice_answered_with_http_error_is_retried(
    payment: TenantClient, province: PartnerSetup, receiver: TenantReceiver
) -> None:
    receiver.reply = lambda n, _r: (503, b"down") if n == 1 else (200, ACK)
    reply = _paid(province)
    assert settled(payment, 1, ref=reply["MaThamChieu"])["last_status"] == 503
    advance(payment, 2)
    assert settled(payment, 2, ref=reply["MaThamChieu"])["status"] == "delivered"
    assert province.notices()[0].body == province.notices()[1].body


def test_retry_is_scheduled_by_exponential_backoff_in_test_clock_time(
    payment: TenantClient, province: PartnerSetup, receiver: TenantReceiver
) -> None:
    receiver.reply = ack_after(2)
    reply = _paid(province)
    first = settled(payment, 1, ref=reply["MaThamChieu"])
    assert first["next_attempt_ts"] == first["attempt_log"][0]["at_ts"] + 2.0
    advance(payment, 2)
    second = settled(payment, 2, ref=reply["MaThamChieu"])
    assert second["next_attempt_ts"] == second["attempt_log"][1]["at_ts"] + 4.0


def test_duplicate_switch_sends_the_notice_twice(payment: TenantClient, province: PartnerSetup) -> None:
    _switch(payment, "notice_duplicate", remaining=1)
    reply = _paid(province)
    notices = wait_for(lambda: len(province.notices()) == 2 and province.notices(), what="two notices")
    assert [n.json()["MaGiaoDich"] for n in notices] == [reply["MaGiaoDich"]] * 2
    assert notices[0].body == notices[1].body
    assert notices[0].headers["x-sandbox-delivery-id"] != notices[1].headers["x-sandbox-delivery-id"]


def test_out_of_order_switch_lets_a_later_notice_overtake(payment: TenantClient, province: PartnerSetup) -> None:
    _switch(payment, "notice_out_of_order", remaining=1, params={"delay_s": 30})
    first = _paid(province)
    second = _paid(province)
    wait_for(lambda: len(province.notices()) == 1, what="the later notice")
    assert province.notices()[0].json()["MaGiaoDich"] == second["MaGiaoDich"]
    advance(payment, 30)
    wait_for(lambda: len(province.notices()) == 2, what="the held notice")
    assert province.notices()[1].json()["MaGiaoDich"] == first["MaGiaoDich"]


def test_wrong_checksum_switch_sends_a_notice_that_does_not_verify(
    payment: TenantClient, province: PartnerSetup, receiver: TenantReceiver
) -> None:
    receiver.reply = lambda _n, r: (200, ACK) if verify(r.json(), NOTIFY_ORDER) else (200, b'{"MaLoi": "97"}')
    _switch(payment, "notice_wrong_checksum", remaining=1)
    reply = _paid(province)
    [notice] = wait_for(province.notices, what="notice")
    assert not verify(notice.json(), NOTIFY_ORDER)
    delivery = settled(payment, 1, ref=reply["MaThamChieu"])
    assert delivery["status"] == "pending"  # refused by the partner: it will be retried
    # A fresh notice from the control plane is signed correctly again.
    r = payment.post(f"/_sandbox/payments/{reply['MaGiaoDich']}/notify")
    assert r.json()["queued"] == 1
    wait_for(lambda: any(verify(n.json(), NOTIFY_ORDER) for n in province.notices()), what="a correct notice")


def test_delivered_notice_can_be_replayed_from_the_control_plane(payment: TenantClient, province: PartnerSetup) -> None:
    reply = _paid(province)
    [delivery] = wait_for(
        lambda: [d for d in deliveries(payment, ref=reply["MaThamChieu"]) if d["status"] == "delivered"],
        what="delivered",
    )
    r = payment.post(f"/_sandbox/deliveries/{delivery['id']}/redeliver")
    assert r.status_code == 200
    notices = wait_for(lambda: len(province.notices()) == 2 and province.notices(), what="replay")
    assert notices[0].body == notices[1].body
    assert notices[1].headers["x-sandbox-delivery-id"] == delivery["id"]


def test_pending_payment_has_no_notice_to_replay(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    r = payment.post(f"/_sandbox/payments/{reply['MaGiaoDich']}/notify")
    assert (r.status_code, r.json()["error_code"]) == (409, "PAYMENT_PENDING")


def test_partner_without_notice_url_gets_no_notice(payment: TenantClient, province: PartnerSetup) -> None:
    province.register(notice_url="")
    reply = _paid(province)
    assert province.query(reply["MaThamChieu"])["TrangThaiGD"] == 1
    assert deliveries(payment, kind="payment.notice") == []


def test_expiry_sends_a_timeout_notice(payment: TenantClient, province: PartnerSetup) -> None:
    province.init()
    advance(payment, 901)
    payment.post("/_sandbox/expire")
    [notice] = wait_for(province.notices, what="timeout notice")
    assert (notice.json()["MaLoi"], notice.json()["TrangThaiGD"]) == ("11", 4)


def _dossier_events(receiver: TenantReceiver) -> list[Any]:
    with receiver.lock:
        return [r for r in receiver.received if r.path == "/dossier/_sandbox/payment-events"]


def test_paid_dossier_is_reported_to_the_dossier_service(
    payment: TenantClient, province: PartnerSetup, receiver: TenantReceiver
) -> None:
    reply = _paid(province)
    [event] = wait_for(lambda: _dossier_events(receiver), what="dossier event")
    body = event.json()
    assert body["MaHoSo"] == "000.00.01.H22-260915-00001"
    assert (body["MaThamChieu"], body["MaGiaoDich"]) == (reply["MaThamChieu"], reply["MaGiaoDich"])
    assert (body["MaDoiTac"], body["SoTien"], body["TrangThaiGD"]) == ("HCM_MCDT", 150_000, 1)
    assert len(body["ThoiGianGD"]) == 14
    assert [f["SoTien"] for f in body["PhiLePhi"]] == [100_000, 50_000]
    h = event.headers
    assert h["x-sandbox-tenant"] == payment.tenant
    assert h["x-sandbox-consumer"] == "service:payment"  # who calls: the operator's diagram draws it
    assert h["x-sandbox-tenant-signature"] == tenant_assertion(
        "vnsandbox-dev-gateway-secret", payment.tenant, h["x-request-id"], "service:payment"
    )


def test_failed_payment_is_not_reported_to_the_dossier_service(
    payment: TenantClient, province: PartnerSetup, receiver: TenantReceiver
) -> None:
    reply = province.init()
    province.complete(reply["MaGiaoDich"], "card_locked")
    wait_for(province.notices, what="partner notice")
    assert deliveries(payment, kind="dossier.payment") == []


def test_dossier_event_refused_by_the_dossier_service_is_retried(
    payment: TenantClient, province: PartnerSetup, receiver: TenantReceiver
) -> None:
    receiver.reply = lambda _n, r: (404, b'{"error_code": "DOSSIER_NOT_FOUND"}') if "dossier" in r.path else (200, ACK)
    _paid(province)
    delivery = settled(payment, 1, kind="dossier.payment")
    assert delivery["status"] == "pending"
    assert delivery["last_status"] == 404


def test_completing_an_overdue_payment_is_refused_and_only_the_timeout_is_notified(
    payment: TenantClient, province: PartnerSetup
) -> None:
    reply = province.init()
    advance(payment, 901)
    r = payment.post(f"/_sandbox/payments/{reply['MaGiaoDich']}/complete", json={"outcome": "success"})
    assert (r.status_code, r.json()["error_code"]) == (409, "PAYMENT_NOT_PENDING")
    [notice] = wait_for(province.notices, what="timeout notice")
    assert notice.json()["MaLoi"] == "11"
    assert len(deliveries(payment, kind="payment.notice")) == 1


def test_nul_in_a_delivery_lookup_is_an_empty_answer_not_an_error(payment: TenantClient) -> None:
    assert payment.get("/_sandbox/deliveries", params={"ref": "A\x00"}).json()["count"] == 0
    r = payment.post("/_sandbox/deliveries/ab%00cd/redeliver")
    assert (r.status_code, r.json()["error_code"]) == (404, "DELIVERY_NOT_FOUND")


def test_notice_never_accepted_is_dead_lettered_and_can_be_revived(
    payment: TenantClient, province: PartnerSetup, receiver: TenantReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert payment.app is not None
    monkeypatch.setattr(payment.app.state.settings, "notice_max_attempts", 2)
    receiver.reply = lambda _n, _r: (500, b"down")
    reply = _paid(province)
    settled(payment, 1, ref=reply["MaThamChieu"])
    advance(payment, 2)
    dead = settled(payment, 2, ref=reply["MaThamChieu"])
    assert dead["status"] == "dead"
    receiver.reply = lambda _n, _r: (200, ACK)
    assert payment.post(f"/_sandbox/deliveries/{dead['id']}/redeliver").status_code == 200
    assert settled(payment, 3, ref=reply["MaThamChieu"])["status"] == "delivered"


def test_out_of_order_switch_lets_the_refund_notice_arrive_before_the_payment_notice(
    payment: TenantClient, province: PartnerSetup
) -> None:
    _switch(payment, "notice_out_of_order", remaining=1, params={"delay_s": 30})
    reply = _paid(province)
    r = payment.post("/payments", json=refund_body(reply["MaThamChieu"], "HT-" + reply["MaGiaoDich"], 50_000))
    assert r.status_code == 200, r.text
    wait_for(lambda: len(province.notices()) == 1, what="the refund notice")
    assert province.notices()[0].json()["LoaiBanTin"] == "REFUND_NOTIFY"
    advance(payment, 30)
    wait_for(lambda: len(province.notices()) == 2, what="the held payment notice")
    later = province.notices()[1].json()
    assert (later["LoaiBanTin"], later["MaGiaoDich"]) == ("NOTIFY", reply["MaGiaoDich"])


def test_payment_view_lists_its_notices_and_their_state(payment: TenantClient, province: PartnerSetup) -> None:
    reply = _paid(province)
    settled(payment, 1, kind="payment.notice", ref=reply["MaThamChieu"])
    settled(payment, 1, kind="dossier.payment")
    view = payment.get(f"/_sandbox/payments/{reply['MaGiaoDich']}").json()
    assert [(n["kind"], n["status"]) for n in view["notices"]] == [
        ("payment.notice", "delivered"),
        ("dossier.payment", "delivered"),
    ]
