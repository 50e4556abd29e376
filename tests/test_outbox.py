"""The shared outbox: delivery, signature, retries in test-clock time, dead letter, leases."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.receiver import Receiver, fail_first
from vnsandbox import clock
from vnsandbox.db import ControlBase, Database
from vnsandbox.outbox import (
    DEAD,
    DELIVERED,
    PENDING,
    Delivery,
    OutboxBase,
    OutboxSender,
    RetryPolicy,
    attempts_of,
    enqueue,
    list_deliveries,
    redeliver,
)
from vnsandbox.signing import verify_webhook_signature

TENANT = "t-outbox"


@pytest.fixture
def db(backend: str, tmp_path, request) -> Iterator[Database]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/outbox.db"
    else:
        url = request.getfixturevalue("postgres").create("outbox")
    database = Database(url, [OutboxBase.metadata])
    ControlBase.metadata.create_all(database.engine)
    OutboxBase.metadata.create_all(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _sender(db: Database, **policy) -> OutboxSender:
    return OutboxSender(db, RetryPolicy(**({"base_s": 10, "max_attempts": 3, "timeout_s": 2} | policy)))


def test_delivery_is_sent_signed_with_its_id(db: Database, receiver: Receiver) -> None:
    with db.session() as s:
        row = enqueue(
            s,
            TENANT,
            kind="test.event",
            target_url=receiver.url + "/hook",
            payload={"MaHoSo": "X-1"},
            sign_secret="whsec",
        )
        delivery_id = row.id
    assert _sender(db).run_once() == 1
    got = receiver.received[0]
    assert got.json() == {"MaHoSo": "X-1"}
    assert got.headers["x-sandbox-delivery-id"] == delivery_id
    assert verify_webhook_signature("whsec", got.headers["x-sandbox-signature"], got.body)
    with db.session() as s:
        assert list_deliveries(s, TENANT)[0].status == DELIVERED


def test_failed_delivery_waits_for_backoff_in_test_clock_time(db: Database, receiver: Receiver) -> None:
    receiver.reply = fail_first(1)
    with db.session() as s:
        enqueue(s, TENANT, kind="k", target_url=receiver.url, payload="{}")
    sender = _sender(db)
    assert sender.run_once() == 1
    assert sender.run_once() == 0  # not due yet: backoff is 10 s of the tenant's time
    with db.session() as s:
        clock.set_offset(s, TENANT, 11)
    assert sender.run_once() == 1
    assert len(receiver.received) == 2
    with db.session() as s:
        row = list_deliveries(s, TENANT)[0]
        assert row.status == DELIVERED and row.attempts == 2
        assert [a.status_code for a in attempts_of(s, TENANT, row.id)] == [500, 200]


def test_delivery_is_dead_lettered_after_max_attempts_and_can_be_revived(db: Database, receiver: Receiver) -> None:
    receiver.reply = fail_first(100)
    with db.session() as s:
        enqueue(s, TENANT, kind="k", target_url=receiver.url, payload="{}", max_attempts=2)
    sender = _sender(db, base_s=0)
    sender.run_once()
    with db.session() as s:
        row = list_deliveries(s, TENANT)[0]
        assert row.status == DEAD and row.attempts == 2
        redeliver(s, TENANT, row.id)
    receiver.reply = fail_first(0)
    sender.run_once()
    with db.session() as s:
        assert list_deliveries(s, TENANT)[0].status == DELIVERED


def test_json_acceptance_rule_requires_the_field_value(db: Database, receiver: Receiver) -> None:
    receiver.reply = lambda n, _r: (200, b'{"MaLoi": "99"}') if n == 1 else (200, b'{"MaLoi": "00"}')
    with db.session() as s:
        enqueue(s, TENANT, kind="k", target_url=receiver.url, payload="{}", accept="json:MaLoi=00")
    sender = _sender(db, base_s=0)
    sender.run_once()
    with db.session() as s:
        row = list_deliveries(s, TENANT)[0]
        assert row.status == DELIVERED and row.attempts == 2


def test_unreachable_receiver_is_retried_with_the_error_logged(db: Database) -> None:
    with db.session() as s:
        enqueue(s, TENANT, kind="k", target_url="http://127.0.0.1:9/nothing-listens", payload="{}")
    _sender(db).run_once()
    with db.session() as s:
        row = list_deliveries(s, TENANT)[0]
        assert row.status == PENDING and row.last_status is None and "ConnectError" in (row.last_error or "")


def test_claimed_row_of_a_dead_worker_is_claimed_again_after_its_lease(db: Database, receiver: Receiver) -> None:
    with db.session() as s:
        enqueue(s, TENANT, kind="k", target_url=receiver.url, payload="{}")
    crashed = _sender(db, lease_s=60)
    (claimed,) = crashed.claim()  # claimed, then the "process" dies before sending
    other = _sender(db, lease_s=60)
    assert other.claim() == []  # leased: nobody else sends it meanwhile
    with db.session() as s:  # the lease runs out (moved back rather than waited for)
        s.get(Delivery, claimed.id).lease_until = time.time() - 1
    assert other.run_once() == 1
    assert len(receiver.received) == 1
    assert receiver.received[0].headers["x-sandbox-delivery-id"] == claimed.id
