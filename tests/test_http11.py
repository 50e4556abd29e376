"""Cleartext HTTP/2 upgrade offers (``Upgrade: h2c``, sent by Java's HttpClient, Spring's
RestClient, Ktor) are served as plain HTTP/1.1 requests, bodies included, by every process."""

from __future__ import annotations

import json
import socket

import pytest

from tests.support import SandboxProcesses
from vnsandbox.http11 import without_h2c_offer

OFFER = b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"


def _request(body: bytes, *, chunked: bool = False, path: str = "/_sandbox/journal/verify") -> bytes:
    framing = b"Transfer-Encoding: chunked\r\n" if chunked else b"Content-Length: %d\r\n" % len(body)
    payload = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if chunked else body
    head = b"POST %s HTTP/1.1\r\nHost: sandbox\r\nContent-Type: application/json\r\n" % path.encode()
    return head + OFFER + framing + b"\r\n" + payload


def _exchange(port: int, *requests: bytes) -> list[tuple[int, dict[str, object]]]:
    """Send the requests one after another on one connection; the replies' statuses and JSON bodies."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        stream = sock.makefile("rb")
        for request in requests:
            sock.sendall(request)
            status = int(stream.readline().split()[1])
            headers = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            body = stream.read(int(headers["content-length"]))
            replies.append((status, json.loads(body)))
    return replies


def test_the_offer_lines_leave_the_head_and_other_connection_tokens_stay() -> None:
    raw = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    raw += b"HTTP2-Settings: AAMA\r\nContent-Length: 2\r\n\r\n{}"
    assert (
        without_h2c_offer(raw) == b"POST / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}"
    )


def test_a_websocket_upgrade_is_left_alone() -> None:
    raw = b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Note: h2c\r\n\r\n"
    assert without_h2c_offer(raw) == raw


def test_a_body_that_mentions_the_offer_is_left_alone() -> None:
    raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\nUpgrade: h2c\r\n"
    assert without_h2c_offer(raw) == raw


def test_a_chunk_that_does_not_start_a_request_is_left_alone() -> None:
    raw = b"more body\r\nUpgrade: h2c\r\n\r\n"
    assert without_h2c_offer(raw) == raw


@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_the_gateway_reads_the_body_of_a_request_offering_h2c(sandbox: SandboxProcesses, chunked: bool) -> None:
    [(status, reply)] = _exchange(
        sandbox.ports["gateway"], _request(b'{"expected": 0, "path": "/nowhere"}', chunked=chunked)
    )
    assert status != 422, reply
    assert reply["count"] == 0


@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
def test_the_connection_serves_the_next_request_after_an_offer(sandbox: SandboxProcesses) -> None:
    first = _request(b'{"path": "/nowhere"}')
    second = _request(b'{"path": "/elsewhere"}', chunked=True)
    replies = _exchange(sandbox.ports["gateway"], first, second)
    assert [status for status, _ in replies] == [200, 200], replies


@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
def test_a_service_reached_directly_reads_the_body_of_a_request_offering_h2c(sandbox: SandboxProcesses) -> None:
    form = b"grant_type=client_credentials&client_id=vnsandbox-dev&client_secret=vnsandbox-dev-secret"
    request = _request(form, path="/oauth2/token").replace(b"application/json", b"application/x-www-form-urlencoded")
    [(status, reply)] = _exchange(sandbox.ports["identity"], request)
    assert status == 200, reply
    assert reply["token_type"].lower() == "bearer"
