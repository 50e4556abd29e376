"""A dossier process killed (SIGKILL) in the middle of a webhook delivery loses nothing:
after a restart the delivery is sent again, with the same delivery id (at-least-once)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.dossier.conftest import DEV_UNIT, citizen_filing, wait_for
from tests.support import ROOT, free_port, new_tenant, pid_alive, wait_http

pytestmark = pytest.mark.multiprocess


def start(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DOSSIER_DATABASE_URL": url,
        "DOSSIER_WEBHOOK_LEASE_S": "1",
        "DOSSIER_WEBHOOK_TIMEOUT_S": "60",
        "DOSSIER_OUTBOX_INTERVAL_S": "0.2",
        "DOSSIER_LOG_REQUESTS": "false",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "services.dossier.app:create_app", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def call(base: str, tenant: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"x-sandbox-tenant": tenant, "content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        data: dict[str, Any] = json.loads(resp.read())
        return data


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dossier.db'}"
    return str(request.getfixturevalue("postgres").create("dossier_kill"))


def test_delivery_interrupted_by_kill_9_is_delivered_after_restart(database_url, receiver, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "dossier.log"
    tenant = new_tenant()
    first = start(database_url, port, log)
    second = None
    try:
        wait_http(base + "/_sandbox/health")
        call(base, tenant, "PATCH", f"/_sandbox/units/{DEV_UNIT}", {"webhook_url": receiver.url})
        receiver.hang.set()
        code = call(base, tenant, "POST", "/_sandbox/citizen-dossiers", citizen_filing())["data"]["MaHoSo"]
        assert receiver.arrived.wait(15), log.read_text()
        # The province is holding the request: the portal is mid-delivery. Kill it.
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert not pid_alive(first.pid)
        receiver.hang.clear()
        receiver.release.set()

        second = start(database_url, port, log)
        wait_http(base + "/_sandbox/health")
        rows = wait_for(
            lambda: [
                d
                for d in call(base, tenant, "GET", f"/_sandbox/deliveries?ref={code}")["deliveries"]
                if d["status"] == "delivered"
            ],
            timeout=30,
        )
        assert rows[0]["attempts"] == 2
        ids = [r["headers"]["x-sandbox-delivery-id"] for r in receiver.requests]
        assert len(ids) == 2 and ids[0] == ids[1] == rows[0]["id"]
        assert json.loads(receiver.requests[1]["body"])["MaHoSo"] == code
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
