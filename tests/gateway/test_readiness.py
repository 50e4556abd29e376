"""Liveness and readiness: ``/_sandbox/health`` answers while the gateway runs, ``/_sandbox/ready``
only once every upstream answers its own health check."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from gateway.app import Gateway
from tests.gateway.conftest import expect_error, gateway_settings
from tests.support import SandboxProcesses, free_port


def _with_payment_down(sandbox: SandboxProcesses, tmp_path: Path) -> Gateway:
    dead = f"http://127.0.0.1:{free_port()}"
    return Gateway(gateway_settings(sandbox, f"sqlite:///{tmp_path / 'gw.db'}", tmp_path, payment_url=dead))


def test_ready_is_503_naming_the_upstreams_that_are_down(sandbox: SandboxProcesses, tmp_path: Path) -> None:
    with TestClient(_with_payment_down(sandbox, tmp_path)) as client:
        resp = client.get("/_sandbox/ready")
    body = expect_error(resp, 503, "UPSTREAMS_NOT_READY")
    assert body["status"] == "not_ready"
    assert body["down"] == ["payment"]
    assert "payment" in body["message"] and "payment" in body["message_en"]
    assert body["services"]["identity"]["status"] == 200


def test_health_stays_liveness_while_an_upstream_is_down(sandbox: SandboxProcesses, tmp_path: Path) -> None:
    with TestClient(_with_payment_down(sandbox, tmp_path)) as client:
        resp = client.get("/_sandbox/health")
    assert resp.status_code == 200
    assert resp.json()["status"] == "degraded"


def test_ready_is_200_once_every_upstream_answers(gateway: TestClient) -> None:
    resp = gateway.get("/_sandbox/ready")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "ready"
    assert {name: s["status"] for name, s in body["services"].items()} == {
        "identity": 200,
        "dossier": 200,
        "payment": 200,
    }
