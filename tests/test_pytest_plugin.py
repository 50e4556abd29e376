"""The pytest plugin a province's suite uses (vnsandbox_pytest): registered through its entry
point, its example suite green against a sandbox it starts itself, its helpers' contracts."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import pytest

from vnsandbox.signing import webhook_signature
from vnsandbox.standard_webhooks import new_secret, signature_headers
from vnsandbox_pytest.control import seconds_of
from vnsandbox_pytest.journal import Expectation, near_misses
from vnsandbox_pytest.receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = {
    "vnsandbox",
    "vnsandbox_tenant",
    "vneid",
    "dvcqg",
    "paygov",
    "webhook_receiver",
    "journal",
    "clock",
    "faults",
}


def test_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    [plugin] = [e for e in entry_points(group="pytest11") if e.name == "vnsandbox"]
    assert plugin.value == "vnsandbox_pytest.plugin"


def test_no_fixture_of_the_projects_own_tests_shadows_a_plugin_fixture() -> None:
    defined = set()
    for path in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(d) for d in node.decorator_list):
                defined.add(node.name)
    assert defined & FIXTURES == set()


@pytest.mark.multiprocess
def test_example_province_suite_passes_with_a_sandbox_the_plugin_starts() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "examples/province_ci", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


@pytest.mark.parametrize(
    "text, seconds", [(90, 90.0), ("90s", 90.0), ("15m", 900.0), ("1h", 3600.0), ("2d", 172800.0), ("-1h", -3600.0)]
)
def test_clock_durations_read_as_seconds(text: float | str, seconds: float) -> None:
    assert seconds_of(text) == seconds


def test_an_unreadable_clock_duration_is_refused_with_examples() -> None:
    with pytest.raises(ValueError, match="examples: 90, 90s"):
        seconds_of("soon")


def test_near_misses_list_the_closest_call_first_with_each_difference() -> None:
    entries = [
        {"method": "GET", "path": "/paygov/v1/payments", "status": 200, "request_body": None},
        {"method": "POST", "path": "/dvcqg/v1/api/service", "status": 200, "request_body": '{"MaHoSo": "A"}'},
    ]
    misses = near_misses(Expectation("POST", "/dvcqg/v1/api/service", body_contains="B"), entries)
    assert misses[0].startswith("  POST /dvcqg/v1/api/service → 200: request body does not contain 'B'")
    assert "method is GET, expected POST" in misses[1]


@pytest.mark.parametrize("scheme_header", ["X-Sandbox-Signature", "webhook-signature"])
def test_webhook_receiver_verifies_both_signature_schemes(scheme_header: str) -> None:
    secret = new_secret()
    receiver = WebhookReceiver(secrets=[secret])
    try:
        body = b'{"event": "dossier.filed"}'
        headers = signature_headers(scheme_header, secret, "d-1", int(time.time()), body)
        httpx.post(receiver.url, content=body, headers=headers).raise_for_status()
        [event] = receiver.wait_for("dossier.filed", timeout_s=10)
        assert event.verified_scheme == ("sandbox" if scheme_header.startswith("X-") else "standard-webhooks")
    finally:
        receiver.close()


def test_webhook_receiver_fails_the_wait_for_an_event_signed_with_another_secret() -> None:
    receiver = WebhookReceiver(secrets=[new_secret()])
    try:
        body = b'{"event": "dossier.filed"}'
        headers = {"X-Sandbox-Signature": webhook_signature("whsec_other", int(time.time()), body)}
        httpx.post(receiver.url, content=body, headers=headers).raise_for_status()
        with pytest.raises(AssertionError, match="without a signature that verifies"):
            receiver.wait_for("dossier.filed", timeout_s=10)
    finally:
        receiver.close()


def test_the_embedded_sandbox_gives_every_process_of_up_a_free_port() -> None:
    from launcher.topology import STARTED
    from vnsandbox_pytest.embedded import PROCESSES

    assert set(PROCESSES) == {p.name for p in STARTED}
