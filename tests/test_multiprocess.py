"""The multi-process topology: ``vnsandbox up`` with real uvicorn processes on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support import ROOT, SandboxProcesses, free_port, pid_alive, wait_port

pytestmark = [pytest.mark.multiprocess, pytest.mark.xdist_group("multiprocess")]
PREFIXES = {"identity": "/vneid/v1", "dossier": "/dvcqg/v1", "payment": "/paygov/v1"}


def test_every_service_answers_through_the_gateway(sandbox: SandboxProcesses) -> None:
    for service, prefix in PREFIXES.items():
        resp = httpx.get(sandbox.gateway + prefix + "/")
        assert resp.status_code == 200
        assert resp.json()["service"] == service
        assert resp.json()["docs"] == f"{sandbox.gateway}{prefix}/docs"


def test_gateway_health_aggregates_every_service(sandbox: SandboxProcesses) -> None:
    body = httpx.get(sandbox.gateway + "/_sandbox/health").json()
    assert body["status"] == "ok"
    assert set(body["services"]) == set(PREFIXES)


def test_gateway_index_links_each_services_docs(sandbox: SandboxProcesses) -> None:
    apis = httpx.get(sandbox.gateway + "/apis").json()
    assert {a["prefix"] for a in apis} == set(PREFIXES.values())
    for api in apis:
        assert httpx.get(api["openapi"]).json()["openapi"].startswith("3.")
    assert "/vneid/v1/docs" in httpx.get(sandbox.gateway + "/docs").text


def test_service_docs_work_behind_the_gateway_prefix(sandbox: SandboxProcesses) -> None:
    spec = httpx.get(sandbox.gateway + "/dvcqg/v1/openapi.json").json()
    assert spec["servers"] == [{"url": "/dvcqg/v1"}]
    page = httpx.get(sandbox.gateway + "/dvcqg/v1/docs").text
    assert "/dvcqg/v1/openapi.json" in page
    # Swagger UI comes from the service itself (offline rooms have no CDN), under the prefix.
    assert "/dvcqg/v1/static/docs/swagger-ui-bundle.js" in page and "cdn." not in page
    asset = httpx.get(sandbox.gateway + "/dvcqg/v1/static/docs/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000


def _service_journal(sandbox: SandboxProcesses, service: str, rid: str) -> dict:
    entries = httpx.get(sandbox.url(service) + "/_sandbox/journal", params={"request_id": rid}).json()["entries"]
    assert len(entries) == 1
    return entries[0]


def test_gateway_forwards_method_query_headers_body_and_request_id(sandbox: SandboxProcesses) -> None:
    rid = "fwd-" + uuid.uuid4().hex
    resp = httpx.post(
        sandbox.gateway + "/dvcqg/v1/_sandbox/clock",
        params={"trace": "yes"},
        json={"advance_seconds": 0},
        headers={"x-request-id": rid, "x-province-system": "mot-cua-h22"},
    )
    assert resp.status_code == 200
    assert resp.headers["x-request-id"] == rid
    entry = _service_journal(sandbox, "dossier", rid)
    assert entry["method"] == "POST" and entry["path"] == "/_sandbox/clock" and entry["query"] == "trace=yes"
    assert entry["request_headers"]["x-province-system"] == "mot-cua-h22"
    assert entry["request_headers"]["x-forwarded-prefix"] == "/dvcqg/v1"
    assert json.loads(entry["request_body"]) == {"advance_seconds": 0}


def test_gateway_streams_a_large_chunked_body_intact(sandbox: SandboxProcesses) -> None:
    rid = "big-" + uuid.uuid4().hex
    payload = json.dumps({"advance_seconds": 0, "pad": "x" * 700_000}).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(payload), 65_536):
            yield payload[i : i + 65_536]

    resp = httpx.post(
        sandbox.gateway + "/paygov/v1/_sandbox/clock",
        content=chunks(),
        headers={"content-type": "application/json", "x-request-id": rid},
    )
    assert resp.status_code == 200, resp.text
    assert _service_journal(sandbox, "payment", rid)["status"] == 200


def test_gateway_refuses_an_oversized_body_with_413(sandbox: SandboxProcesses) -> None:
    resp = httpx.post(
        sandbox.gateway + "/vneid/v1/_sandbox/clock",
        content=b"x" * 1_100_000,
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == 413
    assert resp.json()["error_code"] == "PAYLOAD_TOO_LARGE"


def test_gateway_refuses_an_oversized_chunked_body_with_a_json_413(sandbox: SandboxProcesses) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 65_536

    resp = httpx.post(
        sandbox.gateway + "/vneid/v1/_sandbox/clock", content=chunks(), headers={"content-type": "application/json"}
    )
    assert resp.status_code == 413, resp.text
    assert resp.json()["error_code"] == "PAYLOAD_TOO_LARGE"


def test_gateway_refuses_path_traversal(sandbox: SandboxProcesses) -> None:
    resp = httpx.get(sandbox.gateway + "/vneid/v1/%2e%2e/%2e%2e/etc/passwd")
    assert resp.status_code == 400
    assert resp.json()["error_code"] == "PATH_TRAVERSAL"


def test_killed_service_gives_502_and_stopping_leaves_no_process(tmp_path) -> None:
    procs = SandboxProcesses(data_dir=tmp_path).start()
    try:
        pids = {name: procs.pid_of(name) for name in PREFIXES}
        assert procs.proc is not None
        children = child_pids(procs.proc.pid)
        assert set(pids.values()) <= children and len(children) == 6  # gateway, 3 services, console, desk
        os.kill(pids["identity"], signal.SIGKILL)
        resp = httpx.get(procs.gateway + "/vneid/v1/")
        assert resp.status_code == 502
        body = resp.json()
        assert body["error_code"] == "UPSTREAM_UNREACHABLE"
        assert body["type"] == "Server.ServerProxy.NetworkError"
        assert "identity" in body["message_en"] and body["message"]
        assert httpx.get(procs.gateway + "/dvcqg/v1/").status_code == 200
    finally:
        rc = procs.stop()
    assert rc == 0
    for pid in children:
        assert not pid_alive(pid)
    by_port = subprocess.run(["pgrep", "-f", f"--port {procs.ports['gateway']}"], capture_output=True, text=True)
    assert by_port.stdout.strip() == ""


def child_pids(pid: int) -> set[int]:
    """The processes ``pid`` started (Linux: /proc/PID/task/*/children)."""
    found: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found |= {int(p) for p in f.read().split()}
    return found


def process_name(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def test_up_forks_each_process_from_itself(sandbox: SandboxProcesses) -> None:
    """The supervisor imported the shared modules once; each process is its own fork, named after it."""
    assert sandbox.proc is not None
    for name in PREFIXES:
        pid = sandbox.pid_of(name)
        assert pid in child_pids(sandbox.proc.pid)
        assert process_name(pid) == f"vnsb-{name}"
        assert os.getsid(pid) == pid  # its own session: Ctrl-C in a terminal reaches the supervisor only


def test_up_without_prefork_starts_each_process_with_uvicorn(tmp_path) -> None:
    procs = SandboxProcesses(data_dir=tmp_path, env={"SANDBOX_NO_PREFORK": "1"}).start()
    try:
        pid = procs.pid_of("dossier")
        with open(f"/proc/{pid}/cmdline") as f:
            assert "services.dossier.app:create_app" in f.read().split("\0")
        assert httpx.get(procs.gateway + "/dvcqg/v1/").status_code == 200
    finally:
        rc = procs.stop()
    assert rc == 0
    assert not pid_alive(pid)


def test_data_survives_a_restart(tmp_path) -> None:
    first = SandboxProcesses(data_dir=tmp_path).start()
    try:
        httpx.post(first.gateway + "/dvcqg/v1/_sandbox/clock", json={"advance_seconds": 4242}).raise_for_status()
    finally:
        first.stop()
    second = SandboxProcesses(data_dir=tmp_path).start()
    try:
        assert httpx.get(second.gateway + "/dvcqg/v1/_sandbox/clock").json()["offset_seconds"] == 4242
    finally:
        second.stop()


def test_up_refuses_a_taken_port_with_a_clear_message(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "vnsandbox",
                "up",
                "--data-dir",
                str(tmp_path),
                "--gateway-port",
                str(port),
                "--identity-port",
                str(free_port()),
                "--dossier-port",
                str(free_port()),
                "--payment-port",
                str(free_port()),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "already in use" in result.stderr


@pytest.fixture
def slow_upstream() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.apps.slow:app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
    )
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_upstream_that_answers_too_late_gives_504(slow_upstream: str, tmp_path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_IDENTITY_URL": slow_upstream,
        "GATEWAY_UPSTREAM_TIMEOUT_S": "0.5",
        "SANDBOX_DATA_DIR": str(tmp_path),
    }
    gw = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "gateway.app:create_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_port(port)
        resp = httpx.get(f"http://127.0.0.1:{port}/vneid/v1/anything", params={"sleep": "3"}, timeout=10)
        assert resp.status_code == 504
        assert resp.json()["error_code"] == "UPSTREAM_TIMEOUT"
    finally:
        gw.terminate()
        gw.wait(10)
