"""The outbox's network side sends from any thread, also one that already runs an event loop
(a test runner, an ASGI app's own thread, a browser driver's loop)."""

from __future__ import annotations

import asyncio
import threading

from tests.receiver import Receiver
from vnsandbox.outbound import OutboundPolicy
from vnsandbox.sending import ConcurrentPoster, Outgoing


def _poster() -> ConcurrentPoster:
    return ConcurrentPoster(OutboundPolicy.parse("embedded", ""), timeout_s=10, concurrency=8, read_bytes=1024)


def test_a_batch_is_sent_from_a_thread_that_runs_an_event_loop() -> None:
    receiver = Receiver()
    poster = _poster()
    try:

        async def inside_a_running_loop() -> list[int | None]:
            replies = poster.post_all([Outgoing(receiver.url, b'{"n": 1}', {"Content-Type": "application/json"})])
            return [r.status_code for r in replies]

        assert asyncio.run(inside_a_running_loop()) == [200]
        assert len(receiver.received) == 1
    finally:
        poster.close()
        receiver.close()


def test_closing_the_poster_stops_its_loop_thread() -> None:
    receiver = Receiver()
    poster = _poster()
    try:
        before = set(threading.enumerate())
        assert [r.status_code for r in poster.post_all([Outgoing(receiver.url, b"{}", {})])] == [200]
        [own] = [t for t in set(threading.enumerate()) - before if t.name == "vnsandbox-sending"]
        poster.close()
        assert not own.is_alive()
    finally:
        receiver.close()
