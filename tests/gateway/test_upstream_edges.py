"""The relay against an upstream that misbehaves at the HTTP and TCP level: a real gateway
process in front of ``tests/apps/closing.py`` (keep-alive promised, connections dropped when
reused; replies with oversized headers)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import expect_error
from tests.support import ROOT, free_port, wait_port

pytestmark = [pytest.mark.multiprocess, pytest.mark.xdist_group("multiprocess")]


@dataclass
class Edge:
    gateway: str
    upstream: str


def _start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env={**os.environ, **(env or {})})


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(10)


def _gateway(upstream: str, data_dir: Path, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = _start(
        ["-m", "uvicorn", "--factory", "gateway.app:create_app", "--port", str(port), "--log-level", "warning"],
        {"GATEWAY_IDENTITY_URL": upstream, "SANDBOX_DATA_DIR": str(data_dir), **env},
    )
    wait_port(port)
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Edge]:
    port = free_port()
    upstream = _start(["-m", "tests.apps.closing", str(port)])
    try:
        wait_port(port)
        gw, url = _gateway(f"http://127.0.0.1:{port}", tmp_path)
        try:
            yield Edge(url, f"http://127.0.0.1:{port}")
        finally:
            _stop(gw)
    finally:
        _stop(upstream)


def test_a_pooled_connection_the_upstream_dropped_is_retried_on_a_fresh_one(edge: Edge) -> None:
    """Alternating POST and GET calls, each on a connection the upstream drops when it is reused."""
    statuses = []
    with httpx.Client(base_url=edge.gateway, timeout=10) as client:
        for i in range(10):
            call = client.get(f"/vneid/v1/read/{i}") if i % 2 else client.post(f"/vneid/v1/write/{i}", json={"i": i})
            statuses.append(call.status_code)
    assert statuses == [200] * 10


def test_a_retried_call_reaches_the_upstream_exactly_once(edge: Edge) -> None:
    with httpx.Client(base_url=edge.gateway, timeout=10) as client:
        for i in range(6):
            client.post(f"/vneid/v1/write/{i}", json={"i": i})
    seen = httpx.get(edge.upstream + "/_seen").json()["seen"]
    assert seen == [f'POST /write/{i} {{"i":{i}}}' for i in range(6)]


def test_an_upstream_reply_header_over_the_default_8190_bytes_is_relayed(edge: Edge) -> None:
    resp = httpx.get(edge.gateway + "/vneid/v1/big-header", params={"bytes": "9000"}, timeout=10)
    assert resp.status_code == 200, resp.text
    assert len(resp.headers["x-big"]) == 9000


def test_an_upstream_reply_header_over_the_limit_is_a_json_502(edge: Edge) -> None:
    resp = httpx.get(edge.gateway + "/vneid/v1/big-header", params={"bytes": "70000"}, timeout=10)
    body = expect_error(resp, 502, "UPSTREAM_HEADER_TOO_LARGE")
    assert body["type"] == "Server.ServerProxy.InvalidResponse"


@pytest.mark.parametrize("pieces", [1, 3])
def test_a_chunked_reply_is_relayed_chunked_whole_or_piece_by_piece(edge: Edge, pieces: int) -> None:
    with httpx.stream("GET", f"{edge.gateway}/vneid/v1/chunked?pieces={pieces}") as r:
        assert r.status_code == 200
        assert r.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in r.headers
        body = b"".join(r.iter_raw())
    assert body == b"".join(b'{"piece": %d}' % i for i in range(pieces))


def test_a_cookie_one_reply_set_is_not_sent_on_later_calls(tmp_path: Path) -> None:
    """The pool is shared by every caller: it keeps no cookies (a host name, not an address,
    is where a client's cookie jar would keep them)."""
    port = free_port()
    upstream = _start(["-m", "tests.apps.closing", str(port)])
    try:
        wait_port(port)
        gw, url = _gateway(f"http://localhost:{port}", tmp_path)
        try:
            first = httpx.get(url + "/vneid/v1/set-cookie", timeout=10)
            assert first.status_code == 200
            assert "sid=someone-elses-session" in first.headers["set-cookie"]  # relayed to its caller
            later = httpx.get(url + "/vneid/v1/cookie", timeout=10)
            assert later.json() == {"cookie": None}
            own = httpx.get(url + "/vneid/v1/cookie", headers={"cookie": "mine=1"}, timeout=10)
            assert own.json() == {"cookie": "mine=1"}
        finally:
            _stop(gw)
    finally:
        _stop(upstream)
