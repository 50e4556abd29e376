"""The console's pure parts: Vietnamese times, the token debugger, the sequence diagram, the
session cookie and the fault toggles."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

import console
from console.i18n import EN, offset_words, translator, vn_time
from console.sequence import LANE, call_arrow, delivery_arrow, diagram, service_arrow
from console.session import Session, SessionCodec
from console.toggles import BY_NAME, active
from console.tokens import inspect

NOW = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)


def test_times_are_shown_as_dd_mm_yyyy_hh_mm_in_vietnam_time() -> None:
    assert vn_time("2026-03-01T17:05:00+00:00") == "02/03/2026 00:05"
    assert vn_time(NOW.timestamp(), seconds=True) == "01/03/2026 08:30:00"
    assert vn_time(None) == ""


def test_a_clock_offset_reads_as_days_and_hours_in_the_chosen_language() -> None:
    assert offset_words(86400 + 3600, "vi") == "+1 ngày 1 giờ"
    assert offset_words(-3600, "en") == "−1 h"
    assert offset_words(0, "vi") == ""


def test_english_is_a_translation_of_the_vietnamese_text_and_unknown_text_stays() -> None:
    assert translator("en")("Nhật ký") == "Journal"
    assert translator("vi")("Nhật ký") == "Nhật ký"
    assert translator("en")("chưa dịch") == "chưa dịch"


def test_every_text_the_console_translates_has_its_english() -> None:
    """The English toggle shows no Vietnamese left over: each literal passed to ``t`` in a
    template or in the console's code has an entry in :data:`console.i18n.EN`."""
    root = Path(console.__file__).parent
    sources = [*root.glob("templates/*.html"), *root.glob("*.py")]
    literal = re.compile(r"""\bt\(\s*(?:"([^"]+)"|'([^']+)')\s*\)""")
    texts = {a or b for f in sources for a, b in literal.findall(f.read_text(encoding="utf-8"))}
    assert len(texts) > 100
    assert sorted(t for t in texts if t not in EN) == []


@pytest.fixture(scope="module")
def key() -> tuple[rsa.RSAPrivateKey, dict[str, object]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    jwk["kid"] = "k1"
    return private, {"keys": [jwk]}


def _token(private: rsa.RSAPrivateKey, exp: datetime, kid: str = "k1") -> str:
    claims = {"iss": "http://gw/vneid/v1", "sub": "001190054321", "exp": int(exp.timestamp())}
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})


def test_the_token_debugger_checks_the_signature_against_the_tenants_jwks(key) -> None:
    private, jwks = key
    report = inspect(_token(private, NOW + timedelta(hours=1)), jwks, NOW)
    assert report.header["kid"] == "k1" and report.claims["sub"] == "001190054321"
    assert report.signature == "valid"
    assert report.times["exp"] == "01/03/2026 09:30:00"


def test_the_token_debugger_finds_a_tampered_token(key) -> None:
    private, jwks = key
    head, _claims, sig = _token(private, NOW + timedelta(hours=1)).split(".")
    forged = jwt.utils.base64url_encode(json.dumps({"sub": "someone-else", "exp": 1}).encode()).decode()
    assert inspect(f"{head}.{forged}.{sig}", jwks, NOW).signature == "invalid"


def test_the_token_debugger_names_a_key_missing_from_the_jwks(key) -> None:
    private, jwks = key
    assert inspect(_token(private, NOW, kid="old"), jwks, NOW).signature == "unknown_key"


def test_the_token_debugger_judges_expiry_on_the_tenant_clock(key) -> None:
    private, jwks = key
    token = _token(private, NOW + timedelta(hours=1))
    assert inspect(token, jwks, NOW).expiry == "valid"
    assert inspect(token, jwks, NOW + timedelta(days=1)).expiry == "expired"


def test_a_gateway_token_is_decoded_but_its_hs256_signature_is_not_checkable() -> None:
    token = jwt.encode({"sub": "c-1", "tenant": "t-1", "exp": int(NOW.timestamp()) + 60}, "s" * 32, algorithm="HS256")
    report = inspect(token, None, NOW)
    assert report.claims["tenant"] == "t-1" and report.signature == "not_checkable"


def test_the_token_debugger_says_what_is_wrong_with_a_non_token() -> None:
    assert "three" in inspect("not-a-token", None, NOW).error


def _entry(**kw: object) -> dict[str, object]:
    base = {
        "id": 1,
        "time": "2026-03-01T01:30:00+00:00",
        "api": "dvcqg",
        "method": "POST",
        "path": "/dvcqg/v1/api/CapNhatTienDoHoSoMC",
        "status": 200,
        "request_headers": {"x-api-key": "***"},
        "request_body": '{"service": "CapNhatTienDoHoSoMC"}',
        "response_body": '{"error_code": 0}',
    }
    return base | kw


def test_a_relayed_call_is_an_arrow_from_the_province_to_its_platform_with_request_and_reply() -> None:
    arrow = call_arrow(_entry())
    assert (arrow.start, arrow.end, arrow.ok) == (LANE["province"], LANE["dvcqg"], True)
    assert "x-api-key: ***" in arrow.request and '"service": "CapNhatTienDoHoSoMC"' in arrow.request
    assert arrow.reply.startswith("HTTP 200") and arrow.time == "01/03/2026 08:30:00"


def test_a_call_the_gateway_answered_itself_stops_at_the_gateway() -> None:
    arrow = call_arrow(_entry(status=503, fault={"kind": "error", "rule_id": 1}))
    assert (arrow.end, arrow.ok, arrow.fault) == (LANE["gateway"], False, "error")


def test_a_webhook_is_an_arrow_from_its_platform_back_to_the_province_with_its_attempts() -> None:
    arrow = delivery_arrow(
        {
            "id": "d1",
            "service": "dossier",
            "kind": "dossier.filed",
            "status": "dead",
            "attempts": 8,
            "max_attempts": 8,
            "created_ts": NOW.timestamp(),
            "target_url": "http://province/hook",
            "payload": '{"event": "dossier.filed"}',
            "attempt_log": [{"number": 1, "at": "2026-03-01T01:30:01+00:00", "status_code": 500}],
        }
    )
    assert (arrow.start, arrow.end, arrow.ok) == (LANE["dvcqg"], LANE["province"], False)
    assert "8/8" in arrow.status and "#1 01/03/2026 08:30:01  HTTP 500" in arrow.reply


def test_a_call_between_platforms_is_an_arrow_between_their_lifelines_with_request_and_reply() -> None:
    init = _entry(
        id=7,
        path="/payments",
        request_headers={"x-sandbox-consumer": "service:dossier", "x-sandbox-tenant-signature": "***"},
        request_body='{"LoaiBanTin": "INIT", "MaXacThuc": "***"}',
        response_body='{"error_code": "0", "MaGiaoDich": "PG1"}',
    )
    arrow = service_arrow(init, "payment", offset_s=3600)
    assert arrow is not None and arrow.kind == "service" and arrow.key == "spayment7"
    assert (arrow.start, arrow.end, arrow.ok, arrow.rightward) == (LANE["dvcqg"], LANE["paygov"], True, True)
    assert "x-sandbox-consumer: service:dossier" in arrow.request and '"MaXacThuc": "***"' in arrow.request
    assert '"MaGiaoDich": "PG1"' in arrow.reply and arrow.time == "01/03/2026 09:30:00"
    lookup = _entry(
        id=8,
        method="GET",
        path="/_sandbox/personas/033096674891",
        status=404,
        request_headers={"x-sandbox-consumer": "service:dossier"},
    )
    found = service_arrow(lookup, "identity")
    assert found is not None and (found.start, found.end, found.ok) == (LANE["dvcqg"], LANE["vneid"], False)
    relayed = _entry(request_headers={"x-sandbox-consumer": "c-province"})
    notice = _entry(request_headers={"x-sandbox-consumer": "service:payment", "x-sandbox-delivery-id": "d9"})
    assert service_arrow(relayed, "dossier") is None and service_arrow(notice, "dossier") is None
    # PayGov's notice of a paid fee goes to DVCQG, not to the province; the diagram merges it all.
    paid = delivery_arrow({"id": "d9", "service": "payment", "kind": "dossier.payment", "status": "delivered"})
    assert (paid.start, paid.end, paid.ok) == (LANE["paygov"], LANE["dvcqg"], True)
    arrows = diagram([_entry()], [], hide_control=True, service_entries={"payment": [init], "identity": [lookup]})
    assert [a.key for a in arrows] == ["j1", "spayment7", "sidentity8"]


def test_the_diagram_reads_oldest_first_and_can_hide_control_calls() -> None:
    late = _entry(id=2, time="2026-03-01T02:00:00+00:00")
    control = _entry(id=3, path="/dvcqg/v1/_sandbox/switches")
    assert [a.key for a in diagram([late, _entry(), control], [], hide_control=True)] == ["j1", "j2"]
    assert len(diagram([late, _entry(), control], [], hide_control=False)) == 3


def test_the_session_cookie_round_trips_and_a_tampered_one_is_an_empty_session() -> None:
    codec = SessionCodec("a-secret-of-some-length")
    session = Session()
    session.add("t-1", "c-1", "secret-1", limit=8)
    cookie = codec.dumps(session)
    assert "secret-1" not in cookie
    assert codec.loads(cookie).operator("t-1") is not None
    assert codec.loads(cookie[:-4] + "AAAA").tenants == {}
    assert SessionCodec("another-secret-value").loads(cookie).tenants == {}


def test_a_session_keeps_only_its_newest_tenants() -> None:
    session = Session()
    for i in range(4):
        session.add(f"t-{i}", "c", "s", limit=3)
    assert list(session.tenants) == ["t-1", "t-2", "t-3"]


def test_a_training_fault_is_on_while_a_rule_of_its_shape_exists_whatever_its_values() -> None:
    preset = BY_NAME["paygov-slow"]
    rules = [
        {"id": 4, "kind": "latency", "api": "paygov", "method": "*", "path": "*", "params": {"ms": 5000}},
        {"id": 5, "kind": "latency", "api": "paygov", "method": "*", "path": "*", "params": {"ms": 10}},
        {"id": 6, "kind": "latency", "api": "paygov", "method": "*", "path": "/payments", "params": {"ms": 10}},
        {"id": 7, "kind": "latency", "api": "paygov", "params": {"distribution": "uniform", "max_ms": 10}},
        {"id": 8, "kind": "error", "api": "paygov", "params": {"status": 503}},
    ]
    assert active(preset, rules) == ["4", "5"]
    lost = BY_NAME["dvcqg-lost-reply"]
    assert active(lost, [{"id": 1, "kind": "reset", "api": "dvcqg", "method": "POST", "params": {}}]) == []


def test_a_scorecard_rate_is_a_bar_and_not_applicable_has_none() -> None:
    from console.dashboard import bar, procedures

    assert bar(87.5) == 87.5 and bar("N/A") is None and bar(140) == 100.0
    rows = procedures(
        {
            "TheoThuTuc": {
                "1.001193": {"ThoiGianTrungBinhNgay": 2.0, "SoHoSo": 3},
                "2.000635": {"ThoiGianTrungBinhNgay": 4.0, "SoHoSo": 1},
            }
        }
    )
    assert [(r["code"], r["width"]) for r in rows] == [("2.000635", 100.0), ("1.001193", 50.0)]


def test_the_portal_refuses_an_id_token_for_another_client_or_with_another_nonce() -> None:
    from console.portal import CLIENT_ID, id_token_problem

    claims = {"aud": CLIENT_ID, "nonce": "n1"}
    assert id_token_problem(claims, "n1", "valid", "valid") == ""
    assert "aud" in id_token_problem({**claims, "aud": "other"}, "n1", "valid", "valid")
    assert "nonce" in id_token_problem(claims, "n2", "valid", "valid")
    assert id_token_problem(claims, "n1", "invalid", "valid")
    assert id_token_problem(claims, "n1", "valid", "expired")


def test_a_citizen_may_withdraw_until_the_end_supplement_at_5_and_pay_at_6() -> None:
    from console.portal import actions

    assert actions(1) == {"withdraw"}
    assert actions(5) == {"withdraw", "supplement"}
    assert actions(6) == {"withdraw", "pay"}
    assert actions(6, paid=True) == {"withdraw"}  # paid: nothing more to pay, a second payment is refused
    assert actions(10) == set() and actions(7) == set()


def test_attachments_are_kept_per_tenant_under_unguessable_ids(tmp_path) -> None:
    from console.portal import Attachments

    store = Attachments(tmp_path)
    file_id = store.put("t-1", "tờ khai/../x.txt", b"abc")
    assert store.get("t-1", file_id) == ("tờ khai_.._x.txt", b"abc")
    assert store.get("t-2", file_id) is None
    assert store.get("t-1", "../../etc/passwd") is None


def test_the_province_asks_for_the_fee_after_receiving_and_returns_the_result_after_finishing() -> None:
    from console.scenario import FEE, province_records

    asks = province_records("receive_and_request_fee", "H22-1", NOW)
    assert [r["TrangThaiHoSo"] for r in asks] == [2, 4, 6]
    assert asks[0]["NgayTiepNhan"] == "20260301083000" and asks[2]["DanhSachLePhi"][0]["MucPhi"] == FEE
    done = province_records("finish_and_return", "H22-1", NOW, "http://gw/result")
    assert [r["TrangThaiHoSo"] for r in done] == [9, 10]
    assert done[0]["DanhSachGiayToKetQua"][0]["DuongDanTepTinKetQua"] == "http://gw/result"


def test_journal_times_are_put_on_the_tenant_clock_where_deliveries_already_are() -> None:
    call = _entry(time="2026-03-01T01:30:00+00:00")
    webhook = {
        "id": "d1",
        "service": "dossier",
        "kind": "dossier.filed",
        "status": "delivered",
        "attempts": 1,
        "max_attempts": 8,
        "created_ts": (NOW + timedelta(days=1, minutes=1)).timestamp(),
    }
    arrows = diagram([call], [webhook], hide_control=True, offset_s=86400)
    assert [a.key for a in arrows] == ["j1", "dd1"]
    assert arrows[0].time == "02/03/2026 08:30:00"
