"""The test kit's commands (launcher/kit/) against a real running sandbox (``vnsandbox up``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from launcher.cli import main
from tests.receiver import Receiver
from tests.support import ROOT, SandboxProcesses, free_port, wait_for
from vnsandbox.signing import verify_webhook_signature

pytestmark = [pytest.mark.multiprocess, pytest.mark.xdist_group("multiprocess")]

KIT_COMMANDS = [
    ["wait"],
    ["tenant"],
    ["tenant", "create"],
    ["tenant", "delete"],
    ["reset"],
    ["clock"],
    ["journal"],
    ["journal", "verify"],
    ["journal", "export"],
    ["deliveries"],
    ["deliveries", "listen"],
    ["trigger"],
    ["scenario"],
    ["scenario", "record"],
    ["scenario", "replay"],
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``vnsandbox ARGV`` in this process: exit code (usage errors included), stdout, stderr."""
    try:
        rc = main(list(argv))
    except SystemExit as exc:
        rc = int(exc.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def kit(sandbox: SandboxProcesses, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A throwaway tenant; its VNSB_* variables set as ``tenant create --env`` prints them."""
    created = httpx.post(sandbox.gateway + "/_sandbox/tenants", json={}, timeout=30).json()
    env = {
        "VNSB_URL": sandbox.gateway,
        "VNSB_TENANT": created["tenant"],
        "VNSB_API_KEY": created["consumer"]["credentials"]["api_key"],
    }
    for name in ("VNSB_TOKEN", "VNSB_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env
    httpx.delete(f"{sandbox.gateway}/_sandbox/tenants/{env['VNSB_TENANT']}", headers=headers(env), timeout=30)


def headers(env: dict[str, str]) -> dict[str, str]:
    return {"x-api-key": env["VNSB_API_KEY"]}


def call(env: dict[str, str], method: str, path: str, **kw: Any) -> httpx.Response:
    kw["headers"] = headers(env) | kw.get("headers", {})
    return httpx.request(method, env["VNSB_URL"] + path, timeout=30, **kw)


def login(env: dict[str, str], password: str = "sandbox") -> httpx.Response:
    body = {"username": "sandbox", "password": password}
    return call(env, "POST", "/dvcqg/v1/api/login", json=body, headers={**headers(env), "MaDonVi": "000.00.01.H22"})


@pytest.mark.parametrize("command", KIT_COMMANDS, ids=" ".join)
def test_every_kit_command_has_help_with_an_example(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, *command, "--help")
    assert rc == 0
    assert "example:\n  vnsandbox" in out or "example:\n  eval" in out


def test_a_usage_error_exits_2_with_its_reason(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "clock", "advance", "soon")
    assert rc == 2
    assert "not a duration: 'soon'" in err.splitlines()[-1]


def test_an_invalid_sandbox_url_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "reset", "--url", "ftp://example")
    assert rc == 2
    assert err.strip().splitlines() == [
        "vnsandbox reset: --url must be an http(s) URL such as http://127.0.0.1:8000, not 'ftp://example'"
    ]


def test_an_unreachable_sandbox_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "reset", "--url", f"http://127.0.0.1:{free_port()}")
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "cannot reach the sandbox" in err


def test_wait_exits_0_once_every_upstream_is_ready(
    sandbox: SandboxProcesses, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run(capsys, "wait", "--url", sandbox.gateway, "--timeout", "30")
    assert rc == 0
    assert out.startswith("ready:") and "dossier, identity, payment" in out


def test_wait_exits_1_with_the_reason_after_its_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "wait", "--url", f"http://127.0.0.1:{free_port()}", "--timeout", "0.3")
    assert rc == 1
    assert "not ready after 0.3 s: unreachable" in err


def test_python_dash_m_vnsandbox_runs_the_kit(sandbox: SandboxProcesses) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vnsandbox", "wait", "--url", sandbox.gateway],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_tenant_create_env_prints_exports_that_work(
    sandbox: SandboxProcesses, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VNSB_TENANT", raising=False)
    rc, out, _ = run(capsys, "tenant", "create", "--env", "--url", sandbox.gateway)
    assert rc == 0
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    assert set(env) >= {"VNSB_URL", "VNSB_TENANT", "VNSB_API_KEY", "VNSB_CLIENT_SECRET", "VNSB_VNEID_ISSUER"}
    issuer = httpx.get(env["VNSB_VNEID_ISSUER"] + "/.well-known/openid-configuration", timeout=30).json()["issuer"]
    assert issuer == env["VNSB_VNEID_ISSUER"]
    assert call(env, "GET", f"/_sandbox/tenants/{env['VNSB_TENANT']}").status_code == 200
    rc, out, _ = run(
        capsys,
        "tenant",
        "delete",
        "--url",
        sandbox.gateway,
        "--tenant",
        env["VNSB_TENANT"],
        "--api-key",
        env["VNSB_API_KEY"],
    )
    assert rc == 0 and "deleted" in out
    assert call(env, "GET", f"/_sandbox/tenants/{env['VNSB_TENANT']}").status_code == 401


def test_tenant_create_json_prints_the_credentials(
    sandbox: SandboxProcesses, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run(capsys, "tenant", "create", "--json", "--url", sandbox.gateway)
    created = json.loads(out)
    assert rc == 0 and created["consumer"]["credentials"]["api_key"].startswith("ak_")
    httpx.delete(
        f"{sandbox.gateway}/_sandbox/tenants/{created['tenant']}",
        headers={"x-api-key": created["consumer"]["credentials"]["api_key"]},
        timeout=30,
    )


def test_tenant_delete_without_a_tenant_exits_2(
    kit: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VNSB_TENANT")
    rc, _, err = run(capsys, "tenant", "delete")
    assert rc == 2 and "--tenant" in err


def test_reset_clears_the_tenants_journal(kit: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    login(kit)
    rc, _, _ = run(capsys, "reset")
    assert rc == 0
    assert call(kit, "GET", "/_sandbox/journal").json()["total_matched"] == 0


def test_clock_advance_moves_the_tenants_clock_everywhere(
    kit: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run(capsys, "clock", "advance", "1h30m")
    assert rc == 0 and "5400 s" in out
    clock = call(kit, "GET", "/_sandbox/clock").json()
    assert clock["offset_seconds"] == 5400
    assert {s["status"] for s in clock["services"].values()} == {200}


def test_journal_verify_exits_0_when_the_count_matches(kit: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    login(kit)
    login(kit, "wrong")
    rc, out, _ = run(capsys, "journal", "verify", "--method", "POST", "--path", "/dvcqg/v1/api/login", "--count", "2")
    assert rc == 0 and out.startswith("ok: 2")


def test_journal_verify_exits_1_printing_the_near_misses(
    kit: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    login(kit)
    rc, _, err = run(capsys, "journal", "verify", "--path", "/dvcqg/v1/api/login", "--body-contains", "nobody")
    assert rc == 1
    assert "mismatch: 0 matching call(s), expected 1" in err
    assert "POST /dvcqg/v1/api/login → 200" in err
    assert 'body_contains: expected \'nobody\', was \'{"username": "sandbox"' in err
    assert err.strip().splitlines()[-1] == "vnsandbox journal: 0 call(s) matched, 1 expected"


def test_journal_verify_matches_a_header(kit: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    login(kit)
    rc, _, _ = run(capsys, "journal", "verify", "--path", "/dvcqg/v1/api/login", "--header", "MaDonVi:H22")
    assert rc == 0


def test_journal_export_writes_har_with_every_field_the_spec_requires(
    kit: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    login(kit)
    login(kit, "wrong")
    rc, _, _ = run(capsys, "journal", "export", "--format", "har", "--out", str(tmp_path / "calls.har"))
    assert rc == 0
    har = json.loads((tmp_path / "calls.har").read_text())
    assert_har_1_2(har)
    entries = har["log"]["entries"]
    assert [e["response"]["status"] for e in entries] == [200, 401]
    assert entries[0]["request"]["url"] == kit["VNSB_URL"] + "/dvcqg/v1/api/login"
    assert '"password": "***"' in entries[0]["request"]["postData"]["text"]


def test_journal_export_ndjson_writes_one_entry_a_line_oldest_first(
    kit: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    login(kit)
    login(kit, "wrong")
    rc, out, _ = run(capsys, "journal", "export", "--format", "ndjson")
    lines = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and [e["status"] for e in lines] == [200, 401]


def assert_har_1_2(har: dict[str, Any]) -> None:
    """The objects and fields HAR 1.2 requires (http://www.softwareishard.com/blog/har-12-spec/)."""
    log = har["log"]
    assert log["version"] == "1.2" and {"name", "version"} <= set(log["creator"])
    assert isinstance(log["entries"], list) and log["entries"]
    for e in log["entries"]:
        assert {"startedDateTime", "time", "request", "response", "cache", "timings"} <= set(e)
        req, resp = e["request"], e["response"]
        assert {"method", "url", "httpVersion", "cookies", "headers", "queryString", "headersSize", "bodySize"} <= set(
            req
        )
        assert {
            "status",
            "statusText",
            "httpVersion",
            "cookies",
            "headers",
            "content",
            "redirectURL",
            "headersSize",
            "bodySize",
        } <= set(resp)
        assert {"size", "mimeType"} <= set(resp["content"])
        assert {"send", "wait", "receive"} <= set(e["timings"])
        assert all({"name", "value"} <= set(h) for h in req["headers"] + req["queryString"] + resp["headers"])
        if "postData" in req:
            assert {"mimeType", "text"} <= set(req["postData"])
        assert isinstance(e["time"], float | int) and isinstance(resp["status"], int)
        assert e["startedDateTime"].endswith("+00:00")


def test_trigger_dossier_filed_makes_the_portal_send_the_event(
    kit: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run(capsys, "trigger", "dossier.filed", "--json")
    code = json.loads(out)["MaHoSo"]
    assert rc == 0
    events = call(kit, "GET", "/dvcqg/v1/_sandbox/inbox").json()["data"]
    assert [(e["event"], e["MaHoSo"]) for e in events] == [("dossier.filed", code)]


def test_trigger_dossier_paid_marks_the_dossier_paid(kit: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, _ = run(capsys, "trigger", "dossier.paid")
    assert rc == 0
    events = call(kit, "GET", "/dvcqg/v1/_sandbox/inbox").json()["data"]
    assert [e["event"] for e in events] == ["dossier.filed", "dossier.paid"]


def test_trigger_payment_succeeded_completes_a_payment(kit: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "trigger", "payment.succeeded", "--json")
    made = json.loads(out)
    assert rc == 0
    payment = call(kit, "GET", f"/paygov/v1/_sandbox/payments/{made['MaGiaoDich']}").json()
    assert payment["status"] == "success"


def test_deliveries_listen_forwards_a_new_event_with_its_headers(
    kit: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    receiver = Receiver()
    result: dict[str, int] = {}
    argv = [
        "deliveries",
        "listen",
        "--forward",
        receiver.url + "/hook",
        "--secret",
        "whsec_local",
        "--max-events",
        "1",
        "--timeout",
        "120",
        "--interval",
        "0.2",
    ]
    listener = threading.Thread(target=lambda: result.setdefault("rc", main(argv)))
    listener.start()
    try:
        wait_for(lambda: "listening on" in capsys.readouterr().err, what="the listener to start")
        _, out, _ = run(capsys, "trigger", "dossier.filed")
        code = re.search(r"MaHoSo=(\S+)", out).group(1)  # type: ignore[union-attr]
        listener.join(120)
    finally:
        receiver.close()
    assert result == {"rc": 0}
    (got,) = receiver.received
    assert got.path == "/hook" and got.json()["MaHoSo"] == code
    assert got.headers["x-sandbox-event"] == "dossier.filed"
    assert got.headers["x-sandbox-event-id"] == got.json()["event_id"]
    assert verify_webhook_signature("whsec_local", got.headers["x-sandbox-signature"], got.body)


def test_deliveries_listen_exits_1_when_fewer_events_came_than_asked(
    kit: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run(
        capsys,
        "deliveries",
        "listen",
        "--forward",
        "http://127.0.0.1:9/hook",
        "--max-events",
        "1",
        "--timeout",
        "0.5",
        "--interval",
        "0.1",
    )
    assert rc == 1 and "0 of 1 event(s) forwarded" in err
