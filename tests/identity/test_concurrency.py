"""Racing creations of one persona: exactly one is created, every other racer gets the same 409
as a sequential duplicate (never a 500)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from vnsandbox.vn import cccd

RACERS = 24


def persona_body(serial: int) -> dict[str, object]:
    return {
        "SoDinhDanh": cccd.make("001", 1990, "M", serial),
        "HoVaTen": "Nguyễn Văn Thắng",
        "NgayThangNamSinh": "19900412",
        "GioiTinh": "Nam",
    }


def assert_one_created_and_the_rest_conflict(replies) -> None:
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [201] + [409] * (len(replies) - 1), [r.text for r in replies if r.status_code not in (201, 409)]
    conflicts = [r.json() for r in replies if r.status_code == 409]
    assert {c["error_code"] for c in conflicts} == {"PERSON_EXISTS"}


def test_a_sequential_duplicate_is_person_exists(identity):
    body = persona_body(900_001)
    assert identity.post("/_sandbox/personas", json=body).status_code == 201
    again = identity.post("/_sandbox/personas", json=body)
    assert again.status_code == 409
    assert again.json()["error_code"] == "PERSON_EXISTS"


@pytest.mark.parametrize("round_", range(3))
def test_racing_creations_of_one_persona_answer_201_once_and_409_otherwise(identity, round_):
    body = persona_body(900_100 + round_)
    with ThreadPoolExecutor(RACERS) as pool:
        replies = list(pool.map(lambda _: identity.post("/_sandbox/personas", json=body), range(RACERS)))
    assert_one_created_and_the_rest_conflict(replies)
    assert identity.get(f"/_sandbox/personas/{body['SoDinhDanh']}").status_code == 200


@pytest.mark.parametrize("round_", range(2))
def test_racing_re_creations_of_a_deleted_base_person_answer_201_once_and_409_otherwise(identity, round_):
    base = identity.get("/_sandbox/personas", params={"limit": 5}).json()["personas"][round_]
    assert identity.delete(f"/_sandbox/personas/{base['SoDinhDanh']}").status_code == 200
    body = {k: base[k] for k in ("SoDinhDanh", "HoVaTen", "NgayThangNamSinh", "GioiTinh")}
    with ThreadPoolExecutor(RACERS) as pool:
        replies = list(pool.map(lambda _: identity.post("/_sandbox/personas", json=body), range(RACERS)))
    assert_one_created_and_the_rest_conflict(replies)
