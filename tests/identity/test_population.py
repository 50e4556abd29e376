"""The synthetic population, personas, and the population verification API."""

from __future__ import annotations

import gc
import uuid
from collections import Counter
from datetime import date
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from services.identity.loading import COLUMNS
from services.identity.models import Base, Person
from services.identity.population import (
    REFERENCE_DATE,
    TECH_ID_NAMESPACE,
    Generator,
    add_years,
    card_expiry,
    generate,
    insert_people,
    renewal_birthdays,
    tech_id,
)
from tests.identity.conftest import persona, query_of, register
from tests.support import TenantClient, new_tenant
from vnsandbox.vn import cccd, names

# -- the generator ------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_people():
    assert list(Generator(7, "t", "seed").people(300)) == list(Generator(7, "t", "seed").people(300))


def test_another_seed_gives_other_people():
    a = [r["cccd"] for r in Generator(7, "t", "seed").people(100)]
    b = [r["cccd"] for r in Generator(8, "t", "seed").people(100)]
    assert a != b


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    return list(Generator(2026, "t", "seed").people(20_000))


def test_numbers_are_unique_within_a_population(sample):
    assert len({r["cccd"] for r in sample}) == len(sample)


def test_about_two_percent_are_deceased(sample):
    share = sum(r["death_date"] is not None for r in sample) / len(sample)
    assert 0.01 < share < 0.035


def test_some_adults_have_expired_cards(sample):
    adults = [r for r in sample if r["document_issued"] is not None]
    expired = [r for r in adults if r["document_expires"] and r["document_expires"] < REFERENCE_DATE]
    assert 0.02 < len(expired) / len(adults) < 0.07
    assert all(r["document_issued"] < r["document_expires"] for r in expired)


def test_foreigners_exist_and_hold_level_1_only(sample):
    foreigners = [r for r in sample if r["nationality"] != "VNM"]
    assert foreigners
    assert {r["level"] for r in foreigners} == {1}


def test_there_are_level_1_and_level_2_accounts_and_children_have_none(sample):
    levels = Counter(r["level"] for r in sample if r["nationality"] == "VNM" and r["document_issued"] is not None)
    assert levels[2] > levels[1] > levels[0] > 0
    children = [r for r in sample if (REFERENCE_DATE - r["birth_date"]).days < 13 * 365]
    assert children and {r["level"] for r in children} == {0}


def test_households_share_one_address_and_have_one_head(sample):
    households: dict[str, list[dict[str, Any]]] = {}
    for r in sample:
        households.setdefault(r["household_id"], []).append(r)
    sizes = Counter(len(m) for m in households.values())
    assert set(sizes) <= {1, 2, 3, 4, 5, 6} and sizes[1] and sizes[4]
    for members in households.values():
        assert len({m["address"] for m in members}) == 1
        assert [m["household_role"] for m in members].count("head") == 1


def test_addresses_name_a_real_ward_and_province(sample):
    from vietnam_provinces import Ward

    row = sample[0]
    ward = next(w for w in Ward.iter_all() if int(w.code) == int(row["ward_code"]))
    assert ward.name in row["address"]


def citizens_names(sample: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[str]]]:
    return [(r, r["full_name"].split()) for r in sample if r["nationality"] == "VNM"]


def test_names_are_vietnamese_in_family_middle_given_order(sample):
    for _, parts in citizens_names(sample):
        assert len(parts) == 3
        assert parts[0] in names.FAMILY_NAME_SHARES


def test_every_middle_and_given_name_agrees_with_the_sex(sample):
    for r, (_, middle, given) in citizens_names(sample):
        if r["sex"] == "M":
            assert middle in names.MIDDLE_MALE and given in names.GIVEN_MALE, r["full_name"]
        else:
            assert middle in names.MIDDLE_FEMALE and given in names.GIVEN_FEMALE, r["full_name"]


def test_the_given_name_lists_share_no_name():
    assert not set(names.GIVEN_MALE) & set(names.GIVEN_FEMALE)


def test_no_name_repeats_a_part(sample):
    for _, parts in citizens_names(sample):
        assert len(set(parts)) == len(parts), parts


#: Tolerance (percentage points) of a family name's share in a 20,000-person sample.
SHARE_TOLERANCE = 2.0


@pytest.mark.parametrize("family", ["Nguyễn", "Trần", "Lê", "Phạm"])
def test_family_names_follow_the_documented_frequencies(sample, family):
    people = citizens_names(sample)
    share = 100 * sum(parts[0] == family for _, parts in people) / len(people)
    assert abs(share - names.FAMILY_NAME_SHARES[family]) < SHARE_TOLERANCE, share


def test_the_family_name_shares_add_up_to_the_whole_population():
    assert sum(names.FAMILY_NAME_SHARES.values()) == pytest.approx(100.0)


def test_every_card_expires_on_the_renewal_rule(sample):
    for r in sample:
        if r["document_issued"] is None:
            continue
        assert r["document_issued"] <= REFERENCE_DATE
        assert r["document_expires"] == card_expiry(r["birth_date"], r["document_issued"])


def test_every_expired_card_expired_on_a_25th_40th_or_60th_birthday_after_its_issue(sample):
    expired = [r for r in sample if r["document_expires"] and r["document_expires"] < REFERENCE_DATE]
    assert expired
    for r in expired:
        birthdays = {add_years(r["birth_date"], age) for age in (25, 40, 60)}
        assert r["document_expires"] in birthdays
        assert r["document_issued"] < r["document_expires"]


def test_bulk_insert_writes_every_row(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        count = insert_people(session, Generator(1, "t", "seed").people(12_345), chunk_rows=1000)
        session.commit()
        assert count == 12_345
        assert session.scalar(select(func.count()).select_from(Person)) == 12_345


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_bulk_insert_stores_each_value_as_the_orm_reads_it(backend: str, tmp_path, request) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'p.db'}"
    else:
        url = request.getfixturevalue("postgres").create("people").replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    rows = list(Generator(3, "t", "seed").people(400))
    with Session(engine) as session:
        insert_people(session, iter(rows), chunk_rows=150)
        session.commit()
        stored = {p.cccd: p for p in session.scalars(select(Person))}
        columns = [c.name for c in Person.__table__.columns if c.name != "id"]
        assert [{c: getattr(stored[r["cccd"]], c) for c in columns} for r in rows] == rows
    engine.dispose()


def test_the_row_layout_covers_every_column_of_a_person() -> None:
    assert sorted(COLUMNS) == sorted(c.name for c in Person.__table__.columns if c.name != "id")
    row = next(Generator(5, "t", "seed").rows(1))
    assert dict(zip(COLUMNS, row, strict=True)) == next(Generator(5, "t", "seed").people(1))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_bulk_insert_keeps_values_with_tabs_newlines_and_backslashes(backend: str, tmp_path, request) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'p.db'}"
    else:
        url = request.getfixturevalue("postgres").create("odd").replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    tenant = "t\\ab\tc"
    rows = [{**r, "full_name": r["full_name"] + " \\N\n"} for r in Generator(4, tenant, "seed").people(30)]
    with Session(engine) as session:
        assert insert_people(session, iter(rows), chunk_rows=7) == 30
        session.commit()
        stored = {p.cccd: p for p in session.scalars(select(Person))}
        assert [{c: getattr(stored[r["cccd"]], c) for c in COLUMNS} for r in rows] == rows
    engine.dispose()


def test_the_collector_is_paused_while_people_stream_in_and_left_as_it_was(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    Base.metadata.create_all(engine)
    seen: list[bool] = []
    with Session(engine) as session:
        assert gc.isenabled()
        insert_people(
            session, Generator(1, "t", "seed").people(20), chunk_rows=10, progress=lambda n: seen.append(gc.isenabled())
        )
        assert seen == [False, False] and gc.isenabled()
        gc.disable()
        try:
            insert_people(session, Generator(2, "t", "seed").people(5))
            assert not gc.isenabled()
        finally:
            gc.enable()
    engine.dispose()


def test_renewal_birthdays_are_the_25th_40th_and_60th_birthdays_also_on_29_february() -> None:
    for birth in (date(1996, 2, 29), date(2000, 2, 29), date(1990, 2, 28), date(1987, 12, 31), date(1964, 3, 1)):
        assert renewal_birthdays(birth) == tuple(add_years(birth, age) for age in (25, 40, 60))
    assert renewal_birthdays(date(1996, 2, 29)) == (date(2021, 2, 28), date(2036, 2, 29), date(2056, 2, 29))


def test_tech_id_is_the_uuid5_of_the_number() -> None:
    for number in ("001090000042", "079203001234"):
        assert tech_id(number) == str(uuid.uuid5(TECH_ID_NAMESPACE, number))


def test_generating_again_replaces_the_generated_people_but_keeps_personas(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        generate(session, "t", 100, 1, "seed")
        session.add(
            Person(
                tenant="t",
                cccd=cccd.make("001", 1990, "M", 42),
                tech_id="x",
                full_name="A",
                birth_date=date(1990, 1, 1),
                sex="M",
                source="persona",
            )
        )
        generate(session, "t", 50, 2, "seed")
        sources = Counter(session.scalars(select(Person.source).where(Person.tenant == "t")))
        assert sources == {"seed": 50, "persona": 1}


# -- the base population and seeding --------------------------------------------------------------


def test_every_tenant_sees_the_base_population_generated_at_start(identity):
    info = identity.get("/_sandbox/seed").json()
    assert info["base"]["people"] == 2000
    assert identity.get("/_sandbox/personas", params={"limit": 5}).json()["count"] == 5


def test_seeding_a_tenant_adds_people_only_that_tenant_sees(identity, service_clients):
    r = identity.post("/_sandbox/seed", json={"people": 30, "seed": 99})
    assert r.json()["people"] == 30
    mine = identity.get("/_sandbox/personas", params={"limit": 30}).json()["personas"]
    assert {p["source"] for p in mine} == {"seed"}
    other = TenantClient(service_clients["identity"], new_tenant())
    assert other.get(f"/_sandbox/personas/{mine[0]['SoDinhDanh']}").status_code == 404
    assert all(p["source"] == "base" for p in other.get("/_sandbox/personas").json()["personas"])


def test_seeding_beyond_the_http_limit_points_to_the_cli(identity):
    r = identity.post("/_sandbox/seed", json={"people": 10_000_000, "seed": 1})
    assert r.status_code == 422
    assert "vnsandbox seed" in r.json()["message_en"]


# -- personas ------------------------------------------------------------------------------------


def test_a_persona_without_a_number_gets_a_consistent_one(identity):
    p = persona(identity, NgayThangNamSinh="20051231", GioiTinh="Nữ", MaTinhKhaiSinh="079")
    assert p["SoDinhDanh"].startswith("079305")


def test_a_persona_whose_number_disagrees_with_the_birth_year_is_422(identity):
    r = identity.post(
        "/_sandbox/personas",
        json={"SoDinhDanh": "001090000001", "HoVaTen": "A", "NgayThangNamSinh": "19910101", "GioiTinh": "Nam"},
    )
    assert r.status_code == 422
    assert r.json()["error_code"] == "INVALID_CCCD"
    assert [d["rule"] for d in r.json()["details"]] == ["birth_year"]


def test_a_persona_whose_number_disagrees_with_the_sex_is_422(identity):
    r = identity.post(
        "/_sandbox/personas",
        json={"SoDinhDanh": "001090000001", "HoVaTen": "A", "NgayThangNamSinh": "19900101", "GioiTinh": "Nữ"},
    )
    assert [d["rule"] for d in r.json()["details"]] == ["sex"]


def test_a_foreigner_cannot_be_level_2(identity):
    r = identity.post(
        "/_sandbox/personas",
        json={"HoVaTen": "John Smith", "NgayThangNamSinh": "19800101", "GioiTinh": "Nam", "QuocTich": "USA"},
    )
    assert r.status_code == 422
    assert r.json()["error_code"] == "LEVEL_NOT_ALLOWED"


def test_editing_a_base_person_changes_it_for_this_tenant_only(identity, service_clients):
    base = identity.get("/_sandbox/personas", params={"limit": 1}).json()["personas"][0]
    number = base["SoDinhDanh"]
    r = identity.patch(f"/_sandbox/personas/{number}", json={"HoVaTen": "Tên Đã Sửa"})
    assert r.json()["HoVaTen"] == "Tên Đã Sửa"
    other = TenantClient(service_clients["identity"], new_tenant())
    assert other.get(f"/_sandbox/personas/{number}").json()["HoVaTen"] == base["HoVaTen"]


def test_deleting_a_base_person_hides_it_for_this_tenant_only(identity, service_clients):
    number = identity.get("/_sandbox/personas", params={"limit": 1}).json()["personas"][0]["SoDinhDanh"]
    assert identity.delete(f"/_sandbox/personas/{number}").status_code == 200
    assert identity.get(f"/_sandbox/personas/{number}").status_code == 404
    other = TenantClient(service_clients["identity"], new_tenant())
    assert other.get(f"/_sandbox/personas/{number}").status_code == 200


def test_reset_brings_the_base_person_back(identity):
    number = identity.get("/_sandbox/personas", params={"limit": 1}).json()["personas"][0]["SoDinhDanh"]
    identity.delete(f"/_sandbox/personas/{number}")
    identity.post("/_sandbox/reset")
    assert identity.get(f"/_sandbox/personas/{number}").status_code == 200


def test_a_deceased_persona_can_no_longer_log_in(identity, rp, citizen):
    identity.post(f"/_sandbox/personas/{citizen['SoDinhDanh']}/deceased", json={})
    assert query_of(rp.authorize(login=citizen["SoDinhDanh"]).headers["location"])["error"] == "access_denied"


def test_lowering_the_level_makes_a_level_2_client_refuse(identity, citizen):
    strict = register(identity, required_level=2)
    identity.put(f"/_sandbox/personas/{citizen['SoDinhDanh']}/level", json={"MucDoXacThuc": 1})
    q = query_of(strict.authorize(login=citizen["SoDinhDanh"]).headers["location"])
    assert q["error"] == "unmet_authentication_requirements"


# -- the verification API -------------------------------------------------------------------------


@pytest.fixture
def bearer(rp) -> dict[str, str]:
    token = rp.token(grant_type="client_credentials", scope="population:verify").json()["access_token"]
    return {"Authorization": f"Bearer {token}", "X-Purpose": "xac-thuc-ho-so"}


def test_the_api_needs_a_token(identity, citizen):
    r = identity.get(f"/population/v1/citizens/{citizen['SoDinhDanh']}")
    assert r.status_code == 401


def test_the_api_needs_the_population_scope(identity, rp, citizen):
    token = rp.login(citizen["SoDinhDanh"])["access_token"]
    r = identity.get(f"/population/v1/citizens/{citizen['SoDinhDanh']}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert r.json()["error"] == "insufficient_scope"


def test_look_up_by_number_returns_the_record(identity, citizen, bearer):
    r = identity.get(f"/population/v1/citizens/{citizen['SoDinhDanh']}", headers=bearer)
    assert r.status_code == 200
    assert r.json()["MaKetQua"] == "00"
    assert r.json()["CongDan"]["HoVaTen"] == "Nguyễn Văn An"


def test_look_up_of_an_unknown_number_is_404_code_01(identity, bearer):
    r = identity.get(f"/population/v1/citizens/{cccd.make('096', 1950, 'F', 999_999)}", headers=bearer)
    assert r.status_code == 404
    assert r.json()["MaKetQua"] == "01"
    assert r.json()["error_code"] == "CITIZEN_NOT_FOUND"


def test_look_up_of_an_invalid_number_is_422_naming_the_rule(identity, bearer):
    r = identity.get("/population/v1/citizens/003090000001", headers=bearer)
    assert r.status_code == 422
    assert r.json()["error_code"] == "INVALID_CCCD"
    assert r.json()["details"][0]["rule"] == "province_code"


def test_verify_answers_per_field(identity, citizen, bearer):
    r = identity.post(
        "/population/v1/verify",
        headers=bearer,
        json={
            "SoDinhDanh": citizen["SoDinhDanh"],
            "HoVaTen": "nguyễn  văn an",
            "NgayThangNamSinh": "19900116",
            "GioiTinh": "Nam",
        },
    )
    body = r.json()
    assert body["MaKetQua"] == "05"
    assert body["KetQuaKhop"] == {"HoVaTen": "KHOP", "NgayThangNamSinh": "KHONG_KHOP", "GioiTinh": "KHOP"}
    assert (body["TonTai"], body["ConSong"], body["GiayToConHieuLuc"]) == (True, True, True)


def test_verify_all_matching_is_code_00(identity, citizen, bearer):
    body = identity.post(
        "/population/v1/verify",
        headers=bearer,
        json={"SoDinhDanh": citizen["SoDinhDanh"], "HoVaTen": "Nguyễn Văn An", "NgayThangNamSinh": "19900115"},
    ).json()
    assert body["MaKetQua"] == "00"


def test_verify_a_deceased_person_is_code_02(identity, citizen, bearer):
    identity.post(f"/_sandbox/personas/{citizen['SoDinhDanh']}/deceased", json={"NgayMat": "20250101"})
    body = identity.post("/population/v1/verify", headers=bearer, json={"SoDinhDanh": citizen["SoDinhDanh"]}).json()
    assert (body["MaKetQua"], body["ConSong"]) == ("02", False)


def test_verify_an_expired_document_is_code_03(identity, bearer):
    p = persona(identity, NgayHetHanGiayTo="20200101")
    body = identity.post("/population/v1/verify", headers=bearer, json={"SoDinhDanh": p["SoDinhDanh"]}).json()
    assert (body["MaKetQua"], body["GiayToConHieuLuc"]) == ("03", False)


def test_a_document_expires_when_the_test_clock_passes_its_date(identity, rp):
    p = persona(identity, NgayHetHanGiayTo="20991231")
    identity.post("/_sandbox/clock", json={"advance_seconds": 86400 * 365 * 80})
    token = rp.token(grant_type="client_credentials").json()["access_token"]
    body = identity.post(
        "/population/v1/verify", headers={"Authorization": f"Bearer {token}"}, json={"SoDinhDanh": p["SoDinhDanh"]}
    ).json()
    assert body["MaKetQua"] == "03"


def test_verify_an_unknown_number_is_code_01(identity, bearer):
    number = cccd.make("096", 1950, "F", 999_998)
    body = identity.post("/population/v1/verify", headers=bearer, json={"SoDinhDanh": number}).json()
    assert (body["MaKetQua"], body["TonTai"]) == ("01", False)


def test_batch_verification_answers_each_item_in_order(identity, citizen, bearer):
    unknown = cccd.make("096", 1950, "F", 999_997)
    body = identity.post(
        "/population/v1/verify/batch",
        headers=bearer,
        json={
            "DanhSach": [
                {"SoDinhDanh": citizen["SoDinhDanh"], "HoVaTen": "Nguyễn Văn An"},
                {"SoDinhDanh": unknown},
                {"SoDinhDanh": "12345"},
            ]
        },
    ).json()
    assert [i["MaKetQua"] for i in body["KetQua"]] == ["00", "01", "04"]
    assert body["KetQua"][2]["LoiSoDinhDanh"][0]["rule"] == "format"


def test_a_batch_beyond_the_limit_is_413(identity, citizen, bearer):
    items = [{"SoDinhDanh": citizen["SoDinhDanh"]}] * 101
    r = identity.post("/population/v1/verify/batch", headers=bearer, json={"DanhSach": items})
    assert r.status_code == 413
    assert r.json()["error_code"] == "BATCH_TOO_LARGE"


def test_every_read_is_audited_with_client_fields_and_purpose(identity, rp, citizen, bearer):
    identity.post(
        "/population/v1/verify",
        headers=bearer,
        json={"SoDinhDanh": citizen["SoDinhDanh"], "HoVaTen": "Nguyễn Văn An", "GioiTinh": "Nam"},
    )
    identity.get(f"/population/v1/citizens/{citizen['SoDinhDanh']}", headers=bearer)
    records = identity.get("/_sandbox/audit", params={"subject": citizen["SoDinhDanh"]}).json()["records"]
    assert [r["action"] for r in records] == ["lookup", "verify"]
    assert {r["client"] for r in records} == {rp.client_id}
    assert {r["purpose"] for r in records} == {"xac-thuc-ho-so"}
    assert records[1]["fields"] == ["GioiTinh", "HoVaTen"]
    assert "NgayThangNamSinh" in records[0]["fields"]


def test_a_birth_date_outside_the_numbers_range_is_422(identity):
    r = identity.post("/_sandbox/personas", json={"HoVaTen": "A", "NgayThangNamSinh": "18500101", "GioiTinh": "Nam"})
    assert r.status_code == 422
    assert r.json()["error_code"] == "INVALID_BIRTH_DATE"


def test_an_unknown_birth_province_for_a_made_up_number_is_422(identity):
    r = identity.post(
        "/_sandbox/personas",
        json={"HoVaTen": "A", "NgayThangNamSinh": "19900101", "GioiTinh": "Nam", "MaTinhKhaiSinh": "003"},
    )
    assert r.status_code == 422
    assert r.json()["error_code"] == "INVALID_PROVINCE_CODE"


def test_an_impossible_date_is_422(identity):
    r = identity.post("/_sandbox/personas", json={"HoVaTen": "A", "NgayThangNamSinh": "19901340", "GioiTinh": "Nam"})
    assert r.status_code == 422


def test_population_unavailable_is_503_with_retry_after(identity, citizen, bearer):
    identity.put("/_sandbox/switches/POPULATION_UNAVAILABLE", json={"remaining": 1})
    r = identity.post("/population/v1/verify", headers=bearer, json={"SoDinhDanh": citizen["SoDinhDanh"]})
    assert (r.status_code, r.json()["error_code"], r.json()["MaKetQua"]) == (503, "POPULATION_UNAVAILABLE", "98")
    assert r.headers["Retry-After"] == "30"
    again = identity.post("/population/v1/verify", headers=bearer, json={"SoDinhDanh": citizen["SoDinhDanh"]})
    assert again.json()["MaKetQua"] == "00"


def test_population_timeout_waits_then_answers_504(identity, citizen, bearer):
    identity.put("/_sandbox/switches/POPULATION_TIMEOUT", json={"params": {"delay_seconds": 0.05}})
    r = identity.get(f"/population/v1/citizens/{citizen['SoDinhDanh']}", headers=bearer)
    assert (r.status_code, r.json()["error_code"], r.json()["MaKetQua"]) == (504, "POPULATION_TIMEOUT", "99")
    notes = identity.get("/_sandbox/journal", params={"path_prefix": "/population"}).json()["entries"][0]["notes"]
    assert notes["population_timeout_seconds"] == 0.05


def test_population_not_found_hides_an_existing_person(identity, citizen, bearer):
    identity.put("/_sandbox/switches/POPULATION_NOT_FOUND", json={"remaining": 1})
    body = identity.post("/population/v1/verify", headers=bearer, json={"SoDinhDanh": citizen["SoDinhDanh"]}).json()
    assert (body["MaKetQua"], body["TonTai"]) == ("01", False)
    lookup = identity.get(f"/population/v1/citizens/{citizen['SoDinhDanh']}", headers=bearer)
    assert lookup.status_code == 200


def test_a_population_switch_for_another_client_leaves_this_one_alone(identity, citizen, bearer):
    identity.put("/_sandbox/switches/POPULATION_UNAVAILABLE", json={"scope": "someone-else"})
    r = identity.post("/population/v1/verify", headers=bearer, json={"SoDinhDanh": citizen["SoDinhDanh"]})
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("seed", "tenant", "digest"),
    [
        (1, "bench", "c4cd8fcaa39eddc9db0a1fe7dacf079cc00fef166c00c2e89ba6ec022a23d486"),
        (42, "t-other", "931dfec865cb7a46cc95e7b4ba2bbf86caeb08463f829fe842fd8846b5988b7a"),
    ],
)
def test_a_seed_keeps_giving_the_same_people_byte_for_byte(seed: int, tenant: str, digest: str) -> None:
    import hashlib

    h = hashlib.sha256()
    for row in Generator(seed, tenant, "base").rows(2000):
        h.update(repr(row).encode() + b"\n")
    assert h.hexdigest() == digest
