"""The fault toggles' and switches' parameters, against a mock gateway: a toggle is turned on
with the operator's values (bounded, a decimal comma accepted), the active rule's values are
shown, bad input is a Vietnamese message on the page (400) and never reaches the gateway; a
switch takes the parameters its service declares, and the service's own refusal is shown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from console.app import create_app
from console.settings import ConsoleSettings
from console.toggles import BY_NAME, BadParam, switch_params

SLOW = {"delay_ms": {"default": 2000.0, "maximum": 120000.0, "minimum": 0, "title": "Delay Ms", "type": "number"}}
COPIES = {"copies": {"default": 2, "maximum": 10, "minimum": 2, "title": "Copies", "type": "integer"}}


class FakeGateway:
    """The gateway's fault rules, clock and one platform's switches (DVCQG's), in memory."""

    def __init__(self) -> None:
        self.rules: list[dict[str, Any]] = []
        self.switches: list[dict[str, Any]] = []
        self.writes: list[tuple[str, str, Any]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        body: Any = json.loads(request.content) if request.content else None
        if method != "GET":
            self.writes.append((method, path, body))
        if path == "/_sandbox/clock":
            return httpx.Response(200, json={"offset_seconds": 0})
        if path == "/_sandbox/faults" and method == "GET":
            return httpx.Response(200, json={"rules": self.rules})
        if path == "/_sandbox/faults" and method == "POST":
            rule = {"api": "*", "method": "*", "path": "*", "probability": 1.0, **body, "id": len(self.rules) + 1}
            self.rules.append(rule | {"fired": 0})
            return httpx.Response(201, json=rule)
        if path.startswith("/_sandbox/faults/") and method == "DELETE":
            self.rules = [r for r in self.rules if str(r["id"]) != path.rsplit("/", 1)[1]]
            return httpx.Response(204)
        if path == "/dvcqg/v1/_sandbox/switches":
            available = {"sync_slow": "every call waits", "sync_drop": "calls are dropped"}
            return httpx.Response(
                200, json={"available": available, "parameters": {"sync_slow": SLOW}, "active": self.switches}
            )
        if path == "/dvcqg/v1/_sandbox/switches/sync_slow" and method == "PUT":
            if body["params"].get("delay_ms") == 7:  # the service's own check, standing in
                return httpx.Response(422, json={"error_code": "INVALID_SWITCH_PARAMS", "message": "Sai tham số"})
            self.switches = [{"name": "sync_slow", "scope": "*", "params": body["params"], "remaining": None}]
            return httpx.Response(200, json=self.switches[0])
        if path.startswith("/dvcqg/v1/_sandbox/switches/") and method == "DELETE":
            self.switches = []
            return httpx.Response(200, json={"removed": 1})
        if path.endswith("/_sandbox/switches"):
            return httpx.Response(200, json={"available": {}, "active": []})
        return httpx.Response(404, json={"message": "no"})


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def console(fake: FakeGateway) -> Iterator[TestClient]:
    settings = ConsoleSettings(
        mode="embedded", gateway_secret="a-shared-secret-long-enough-0123456789", gateway_url="http://gw"
    )
    with TestClient(create_app(settings, transport=httpx.MockTransport(fake.handle)), follow_redirects=False) as c:
        yield c


FAULTS = "/console/t/default/faults"


def test_paygov_slow_is_turned_on_with_the_operators_delay_and_probability(
    console: TestClient, fake: FakeGateway
) -> None:
    page = console.get(FAULTS)
    assert '<label for="preset-paygov-slow-seconds">Độ trễ (giây)</label>' in page.text
    r = console.post("/console/t/default/presets/paygov-slow", data={"on": "1", "seconds": "2,5", "probability": "40"})
    assert r.status_code == 303, r.text
    assert fake.writes == [
        ("POST", "/_sandbox/faults", {"kind": "latency", "api": "paygov", "params": {"ms": 2500}, "probability": 0.4})
    ]
    page = console.get(FAULTS)
    assert 'aria-checked="true" id="preset-paygov-slow"' in page.text
    assert "Độ trễ (giây): <strong>2,5</strong> · Xác suất (%): <strong>40</strong>" in page.text


def test_vneid_down_answers_the_chosen_status_and_defaults_apply_to_empty_fields(
    console: TestClient, fake: FakeGateway
) -> None:
    console.post("/console/t/default/presets/vneid-down", data={"on": "1", "status": "429", "probability": ""})
    console.post("/console/t/default/presets/dvcqg-lost-reply", data={"on": "1"})
    assert [w[2] for w in fake.writes] == [
        {"kind": "error", "api": "vneid", "params": {"status": 429}, "probability": 1.0},
        {"kind": "reset", "api": "dvcqg", "method": "POST", "params": {"phase": "after"}, "probability": 1.0},
    ]
    assert "Mã trạng thái HTTP: <strong>429</strong>" in console.get(FAULTS).text
    console.post("/console/t/default/presets/vneid-down", data={"on": ""})
    assert [r["kind"] for r in fake.rules] == ["reset"]


@pytest.mark.parametrize(
    ("preset", "form", "message"),
    [
        ("paygov-slow", {"seconds": "abc"}, "Độ trễ (giây) phải là số từ 0,1 đến 120"),
        ("paygov-slow", {"seconds": "nan"}, "Độ trễ (giây) phải là số từ 0,1 đến 120"),
        ("paygov-slow", {"seconds": "1e9"}, "Độ trễ (giây) phải là số từ 0,1 đến 120"),
        ("vneid-down", {"status": "200"}, "Mã trạng thái HTTP phải là số nguyên từ 400 đến 599"),
        ("vneid-down", {"status": "503.5"}, "Mã trạng thái HTTP phải là số nguyên từ 400 đến 599"),
        ("dvcqg-lost-reply", {"probability": "0"}, "Xác suất (%) phải là số từ 1 đến 100"),
    ],
)
def test_a_bad_parameter_is_a_vietnamese_message_beside_its_toggle_and_nothing_is_sent(
    console: TestClient, fake: FakeGateway, preset: str, form: dict[str, str], message: str
) -> None:
    r = console.post(f"/console/t/default/presets/{preset}", data={"on": "1", **form})
    assert r.status_code == 400
    assert f'id="preset-{preset}-error">{message} (INVALID_PARAM)</p>' in r.text
    assert fake.writes == []
    field, value = next(iter(form.items()))
    assert f'name="{field}" value="{value}"' in r.text  # what was typed stays in the field


def test_a_bad_parameter_reads_in_english_with_english_chosen(console: TestClient) -> None:
    console.cookies.set("vnsb_lang", "en", path="/console")
    r = console.post("/console/t/default/presets/paygov-slow", data={"on": "1", "seconds": "-1"})
    assert r.status_code == 400 and "Delay (seconds) must be a number from 0.1 to 120" in r.text


def test_a_switch_takes_the_parameters_its_service_declares(console: TestClient, fake: FakeGateway) -> None:
    page = console.get(FAULTS).text
    assert 'name="param_delay_ms"' in page and "0–120000" in page
    drop = page.split('id="switch-dvcqg-sync_drop"')[1].split('id="switch-dvcqg-sync_slow"')[0]
    assert "param_" not in drop  # a switch without parameters has no field
    r = console.post("/console/t/default/switches/dvcqg/sync_slow", data={"on": "1", "param_delay_ms": "1500"})
    assert r.status_code == 303
    assert fake.writes == [("PUT", "/dvcqg/v1/_sandbox/switches/sync_slow", {"params": {"delay_ms": 1500.0}})]
    assert "<code>delay_ms</code>: <strong>1500.0</strong>" in console.get(FAULTS).text
    console.post("/console/t/default/switches/dvcqg/sync_slow", data={"on": ""})
    assert fake.switches == []
    console.post("/console/t/default/switches/dvcqg/sync_drop", data={"on": "1"})
    assert fake.writes[-1] == ("PUT", "/dvcqg/v1/_sandbox/switches/sync_drop", {"params": {}})


def test_a_bad_switch_parameter_is_refused_by_the_console_or_by_the_service(
    console: TestClient, fake: FakeGateway
) -> None:
    r = console.post("/console/t/default/switches/dvcqg/sync_slow", data={"on": "1", "param_delay_ms": "200000"})
    assert r.status_code == 400
    assert 'id="switch-dvcqg-sync_slow-error">delay_ms phải là số từ 0 đến 120000 (INVALID_PARAM)' in r.text
    assert fake.writes == []
    r = console.post("/console/t/default/switches/dvcqg/sync_slow", data={"on": "1", "param_delay_ms": "7"})
    assert r.status_code == 400 and "422: Sai tham số (GATEWAY_REFUSED)" in r.text


def test_switch_parameters_are_read_against_their_schema() -> None:
    assert switch_params(COPIES, {"param_copies": "3"}) == {"copies": 3}
    assert switch_params(COPIES, {"param_copies": " "}) == {}
    assert switch_params(COPIES, {"param_other": "3"}) == {}
    with pytest.raises(BadParam, match="copies must be a whole number from 2 to 10"):
        switch_params(COPIES, {"param_copies": "2.5"})


def test_a_preset_turned_on_without_values_is_the_documented_default() -> None:
    assert BY_NAME["paygov-slow"].build() == {
        "kind": "latency",
        "api": "paygov",
        "params": {"ms": 5000},
        "probability": 1.0,
    }
