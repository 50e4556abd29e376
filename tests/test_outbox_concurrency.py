"""The outbox sends many references at once, one delivery of each reference in flight, in order;
two worker processes on one database send each delivery once."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import defaultdict

import pytest

from tests import test_outbox
from tests.receiver import Received, Receiver
from tests.support import ROOT
from vnsandbox.db import Database
from vnsandbox.outbound import OutboundPolicy
from vnsandbox.outbox import DELIVERED, OutboxSender, RetryPolicy, enqueue, list_deliveries

TENANT = "t-outbox-order"
# The outbox fixtures: the database (SQLite and PostgreSQL), its URL, and a receiver.
db_url, db, receiver = test_outbox.db_url, test_outbox.db, test_outbox.receiver


def _sender(db: Database, **kw) -> OutboxSender:
    return OutboxSender(db, RetryPolicy(timeout_s=30), outbound=OutboundPolicy("embedded"), **kw)


def _enqueue(db: Database, url: str, refs: list[str]) -> None:
    """One delivery per item of ``refs``, numbered in the order given."""
    with db.session() as s:
        for n, ref in enumerate(refs):
            enqueue(s, TENANT, kind="k", ref=ref, target_url=url, payload={"ref": ref, "n": n})


class Watch:
    """A receiver reply that notes, per reference, the order of arrivals and any overlap."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = defaultdict(int)
        self.order: dict[str, list[int]] = defaultdict(list)
        self.overlaps: list[str] = []

    def __call__(self, _n: int, request: Received) -> tuple[int, bytes]:
        body = request.json()
        with self.lock:
            self.in_flight[body["ref"]] += 1
            if self.in_flight[body["ref"]] > 1:
                self.overlaps.append(body["ref"])
            self.order[body["ref"]].append(body["n"])
        time.sleep(0.002)  # keeps each delivery in flight a little while
        with self.lock:
            self.in_flight[body["ref"]] -= 1
        return 200, b"{}"


def test_a_claim_takes_one_due_delivery_per_reference_the_earliest(db: Database, receiver: Receiver) -> None:
    _enqueue(db, receiver.url, ["A", "A", "B", "A", "B", "C"])
    claimed = _sender(db).claim()
    assert [(r.ref, r.seq) for r in claimed] == [("A", 1), ("B", 1), ("C", 1)]


def test_a_reference_with_a_delivery_in_flight_is_not_claimed_again(db: Database, receiver: Receiver) -> None:
    _enqueue(db, receiver.url, ["A", "A", "B"])
    assert [r.ref for r in _sender(db).claim()] == ["A", "B"]
    # Another worker (or process) meanwhile: A and B are leased to the first, so nothing is due.
    assert _sender(db).claim() == []


def test_deliveries_without_a_reference_are_claimed_together(db: Database, receiver: Receiver) -> None:
    _enqueue(db, receiver.url, ["", "", ""])
    assert len(_sender(db).claim()) == 3


def test_deliveries_of_different_references_are_in_flight_at_once(db: Database, receiver: Receiver) -> None:
    # Each request waits at the barrier until all three are there: only concurrent sending passes.
    barrier = threading.Barrier(3, timeout=20)

    def reply(_n: int, _r: Received) -> tuple[int, bytes]:
        barrier.wait()
        return 200, b"{}"

    receiver.reply = reply
    _enqueue(db, receiver.url, ["A", "B", "C"])
    assert _sender(db).run_once() == 3
    with db.session() as s:
        assert [(r.status, r.attempts) for r in list_deliveries(s, TENANT)] == [(DELIVERED, 1)] * 3


def test_each_reference_is_delivered_in_order_one_at_a_time_in_one_process(db: Database, receiver: Receiver) -> None:
    watch = Watch()
    receiver.reply = watch
    refs = [f"R{i % 12}" for i in range(120)]
    _enqueue(db, receiver.url, refs)
    sender = _sender(db)
    assert sender.run_once() == 120
    sender.close()
    assert watch.overlaps == []
    assert {ref: watch.order[ref] for ref in set(refs)} == {
        ref: [n for n, r in enumerate(refs) if r == ref] for ref in set(refs)
    }


@pytest.mark.multiprocess
def test_two_worker_processes_deliver_each_delivery_once_per_reference_in_order(
    db: Database, db_url: str, receiver: Receiver
) -> None:
    watch = Watch()
    receiver.reply = watch
    refs = [f"R{i % 20}" for i in range(200)]
    _enqueue(db, receiver.url, refs)
    workers = [subprocess.Popen([sys.executable, "-m", "tests.apps.outbox_sender", db_url], cwd=ROOT) for _ in range(2)]
    for w in workers:
        assert w.wait(180) == 0
    ids = [r.headers["x-sandbox-delivery-id"] for r in receiver.received]
    assert len(ids) == len(set(ids)) == 200
    assert watch.overlaps == []
    assert {ref: watch.order[ref] for ref in set(refs)} == {
        ref: [n for n, r in enumerate(refs) if r == ref] for ref in set(refs)
    }
