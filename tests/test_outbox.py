"""The shared outbox: delivery, signature, retries in test-clock time, dead letter, leases."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from services.dossier.app import create_app as create_dossier
from services.dossier.settings import DossierSettings
from services.payment.app import create_app as create_payment
from services.payment.settings import PaymentSettings
from tests.receiver import Receiver, fail_first
from vnsandbox import clock
from vnsandbox.db import ControlBase, Database
from vnsandbox.outbound import OutboundPolicy
from vnsandbox.outbox import (
    DEAD,
    DELIVERED,
    PENDING,
    RESPONSE_BODY_BYTES,
    Delivery,
    OutboxBase,
    OutboxSender,
    RetryPolicy,
    attempts_of,
    enqueue,
    enqueued,
    list_deliveries,
    redeliver,
)
from vnsandbox.signing import verify_webhook_signature

TENANT = "t-outbox"


@pytest.fixture
def db_url(backend: str, tmp_path, request) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/outbox.db"
    url: str = request.getfixturevalue("postgres").create("outbox")
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url, [OutboxBase.metadata])
    ControlBase.metadata.create_all(database.engine)
    OutboxBase.metadata.create_all(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _sender(db: Database, outbound: OutboundPolicy | None = None, **policy) -> OutboxSender:
    return OutboxSender(
        db,
        RetryPolicy(**({"base_s": 10, "max_attempts": 3, "timeout_s": 2} | policy)),
        outbound=outbound or OutboundPolicy("embedded"),
    )


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


# --- The outbound-URL policy at delivery time ----------------------------------------------


def _resolving(answers: dict[str, str], calls: list[str] | None = None):
    def resolve(host: str, _port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return [answers[host]]

    return resolve


def test_shared_mode_refuses_a_name_that_resolves_to_a_private_address(db: Database, receiver: Receiver) -> None:
    port = receiver.server.server_address[1]
    shared = OutboundPolicy.parse("shared", "", resolver=_resolving({"province.test": "127.0.0.1"}))
    with db.session() as s:
        enqueue(s, TENANT, kind="k", target_url=f"http://province.test:{port}/hook", payload="{}", max_attempts=5)
    _sender(db, shared).run_once()
    assert receiver.received == []
    with db.session() as s:
        row = list_deliveries(s, TENANT)[0]
        (attempt,) = attempts_of(s, TENANT, row.id)
        # Refused by policy: dead-lettered at once, not retried.
        assert row.status == DEAD and row.attempts == 1
        assert row.last_error == (
            "OUTBOUND_URL_REFUSED: 127.0.0.1 is a loopback address "
            "(refused in the shared mode unless SANDBOX_CALLBACK_ALLOW names it)"
        )
        assert attempt.error == row.last_error and attempt.status_code is None and attempt.response_body is None


def test_refused_delivery_keeps_no_reply_of_the_internal_target(db: Database, receiver: Receiver) -> None:
    receiver.reply = lambda n, r: (200, b'{"secret": "internal control data"}')
    with db.session() as s:
        enqueue(s, TENANT, kind="k", target_url=receiver.url + "/_sandbox/units", payload="{}")
    _sender(db, OutboundPolicy.parse("shared", "")).run_once()
    assert receiver.received == []
    with db.session() as s:
        row = list_deliveries(s, TENANT)[0]
        dumped = repr(row.to_dict(attempts_of(s, TENANT, row.id)))
    assert row.status == DEAD and "internal control data" not in dumped


def test_delivery_connects_to_the_address_it_checked_without_resolving_again(db: Database, receiver: Receiver) -> None:
    # "province.test" exists only in the policy's resolver: the delivery can only arrive if the
    # connection goes to the checked address instead of asking DNS a second time.
    calls: list[str] = []
    port = receiver.server.server_address[1]
    shared = OutboundPolicy.parse("shared", "127.0.0.1/32", resolver=_resolving({"province.test": "127.0.0.1"}, calls))
    with db.session() as s:
        enqueue(s, TENANT, kind="k", target_url=f"http://province.test:{port}/hook", payload="{}")
    _sender(db, shared).run_once()
    assert len(receiver.received) == 1 and receiver.received[0].headers["host"] == f"province.test:{port}"
    assert calls == ["province.test"]
    with db.session() as s:
        assert list_deliveries(s, TENANT)[0].status == DELIVERED


def test_trusted_kinds_skip_the_policy(db: Database, receiver: Receiver) -> None:
    with db.session() as s:
        enqueue(s, TENANT, kind="internal.event", target_url=receiver.url + "/events", payload="{}")
    sender = OutboxSender(
        db,
        RetryPolicy(max_attempts=1),
        outbound=OutboundPolicy.parse("shared", ""),
        trusted_kinds=frozenset({"internal.event"}),
    )
    sender.run_once()
    assert len(receiver.received) == 1


def test_redirects_are_not_followed(db: Database, receiver: Receiver) -> None:
    receiver.reply = lambda n, r: (302, b"{}")
    receiver.headers["Location"] = "/elsewhere"
    with db.session() as s:
        enqueue(s, TENANT, kind="k", target_url=receiver.url + "/hook", payload="{}", max_attempts=1)
    _sender(db).run_once()
    assert [r.path for r in receiver.received] == ["/hook"]
    with db.session() as s:
        row = list_deliveries(s, TENANT)[0]
        assert row.status == DEAD and row.last_status == 302


def test_stored_reply_is_truncated(db: Database, receiver: Receiver) -> None:
    receiver.reply = lambda n, r: (200, b"x" * 200_000)
    with db.session() as s:
        enqueue(s, TENANT, kind="k", target_url=receiver.url, payload="{}")
    _sender(db).run_once()
    with db.session() as s:
        row = list_deliveries(s, TENANT)[0]
        (attempt,) = attempts_of(s, TENANT, row.id)
    assert row.status == DELIVERED and attempt.response_body == "x" * RESPONSE_BODY_BYTES


def test_retry_policy_reads_each_field_from_the_prefixed_setting() -> None:
    settings = SimpleNamespace(
        hook_base_s=1.0, hook_max_s=9.0, hook_max_attempts=4, hook_timeout_s=3.0, hook_lease_s=7.0
    )
    policy = RetryPolicy.from_settings(settings, "hook_")
    assert policy == RetryPolicy(base_s=1.0, max_s=9.0, max_attempts=4, timeout_s=3.0, lease_s=7.0)


def test_retry_policy_reads_a_renamed_field_from_the_setting_it_names() -> None:
    settings = SimpleNamespace(wait_s=1.5, hook_max_s=9.0, hook_max_attempts=4, hook_timeout_s=3.0, hook_lease_s=7.0)
    assert RetryPolicy.from_settings(settings, "hook_", base_s="wait_s").base_s == 1.5


def test_retry_policy_refuses_a_name_for_a_field_it_does_not_have() -> None:
    with pytest.raises(TypeError, match="no field base"):
        RetryPolicy.from_settings(SimpleNamespace(), "hook_", base="wait_s")


@pytest.mark.parametrize(
    "create_app, settings_class, env",
    [
        (
            create_dossier,
            DossierSettings,
            {"DOSSIER_WEBHOOK_BASE_S": "1", "DOSSIER_WEBHOOK_MAX_S": "9", "DOSSIER_WEBHOOK_MAX_ATTEMPTS": "4",
             "DOSSIER_WEBHOOK_TIMEOUT_S": "3", "DOSSIER_WEBHOOK_LEASE_S": "7"},
        ),
        (
            create_payment,
            PaymentSettings,
            {"PAYMENT_NOTICE_RETRY_BASE_S": "1", "PAYMENT_NOTICE_RETRY_MAX_S": "9", "PAYMENT_NOTICE_MAX_ATTEMPTS": "4",
             "PAYMENT_NOTICE_TIMEOUT_S": "3", "PAYMENT_NOTICE_LEASE_S": "7"},
        ),
    ],
    ids=["dossier", "payment"],
)  # fmt: skip
def test_each_service_outbox_retries_as_its_documented_environment_says(
    create_app, settings_class, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = settings_class(database_url=f"sqlite:///{tmp_path}/svc.db", data_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        sender = client.app.state.outbox
        assert sender.policy == RetryPolicy(base_s=1.0, max_s=9.0, max_attempts=4, timeout_s=3.0, lease_s=7.0)


def test_delivery_replies_give_their_times_in_iso_8601_with_an_offset() -> None:
    from vnsandbox.outbox import Attempt, Delivery

    row = Delivery(id="d1", kind="k", ref="r", target_url="http://x", status="pending", attempts=0, max_attempts=1)
    row.created_ts, row.next_attempt_ts, row.delivered_ts = 0.0, 86_400.5, None
    out = row.to_dict([Attempt(number=1, at_ts=60.0, duration_ms=1.0, accepted=1)])
    assert out["created_at"] == "1970-01-01T00:00:00.000+00:00"
    assert out["next_attempt_at"] == "1970-01-02T00:00:00.500+00:00"
    assert out["delivered_at"] is None
    assert out["attempt_log"][0]["at"] == "1970-01-01T00:01:00.000+00:00"


def test_a_unit_of_work_that_enqueues_says_so(db: Database) -> None:
    """What lets a service wake its outbox only after a unit of work that added a delivery."""
    with db.session() as session:
        assert not enqueued(session)
        enqueue(session, TENANT, kind="test", target_url="http://127.0.0.1:9/x", payload={"a": 1})
        assert enqueued(session)
