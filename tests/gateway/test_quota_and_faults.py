"""Quotas (token buckets) and fault injection, observed from the client side."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import TenantCreds, expect_error, get_token


def _consumer(tenant: TenantCreds, **body):
    creds = tenant.new_consumer(**body)["credentials"]
    return creds, {"authorization": f"Bearer {get_token(tenant.client, creds['client_id'], creds['client_secret'])}"}


# -- quotas ------------------------------------------------------------------------------------


def test_consumer_over_its_burst_gets_429_with_retry_after(tenant_a: TenantCreds) -> None:
    _, headers = _consumer(tenant_a, scopes=["vneid"], quota={"rate_per_second": 0.01, "burst": 2})
    assert [tenant_a.client.get("/vneid/v1/", headers=headers).status_code for _ in range(2)] == [200, 200]
    resp = tenant_a.client.get("/vneid/v1/", headers=headers)
    expect_error(resp, 429, "RATE_LIMITED")
    assert int(resp.headers["retry-after"]) >= 1


def test_quota_change_applies_to_the_next_call(tenant_a: TenantCreds) -> None:
    creds, headers = _consumer(tenant_a, scopes=["vneid"], quota={"rate_per_second": 0.01, "burst": 1})
    assert tenant_a.client.get("/vneid/v1/", headers=headers).status_code == 200
    assert tenant_a.client.get("/vneid/v1/", headers=headers).status_code == 429
    resp = tenant_a.put(f"/_sandbox/consumers/{creds['client_id']}/quota", json={"rate_per_second": None})
    assert resp.status_code == 200
    assert resp.json()["quota"] == {"rate_per_second": None, "burst": None}
    assert [tenant_a.client.get("/vneid/v1/", headers=headers).status_code for _ in range(3)] == [200, 200, 200]


def test_quota_is_counted_per_consumer(tenant_a: TenantCreds) -> None:
    _, limited = _consumer(tenant_a, scopes=["vneid"], quota={"rate_per_second": 0.01, "burst": 1})
    _, other = _consumer(tenant_a, scopes=["vneid"], quota={"rate_per_second": 0.01, "burst": 1})
    assert tenant_a.client.get("/vneid/v1/", headers=limited).status_code == 200
    assert tenant_a.client.get("/vneid/v1/", headers=limited).status_code == 429
    assert tenant_a.client.get("/vneid/v1/", headers=other).status_code == 200


# -- fault rules -------------------------------------------------------------------------------


def _fault(tenant: TenantCreds, **rule) -> dict[str, Any]:
    resp = tenant.post("/_sandbox/faults", json=rule)
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


@pytest.mark.parametrize(
    ("api", "path", "shape"),
    [
        ("dvcqg", "/dvcqg/v1/", {"error_code": -1}),
        ("vneid", "/vneid/v1/", {"error": "temporarily_unavailable"}),
        ("paygov", "/paygov/v1/", {"MaLoi": "99"}),
    ],
)
def test_error_fault_answers_with_the_platforms_own_error_body(tenant_a: TenantCreds, api, path, shape) -> None:
    _fault(tenant_a, kind="error", api=api, params={"status": 503})
    resp = tenant_a.get(path)
    assert resp.status_code == 503
    body = resp.json()
    assert shape.items() <= body.items()
    assert body.get("message") or body.get("error_description")


def test_error_fault_can_carry_a_custom_body_and_headers(tenant_a: TenantCreds) -> None:
    _fault(tenant_a, kind="error", params={"status": 429, "body": {"x": 1}, "headers": {"Retry-After": "7"}})
    resp = tenant_a.get("/dvcqg/v1/")
    assert (resp.status_code, resp.json(), resp.headers["retry-after"]) == (429, {"x": 1}, "7")


NAVIGATION = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Sec-Fetch-Mode": "navigate"}


def test_error_fault_is_a_vietnamese_page_for_a_browser_and_the_exact_json_for_api_clients(
    tenant_a: TenantCreds,
) -> None:
    _fault(tenant_a, kind="error", api="vneid", params={"status": 503})
    page = tenant_a.get("/vneid/v1/oauth2/authorize?client_id=x&a=%3Cb%3E", headers=NAVIGATION)
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store" and "Accept" in page.headers["vary"]
    assert '<html lang="vi">' in page.text and "Dịch vụ tạm thời gián đoạn" in page.text
    assert "<code>temporarily_unavailable</code>" in page.text and "HTTP 503" in page.text
    assert "Hệ thống đang bận hoặc gián đoạn" in page.text
    assert '<p lang="en">The system is busy or interrupted; please retry later</p>' in page.text
    assert '<a href="">Thử lại</a>' in page.text  # the page's own address, opened again
    assert page.headers["x-request-id"] in page.text
    # The first of HTML and JSON in Accept decides; without either (or with */*), JSON.
    html_first = tenant_a.get("/vneid/v1/", headers={"Accept": "text/html, application/json"})
    assert html_first.headers["content-type"].startswith("text/html")
    for accept in ("application/json", "application/json, text/html", "*/*", ""):
        api = tenant_a.get("/vneid/v1/", headers={"Accept": accept} if accept else {})
        assert api.status_code == 503 and api.json() == {
            "error": "temporarily_unavailable",
            "error_description": "Hệ thống đang bận hoặc gián đoạn, vui lòng thử lại sau",
        }, accept
    fetch = tenant_a.get("/vneid/v1/", headers={"Accept": "text/html", "Sec-Fetch-Mode": "cors"})
    assert fetch.headers["content-type"].startswith("application/json")


def test_a_form_post_hit_by_a_fault_offers_to_retry_from_the_page_it_was_on(tenant_a: TenantCreds) -> None:
    _fault(tenant_a, kind="error", api="vneid", params={"status": 503, "headers": {"Retry-After": "30"}})
    host = httpx.URL(str(tenant_a.client.base_url)).netloc.decode()
    login = f"http://{host}/vneid/v1/oauth2/authorize?client_id=x&state=a&b"
    page = tenant_a.post("/vneid/v1/oauth2/login", data={"cccd": "1"}, headers={**NAVIGATION, "Referer": login})
    assert page.status_code == 503 and page.headers["retry-after"] == "30"
    assert f'<a href="{login.replace("&", "&amp;")}">Thử lại</a>' in page.text
    elsewhere = tenant_a.post("/vneid/v1/oauth2/login", headers={**NAVIGATION, "Referer": "http://evil.example/x"})
    assert '<a href="">Thử lại</a>' in elsewhere.text


def test_the_gateways_own_upstream_errors_are_a_page_for_a_browser_too(tenant_a: TenantCreds) -> None:
    _fault(tenant_a, kind="timeout", api="paygov", params={"after_ms": 10})
    page = tenant_a.get("/paygov/v1/pay/x", headers=NAVIGATION)
    assert page.status_code == 504 and page.headers["content-type"].startswith("text/html")
    assert "<code>UPSTREAM_TIMEOUT</code>" in page.text and "không trả lời trong" in page.text
    assert '<p lang="en">The payment service did not answer within' in page.text
    expect_error(tenant_a.get("/paygov/v1/pay/x"), 504, "UPSTREAM_TIMEOUT")


def test_which_requests_are_a_browsers_navigation() -> None:
    from gateway.error_page import fault_texts, wants_html

    assert wants_html(b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", None)
    assert wants_html(b"*/*", b"navigate") and not wants_html(b"text/html", b"cors")
    assert not wants_html(b"application/json, text/html", None) and not wants_html(b"*/*", None)
    assert not wants_html(None, None) and not wants_html(b"application/problem+json", None)
    assert fault_texts({"error_code": -1, "message": "bận"}, 503) == (
        "-1",
        "bận",
        "The system is busy or interrupted; please retry later",
    )
    assert fault_texts({"x": 1}, 429)[0] == "HTTP_429" and fault_texts("text", 500)[0] == "HTTP_500"


def test_next_n_fault_applies_to_exactly_n_calls(tenant_a: TenantCreds) -> None:
    _fault(tenant_a, kind="error", api="dvcqg", next_n=2)
    codes = [tenant_a.get("/dvcqg/v1/").status_code for _ in range(4)]
    assert codes == [503, 503, 200, 200]


def test_fault_rule_matches_only_its_method_and_path(tenant_a: TenantCreds) -> None:
    _fault(tenant_a, kind="error", api="dvcqg", method="POST", path="/_sandbox/clock")
    assert tenant_a.get("/dvcqg/v1/_sandbox/clock").status_code == 200
    assert tenant_a.post("/dvcqg/v1/_sandbox/clock", json={"advance_seconds": 1}).status_code == 503
    assert tenant_a.post("/paygov/v1/_sandbox/clock", json={"advance_seconds": 1}).status_code == 200


def test_fault_rule_for_one_consumer_spares_the_others(tenant_a: TenantCreds) -> None:
    creds, headers = _consumer(tenant_a, scopes=["dvcqg"])
    _fault(tenant_a, kind="error", consumer=creds["client_id"])
    assert tenant_a.client.get("/dvcqg/v1/", headers=headers).status_code == 503
    assert tenant_a.get("/dvcqg/v1/").status_code == 200


def test_fault_rules_of_one_tenant_never_touch_another(tenant_a: TenantCreds, tenant_b: TenantCreds) -> None:
    _fault(tenant_a, kind="error")
    assert tenant_a.get("/dvcqg/v1/").status_code == 503
    assert tenant_b.get("/dvcqg/v1/").status_code == 200
    assert tenant_b.get("/_sandbox/faults").json()["rules"] == []


def test_latency_fault_delays_then_relays_and_is_journalled(tenant_a: TenantCreds) -> None:
    rule = _fault(tenant_a, kind="latency", params={"distribution": "uniform", "min_ms": 20, "max_ms": 40})
    resp = tenant_a.get("/dvcqg/v1/")
    assert resp.status_code == 200
    entry = tenant_a.get("/_sandbox/journal", params={"request_id": resp.headers["x-request-id"]}).json()["entries"][0]
    assert entry["fault"]["rule_id"] == rule["id"]
    assert entry["fault"]["kind"] == "latency"
    assert 20 <= entry["fault"]["delay_ms"] <= 40


def test_timeout_fault_holds_the_call_then_answers_504(tenant_a: TenantCreds) -> None:
    _fault(tenant_a, kind="timeout", params={"after_ms": 10})
    resp = tenant_a.get("/paygov/v1/")
    body = expect_error(resp, 504, "UPSTREAM_TIMEOUT")
    assert body["type"] == "Server.ServerProxy.Timeout"


def test_malformed_fault_relays_the_call_then_garbles_the_reply(tenant_a: TenantCreds) -> None:
    _fault(tenant_a, kind="malformed", method="POST")
    resp = tenant_a.post("/dvcqg/v1/_sandbox/clock", json={"advance_seconds": 60})
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        json.loads(resp.content)
    # The service did handle the call: the province must not assume it failed.
    assert tenant_a.get("/dvcqg/v1/_sandbox/clock").json()["offset_seconds"] == 60


def test_seeded_probabilistic_plan_is_reproducible(tenant_a: TenantCreds) -> None:
    def run() -> list[int]:
        tenant_a.delete("/_sandbox/faults")
        _fault(tenant_a, kind="error", probability=0.5, seed=1234)
        return [tenant_a.get("/vneid/v1/").status_code for _ in range(16)]

    first, second = run(), run()
    assert first == second
    assert 503 in first and 200 in first


def test_different_seeds_give_different_plans(tenant_a: TenantCreds) -> None:
    plans = []
    for seed in (1, 2):
        tenant_a.delete("/_sandbox/faults")
        _fault(tenant_a, kind="error", probability=0.5, seed=seed)
        plans.append([tenant_a.get("/vneid/v1/").status_code for _ in range(16)])
    assert plans[0] != plans[1]


def test_fault_rules_are_listed_removed_and_cleared(tenant_a: TenantCreds) -> None:
    one = _fault(tenant_a, kind="error", api="vneid")
    _fault(tenant_a, kind="latency", params={"ms": 1})
    assert [r["kind"] for r in tenant_a.get("/_sandbox/faults").json()["rules"]] == ["error", "latency"]
    assert tenant_a.delete(f"/_sandbox/faults/{one['id']}").status_code == 200
    assert [r["kind"] for r in tenant_a.get("/_sandbox/faults").json()["rules"]] == ["latency"]
    assert tenant_a.delete("/_sandbox/faults").json() == {"removed": 1}
    assert tenant_a.get("/_sandbox/faults").json()["rules"] == []


def test_another_tenants_fault_rule_cannot_be_removed(tenant_a: TenantCreds, tenant_b: TenantCreds) -> None:
    rule = _fault(tenant_a, kind="error")
    expect_error(tenant_b.delete(f"/_sandbox/faults/{rule['id']}"), 404, "FAULT_RULE_NOT_FOUND")
    assert len(tenant_a.get("/_sandbox/faults").json()["rules"]) == 1


def test_invalid_fault_rule_is_refused_naming_the_problem(tenant_a: TenantCreds) -> None:
    resp = tenant_a.post("/_sandbox/faults", json={"kind": "error", "params": {"status": 200}})
    body = expect_error(resp, 422, "VALIDATION_ERROR")
    assert "status" in json.dumps(body["details"])
    expect_error(tenant_a.post("/_sandbox/faults", json={"kind": "meteor"}), 422, "VALIDATION_ERROR")


def test_fault_rule_for_an_unknown_api_is_refused(tenant_a: TenantCreds) -> None:
    expect_error(tenant_a.post("/_sandbox/faults", json={"kind": "error", "api": "vnpost"}), 422, "VALIDATION_ERROR")
