"""Record and replay (launcher/kit/scenario*.py): the scenario file made from a journal, and
replayed against a fresh tenant of a real running sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from launcher.kit import scenario_format as fmt
from tests.support import SandboxProcesses
from tests.test_kit_cli import run

TENANT = "t-0123456789abcdef"


def entry(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tenant": TENANT,
        "method": "POST",
        "path": "/dvcqg/v1/api/login",
        "query": "",
        "status": 200,
        "request_headers": {
            "content-type": "application/json",
            "madonvi": "000.00.01.H22",
            "x-api-key": "***",
            "x-request-id": "r1",
            "user-agent": "curl",
        },
        "request_body": '{"username": "sandbox", "password": "***"}',
        "response_body": '{"error_code": 0, "session": "***"}',
        "fault": None,
    }
    return base | over


SERVICE = entry(
    path="/dvcqg/v1/api/service",
    request_headers={"content-type": "application/json", "session": "***"},
    request_body='{"service": "TraCuuHoSo", "MaHoSo": "000.00.01.H22-241115-00001"}',
    response_body='{"error_code": 22}',
    status=404,
)


def test_a_step_keeps_method_path_headers_body_status_and_platform_code() -> None:
    (step,) = fmt.record([entry()], TENANT)["steps"]
    assert step["method"] == "POST" and step["path"] == "/dvcqg/v1/api/login"
    assert step["headers"] == {"content-type": "application/json", "madonvi": "000.00.01.H22"}
    assert step["expect"] == {"status": 200, "code": 0}


def test_a_redacted_field_becomes_a_variable_to_set() -> None:
    doc = fmt.record([entry()], TENANT)
    assert doc["steps"][0]["json"] == {"username": "sandbox", "password": "${secret.password}"}
    assert doc["variables"] == {"secret.password": None}


def test_a_redacted_reply_field_a_later_step_sends_is_captured() -> None:
    login, service = fmt.record([entry(), SERVICE], TENANT)["steps"]
    assert login["capture"] == {"session": "session"}
    assert service["headers"]["session"] == "${session}"
    assert service["expect"] == {"status": 404, "code": 22}


def test_a_redacted_reply_field_nobody_uses_is_not_captured() -> None:
    (step,) = fmt.record([entry()], TENANT)["steps"]
    assert "capture" not in step


def test_the_tenant_and_its_link_signature_become_variables() -> None:
    path = f"/t/{TENANT}/abc123/paygov/v1/_sandbox/payments"
    (step,) = fmt.record([entry(method="GET", path=path, request_body=None, query=f"tenant={TENANT}")], TENANT)["steps"]
    assert step["path"] == "/t/${tenant}/${tenant_sig}/paygov/v1/_sandbox/payments"
    assert step["query"] == {"tenant": "${tenant}"}


def test_calls_with_a_secret_path_or_an_injected_fault_are_left_out_and_counted() -> None:
    doc = fmt.record([entry(path="/paygov/v1/pay/t/***"), entry(fault={"kind": "error"}), entry()], TENANT)
    assert len(doc["steps"]) == 1 and doc["recorded"]["skipped"] == 2


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('{"error_code": 13}', 13),
        ('{"error_code": "0", "MaLoi": "00"}', "0"),
        ('{"MaLoi": "51"}', "51"),
        ('{"error": "invalid_grant"}', "invalid_grant"),
        ("<html>", None),
        ("[1]", None),
        (None, None),
    ],
)
def test_the_platform_code_is_read_from_each_platforms_envelope(body: str | None, code: Any) -> None:
    assert fmt.platform_code(body) == code


def test_unresolved_names_variables_no_value_or_capture_gives() -> None:
    steps = fmt.record([entry(), SERVICE], TENANT)["steps"]
    assert fmt.unresolved(steps, {}) == ["secret.password"]
    assert fmt.unresolved(steps, {"secret.password": "sandbox"}) == []


@pytest.fixture
def recorded_tenant(sandbox: SandboxProcesses, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    created = httpx.post(sandbox.gateway + "/_sandbox/tenants", json={}, timeout=30).json()
    key = created["consumer"]["credentials"]["api_key"]
    monkeypatch.setenv("VNSB_URL", sandbox.gateway)
    monkeypatch.setenv("VNSB_API_KEY", key)
    monkeypatch.delenv("VNSB_TENANT", raising=False)
    with httpx.Client(base_url=sandbox.gateway, headers={"x-api-key": key}, timeout=30) as c:
        unit = {"MaDonVi": "000.00.01.H22"}
        session = c.post("/dvcqg/v1/api/login", json={"username": "sandbox", "password": "sandbox"}, headers=unit)
        c.post("/dvcqg/v1/api/login", json={"username": "sandbox", "password": "sandbox", "x": 1}, headers=unit)
        c.post(
            "/dvcqg/v1/api/service",
            json={"service": "TraCuuHoSo", "MaHoSo": "000.00.01.H22-241115-00001"},
            headers={"session": session.json()["session"]},
        )
        yield {"tenant": created["tenant"], "key": key}
        c.delete(f"/_sandbox/tenants/{created['tenant']}")


@pytest.fixture
def recording(recorded_tenant: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    """The scenario ``scenario record`` wrote of ``recorded_tenant``'s calls."""
    path = tmp_path / "province.yaml"
    assert run(capsys, "scenario", "record", "--out", str(path))[0] == 0
    return path


@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
def test_a_recorded_scenario_replays_on_a_fresh_tenant_with_the_same_statuses_and_codes(
    recorded_tenant: dict[str, str], recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = yaml.safe_load(recording.read_text())
    assert [(s["path"], s["expect"]["status"], s["expect"]["code"]) for s in doc["steps"]] == [
        ("/dvcqg/v1/api/login", 200, 0),
        ("/dvcqg/v1/api/login", 200, 0),
        ("/dvcqg/v1/api/service", 404, 22),
    ]
    rc, out, _ = run(capsys, "scenario", "replay", str(recording), "--set", "secret.password=sandbox")
    assert rc == 0
    assert "3 step(s) replayed on tenant t-" in out and recorded_tenant["tenant"] not in out


@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
def test_a_replay_that_differs_exits_1_with_a_diff(recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "scenario", "replay", str(recording), "--set", "secret.password=wrong")
    assert rc == 1
    assert "step 1 POST /dvcqg/v1/api/login: expected 200 code 0, got 401 code 10" in err
    assert err.strip().splitlines()[-1] == "vnsandbox scenario: 3 of 3 step(s) differ from the recording"


@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
def test_a_replay_without_a_needed_variable_exits_2_naming_it(
    recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run(capsys, "scenario", "replay", str(recording))
    assert rc == 2 and "give a value for secret.password" in err


def test_replaying_a_file_that_is_not_a_scenario_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text("steps: []\n")
    rc, _, err = run(capsys, "scenario", "replay", str(path))
    assert rc == 2 and "not a scenario file" in err


def test_a_capture_takes_a_nested_field_of_the_reply() -> None:
    step = {"capture": {"ma_ho_so": "data.MaHoSo", "absent": "data.nothing"}}
    assert fmt.captures(step, '{"error_code": 0, "data": {"MaHoSo": "HS-1"}}') == {"ma_ho_so": "HS-1"}
