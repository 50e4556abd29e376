"""Nobody is born after the tenant's test-clock today: personas born in the future, and numbers whose
century and year digits mean a birth year after the clock's year, are refused with BIRTH_IN_FUTURE."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from tests.identity.conftest import persona, query_of, register
from vnsandbox.vn import cccd


def today_of(identity) -> date:
    return datetime.fromisoformat(identity.get("/_sandbox/clock").json()["now"]).date()


def future_number(identity, years_ahead: int = 1, serial: int = 4242) -> str:
    return cccd.make("001", today_of(identity).year + years_ahead, "F", serial)


def assert_birth_in_future(reply, field: str, rule: str) -> None:
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["error_code"] == "BIRTH_IN_FUTURE"
    assert [(d["field"], d["rule"]) for d in body["details"]] == [(field, rule)]
    assert body["message"] and body["message_en"]


@pytest.fixture
def bearer(rp) -> dict[str, str]:
    token = rp.token(grant_type="client_credentials", scope="population:verify").json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_the_validator_refuses_a_number_born_after_todays_year():
    number = cccd.make("001", 2031, "M", 7)
    assert [p.rule for p in cccd.problems(number, today=date(2030, 12, 31))] == ["birth_year_in_future"]
    assert cccd.problems(number, today=date(2031, 1, 1)) == []
    assert cccd.problems(number) == []  # without a today, only the number's own rules


def test_a_persona_born_tomorrow_is_refused(identity):
    tomorrow = today_of(identity) + timedelta(days=1)
    r = identity.post(
        "/_sandbox/personas",
        json={"HoVaTen": "Lê Thị Mai", "NgayThangNamSinh": tomorrow.strftime("%Y%m%d"), "GioiTinh": "Nữ"},
    )
    assert_birth_in_future(r, "NgayThangNamSinh", "not_in_future")


def test_a_persona_born_today_is_accepted(identity):
    today = today_of(identity)
    r = identity.post(
        "/_sandbox/personas",
        json={"HoVaTen": "Lê Thị Mai", "NgayThangNamSinh": today.strftime("%Y%m%d"), "GioiTinh": "Nữ"},
    )
    assert r.status_code == 201, r.text


def test_a_persona_with_a_future_number_and_birth_date_is_refused(identity):
    number = future_number(identity)
    born = date(today_of(identity).year + 1, 3, 1)
    r = identity.post(
        "/_sandbox/personas",
        json={
            "SoDinhDanh": number,
            "HoVaTen": "Lê Thị Mai",
            "NgayThangNamSinh": born.strftime("%Y%m%d"),
            "GioiTinh": "Nữ",
        },
    )
    assert_birth_in_future(r, "NgayThangNamSinh", "not_in_future")


def test_moving_a_personas_birth_date_into_the_future_is_refused(identity, citizen):
    later = (today_of(identity) + timedelta(days=3)).strftime("%Y%m%d")
    r = identity.patch(f"/_sandbox/personas/{citizen['SoDinhDanh']}", json={"NgayThangNamSinh": later})
    assert_birth_in_future(r, "NgayThangNamSinh", "not_in_future")


def test_a_look_up_of_a_number_born_in_the_future_is_refused(identity, bearer):
    r = identity.get(f"/population/v1/citizens/{future_number(identity)}", headers=bearer)
    assert_birth_in_future(r, "SoDinhDanh", "birth_year_in_future")


def test_a_verification_of_a_number_born_in_the_future_is_refused(identity, bearer):
    r = identity.post("/population/v1/verify", headers=bearer, json={"SoDinhDanh": future_number(identity)})
    assert_birth_in_future(r, "SoDinhDanh", "birth_year_in_future")


def test_a_batch_item_born_in_the_future_is_an_invalid_number(identity, bearer, citizen):
    items = [{"SoDinhDanh": future_number(identity)}, {"SoDinhDanh": citizen["SoDinhDanh"]}]
    r = identity.post("/population/v1/verify/batch", headers=bearer, json={"DanhSach": items})
    first, second = r.json()["KetQua"]
    assert first["MaKetQua"] == "04"
    assert [e["rule"] for e in first["LoiSoDinhDanh"]] == ["birth_year_in_future"]
    assert second["MaKetQua"] == "00"


def test_the_rule_follows_the_tenants_test_clock(identity, rp):
    number = future_number(identity, years_ahead=1)
    identity.post("/_sandbox/clock", json={"advance_seconds": 2 * 366 * 86400})
    token = rp.token(grant_type="client_credentials", scope="population:verify").json()["access_token"]
    r = identity.get(f"/population/v1/citizens/{number}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404
    assert r.json()["error_code"] == "CITIZEN_NOT_FOUND"


def test_a_headless_login_with_a_number_born_in_the_future_is_refused_naming_the_rule(identity):
    rp = register(identity)
    q = query_of(rp.authorize(login=future_number(identity), state="s-9").headers["location"])
    assert q["error"] == "access_denied"
    assert q["state"] == "s-9"
    assert "BIRTH_IN_FUTURE" in q["error_description"] and "birth_year_in_future" in q["error_description"]


def test_login_hint_with_a_number_born_in_the_future_is_refused_naming_the_rule(identity):
    rp = register(identity)
    q = query_of(rp.authorize(login_hint=future_number(identity)).headers["location"])
    assert q["error"] == "access_denied"
    assert "birth_year_in_future" in q["error_description"]


def test_the_login_page_explains_a_number_born_in_the_future(identity):
    rp = register(identity)
    persona(identity)
    form = {
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "response_type": "code",
        "scope": "openid",
        "SoDinhDanh": future_number(identity),
        "action": "approve",
    }
    page = identity.post("/oauth2/login", data=form, follow_redirects=False)
    assert page.status_code == 200
    assert f"năm sinh {today_of(identity).year + 1}" in page.text
