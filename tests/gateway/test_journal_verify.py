"""``POST /_sandbox/journal/verify``: 409 on a mismatch, with the near misses (gateway/verify.py)."""

from __future__ import annotations

from typing import Any

from gateway import verify
from tests.gateway.conftest import TenantCreds, expect_error

CLOCK = "/dvcqg/v1/_sandbox/clock"


def _entry(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 1,
        "time": "2026-01-01T00:00:00.000+00:00",
        "request_id": "r1",
        "consumer": "c-1",
        "api": "dvcqg",
        "method": "POST",
        "path": "/dvcqg/v1/api/login",
        "status": 200,
        "request_headers": {"madonvi": "000.00.01.H22", "authorization": "***"},
        "request_body": '{"username": "sandbox"}',
        "response_body": '{"error_code": 0}',
        "fault": None,
    }
    return base | over


def test_an_entry_meeting_every_criterion_has_no_differences() -> None:
    c = verify.Criteria.of({"method": "post", "path": "/dvcqg/v1/api/login", "headers": {"MaDonVi": "H22"}})
    assert verify.differences(c, _entry()) == []


def test_each_failed_criterion_is_a_difference_with_expected_and_actual() -> None:
    c = verify.Criteria.of(
        {"method": "GET", "status": 201, "body_contains": "HS-9", "headers": {"x-purpose": "audit"}, "fault": "any"}
    )
    found = [d.to_dict() for d in verify.differences(c, _entry())]
    assert found == [
        {"field": "method", "expected": "GET", "actual": "POST"},
        {"field": "status", "expected": 201, "actual": 200},
        {"field": "fault", "expected": "any", "actual": None},
        {"field": "body_contains", "expected": "HS-9", "actual": '{"username": "sandbox"}'},
        {"field": "header:x-purpose", "expected": "audit", "actual": None},
    ]


def test_near_misses_are_ordered_closest_first_and_matches_are_counted() -> None:
    entries = [
        _entry(id=1, path="/oauth2/token", method="GET"),
        _entry(id=2, path="/dvcqg/v1/api/logn"),
        _entry(id=3, path="/dvcqg/v1/api/service"),
        _entry(id=4),
    ]
    verdict = verify.verify(verify.Criteria.of({"method": "POST", "path": "/dvcqg/v1/api/login"}), entries, 2)
    assert verdict.count == 1
    assert [m["id"] for m in verdict.near_misses] == [2, 3]
    assert verdict.near_misses[0]["differences"] == [
        {"field": "path", "expected": "/dvcqg/v1/api/login", "actual": "/dvcqg/v1/api/logn"}
    ]


def test_a_long_body_is_shown_cut_in_its_difference() -> None:
    c = verify.Criteria.of({"body_contains": "absent"})
    (diff,) = verify.differences(c, _entry(request_body="x" * 1000))
    assert diff.actual == "x" * verify.SNIPPET_CHARS + "…"


def test_verify_answers_200_with_ok_when_the_count_is_as_expected(tenant_a: TenantCreds) -> None:
    tenant_a.post(CLOCK, json={"advance_seconds": 1, "note": "HS-1"})
    resp = tenant_a.post("/_sandbox/journal/verify", json={"path": CLOCK, "body_contains": "HS-1", "expected": 1})
    assert resp.status_code == 200
    assert resp.json() == {"count": 1, "expected": 1, "ok": True}


def test_verify_answers_409_with_near_misses_when_no_call_matched(tenant_a: TenantCreds) -> None:
    tenant_a.post(CLOCK, json={"advance_seconds": 1, "note": "HS-1"})
    tenant_a.get(CLOCK)
    query = {"method": "POST", "path": CLOCK, "body_contains": "HS-2", "expected": 1}
    body = expect_error(tenant_a.post("/_sandbox/journal/verify", json=query), 409, verify.MISMATCH_CODE)
    assert (body["count"], body["expected"], body["ok"]) == (0, 1, False)
    closest, other = body["near_misses"]
    assert (closest["method"], closest["path"]) == ("POST", CLOCK)
    assert [d["field"] for d in closest["differences"]] == ["body_contains"]
    assert {d["field"] for d in other["differences"]} == {"method", "body_contains"}


def test_verify_answers_409_when_more_calls_matched_than_expected(tenant_a: TenantCreds) -> None:
    for _ in range(2):
        tenant_a.get(CLOCK)
    resp = tenant_a.post("/_sandbox/journal/verify", json={"method": "GET", "path": CLOCK, "expected": 1})
    assert resp.status_code == 409
    assert (resp.json()["count"], resp.json()["ok"]) == (2, False)


def test_verify_without_expected_only_counts_and_answers_200(tenant_a: TenantCreds) -> None:
    resp = tenant_a.post("/_sandbox/journal/verify", json={"path": "/nowhere"})
    assert (resp.status_code, resp.json()) == (200, {"count": 0})


def test_verify_matches_on_a_request_header(tenant_a: TenantCreds) -> None:
    tenant_a.get(CLOCK, headers={"x-purpose": "kiem-tra-ho-so"})
    query = {"path": CLOCK, "headers": {"X-Purpose": "kiem-tra"}, "expected": 1}
    assert tenant_a.post("/_sandbox/journal/verify", json=query).status_code == 200
    missed = tenant_a.post("/_sandbox/journal/verify", json={**query, "headers": {"X-Purpose": "other"}})
    assert missed.json()["near_misses"][0]["differences"] == [
        {"field": "header:x-purpose", "expected": "other", "actual": "kiem-tra-ho-so"}
    ]


def test_verify_limits_the_near_misses_to_max_near_misses(tenant_a: TenantCreds) -> None:
    for _ in range(3):
        tenant_a.get(CLOCK)
    query = {"path": "/elsewhere", "expected": 1, "max_near_misses": 1}
    assert len(tenant_a.post("/_sandbox/journal/verify", json=query).json()["near_misses"]) == 1
