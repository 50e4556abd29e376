"""Portal → province: citizen-filed dossiers and citizen actions reach the province as signed
webhooks from the outbox (retries, dead letter, redelivery), or by polling."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from tests.dossier.conftest import (
    DEV_UNIT,
    advance,
    citizen_filing,
    deliveries,
    progress,
    wait_for,
)


@pytest.fixture
def hooked(dossier, receiver):
    """The development unit with its webhook pointing at the local receiver."""
    r = dossier.patch(f"/_sandbox/units/{DEV_UNIT}", json={"webhook_url": receiver.url, "webhook_secret": "whsec_test"})
    assert r.status_code == 200, r.text
    return receiver


def file(dossier, **overrides) -> str:
    r = dossier.post("/_sandbox/citizen-dossiers", json=citizen_filing(**overrides))
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["MaHoSo"])


def receipt(dossier, code: str, status: int) -> dict:
    """The province's update receiving a filed dossier at its filing time (due in 2099)."""
    filed = dossier.get(f"/_sandbox/dossiers/{code}").json()["data"]["NgayNopHoSo"]
    return {"MaHoSo": code, "TrangThaiHoSo": status, "NgayTiepNhan": filed, "NgayHenTra": "20991120080000"}


def state(dossier, code: str) -> tuple[int, str]:
    row = deliveries(dossier, ref=code)[0]
    return row["attempts"], row["status"]


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check, written from the documented scheme with the standard library only."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    ts = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - ts) <= tolerance and hmac.compare_digest(expected, parts["v1"])


def test_citizen_filing_gets_a_portal_code_and_status_1(dossier):
    code = file(dossier)
    assert code.startswith(f"{DEV_UNIT}-") and code.endswith("-90001")
    assert dossier.get(f"/_sandbox/dossiers/{code}").json()["data"]["TrangThaiHoSo"] == 1


def test_invalid_citizen_filing_is_refused(dossier):
    r = dossier.post("/_sandbox/citizen-dossiers", json=citizen_filing(SoGiayToChuHoSo="123"))
    assert r.json()["error_code"] == 20
    assert r.json()["details"][0]["field"] == "SoGiayToChuHoSo"


def test_filed_dossier_is_delivered_as_a_signed_webhook(dossier, hooked):
    code = file(dossier)
    wait_for(lambda: hooked.requests)
    req = hooked.requests[0]
    assert verify("whsec_test", req["headers"]["x-sandbox-signature"], req["body"])
    payload = json.loads(req["body"])
    assert payload["event"] == "dossier.filed"
    assert payload["MaHoSo"] == code
    assert payload["HoSo"]["ChuHoSo"] == "Lê Thị Cúc"
    assert req["headers"]["x-sandbox-delivery-id"]


def test_signature_does_not_verify_with_another_secret_or_body(dossier, hooked):
    file(dossier)
    wait_for(lambda: hooked.requests)
    req = hooked.requests[0]
    assert not verify("whsec_other", req["headers"]["x-sandbox-signature"], req["body"])
    assert not verify("whsec_test", req["headers"]["x-sandbox-signature"], req["body"] + b" ")


def test_delivery_is_retried_after_a_failure_when_the_clock_moves(dossier, hooked):
    hooked.plan = [500]
    code = file(dossier)
    wait_for(lambda: state(dossier, code) == (1, "pending"))
    assert len(hooked.requests) == 1
    advance(dossier, 3)
    row = wait_for(lambda: next((d for d in deliveries(dossier, ref=code) if d["status"] == "delivered"), None))
    assert row["attempts"] == 2
    assert [a["status_code"] for a in row["attempt_log"]] == [500, 200]
    ids = {q["headers"]["x-sandbox-delivery-id"] for q in hooked.requests}
    assert len(ids) == 1


def test_delivery_is_dead_lettered_after_max_attempts_and_can_be_redelivered(dossier, hooked):
    hooked.plan = [503] * 8
    code = file(dossier)
    for attempt in range(1, 9):
        wait_for(lambda n=attempt: state(dossier, code) in ((n, "pending"), (n, "dead")))
        advance(dossier, 400)
    row = deliveries(dossier, ref=code)[0]
    assert row["status"] == "dead"
    r = dossier.post(f"/_sandbox/deliveries/{row['id']}/redeliver")
    assert r.status_code == 200
    wait_for(lambda: deliveries(dossier, ref=code)[0]["status"] == "delivered")


def test_accepted_webhook_acknowledges_the_inbox_event(dossier, hooked):
    file(dossier)
    wait_for(lambda: dossier.get("/_sandbox/inbox").json()["data"][0]["acknowledged"])
    assert dossier.get("/_sandbox/inbox").json()["data"][0]["acknowledged_by"] == "webhook"


def test_unit_without_webhook_polls_and_acknowledges(province):
    code = file(province.client)
    body = province.call({"service": "LayHoSoTuCongDVCQG"}).json()
    assert [e["MaHoSo"] for e in body["data"]] == [code]
    event_id = body["data"][0]["event_id"]
    ack = province.call({"service": "XacNhanHoSoTuCongDVCQG", "data": [event_id]}).json()
    assert ack["data"][0]["error_code"] == 0
    assert province.call({"service": "LayHoSoTuCongDVCQG"}).json()["data"] == []
    again = province.call({"service": "XacNhanHoSoTuCongDVCQG", "data": [event_id]}).json()
    assert again["data"][0]["error_code"] == 24


def test_province_receives_and_syncs_the_filed_dossier(province):
    code = file(province.client)
    province.call({"service": "LayHoSoTuCongDVCQG"})
    upd = receipt(province.client, code, 2)
    assert province.sync(upd, updating=True).json()["error_code"] == 0
    assert province.status_of(code) == 2


def test_citizen_withdrawal_sets_status_7_and_is_delivered(dossier, hooked):
    code = file(dossier)
    r = dossier.post(f"/_sandbox/citizen-dossiers/{code}/withdraw", json={"LyDo": "Nộp nhầm thủ tục"})
    assert r.json()["data"]["TrangThaiHoSo"] == 7
    wait_for(lambda: len(hooked.requests) == 2)
    payload = json.loads(hooked.requests[1]["body"])
    assert (payload["event"], payload["LyDo"]) == ("dossier.withdrawn", "Nộp nhầm thủ tục")
    assert payload["HoSo"]["TrangThaiHoSo"] == 7


def test_withdrawing_a_finished_dossier_is_an_illegal_transition(province):
    code = file(province.client)
    upd = receipt(province.client, code, 3)
    province.sync(upd, updating=True)
    r = province.client.post(f"/_sandbox/citizen-dossiers/{code}/withdraw", json={})
    assert r.json()["error_code"] == 23


def test_supplement_is_delivered_when_documents_were_requested(province, receiver):
    province.client.patch(f"/_sandbox/units/{DEV_UNIT}", json={"webhook_url": receiver.url})
    code = file(province.client)
    upd = receipt(province.client, code, 2)
    province.sync(upd, updating=True)
    at = upd["NgayTiepNhan"]
    assert province.progress([progress(0, 4, at, MaHoSo=code), progress(0, 5, at, MaHoSo=code)]).json()["accepted"] == 2
    docs = [{"TenGiayTo": "Bản sao giấy chứng sinh", "DuongDan": "https://example.vn/f/1.pdf"}]
    r = province.client.post(f"/_sandbox/citizen-dossiers/{code}/supplement", json={"TaiLieuBoSung": docs})
    assert r.status_code == 200, r.text
    payload = wait_for(
        lambda: next(
            (
                json.loads(q["body"])
                for q in receiver.requests
                if json.loads(q["body"])["event"] == "dossier.supplemented"
            ),
            None,
        )
    )
    assert payload["BoSung"]["TaiLieuBoSung"] == docs
    assert province.status_of(code) == 5


def test_supplement_without_a_request_is_refused(dossier):
    code = file(dossier)
    r = dossier.post(f"/_sandbox/citizen-dossiers/{code}/supplement", json={"TaiLieuBoSung": [{"TenGiayTo": "x"}]})
    assert r.json()["error_code"] == 23
    assert r.json()["details"][0]["rule"] == "supplement_not_requested"
