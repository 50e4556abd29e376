"""A database outbox for everything the sandbox sends to provinces (webhooks, payment notices).

Deliveries are rows, not in-memory tasks: a process killed in the middle of a delivery
delivers it after restart (at-least-once; the ``X-Sandbox-Delivery-Id`` header lets the
receiver de-duplicate). Workers claim due rows with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so replicas never send the same row at once; a claimed row carries a lease,
and a row whose worker died is claimed again when its lease runs out.

Order: deliveries of one reference (``ref``: a dossier's ``MaHoSo``, a payment's
``MaThamChieu``) go one at a time, across every worker and process: a claim takes at most one
due delivery per reference (the earliest due, then the first queued), and none of a reference
whose delivery is in flight under a live lease. Claims are serialised (an advisory lock on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two processes never claim one reference at once.
A failed delivery waits its backoff while the reference's later deliveries go on (retries are
not ordered). Different references are sent concurrently (:mod:`vnsandbox.sending`).

Retry schedule: exponential backoff ``base × 2^(attempt-1)`` capped at ``max``, in the
tenant's test-clock time, so advancing the clock fires retries at once. After
``max_attempts`` a delivery is dead-lettered; it can be redelivered by hand.

Acceptance is per delivery: ``2xx`` (any 2xx status) or ``json:<Field>=<value>`` (a 2xx
JSON reply whose field has that value, e.g. ``json:MaLoi=00`` for PayGov notices).

Every delivery to a tenant-registered URL goes through the outbound-URL policy
(:mod:`vnsandbox.outbound`): the address is resolved and checked before connecting, and a
refused one is recorded as ``OUTBOUND_URL_REFUSED: <reason>`` and dead-lettered at once (a
policy refusal does not go away by retrying; after changing ``SANDBOX_CALLBACK_ALLOW``, send
it again with ``redeliver``). Kinds whose target comes from the operator's configuration
(``trusted_kinds``, e.g. the payment service's event to the dossier service) skip the policy.
Redirects are never followed. Of each reply at most :data:`REPLY_READ_BYTES` are read (enough
for the acceptance rule) and :data:`RESPONSE_BODY_BYTES` kept with the attempt, which only
the delivery's own tenant can list.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, FastAPI, Query, Request
from sqlalchemy import Float, Row, Select, and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from vnsandbox import bounds, clock
from vnsandbox.context import current_tenant
from vnsandbox.db import ClockOffset, Database, SessionDep, write_lock
from vnsandbox.errors import NotFound
from vnsandbox.metrics import count_delivery
from vnsandbox.openapi import error_responses
from vnsandbox.outbound import REFUSED_CODE, OutboundPolicy, policy_of
from vnsandbox.outbox_tables import (
    DEAD as DEAD,
)
from vnsandbox.outbox_tables import (
    DELIVERED as DELIVERED,
)
from vnsandbox.outbox_tables import (
    DELIVERING as DELIVERING,
)
from vnsandbox.outbox_tables import (
    PENDING as PENDING,
)
from vnsandbox.outbox_tables import (
    Attempt as Attempt,
)
from vnsandbox.outbox_tables import (
    Delivery as Delivery,
)
from vnsandbox.outbox_tables import (
    OutboxBase as OutboxBase,
)
from vnsandbox.outbox_tables import (
    iso_time as iso_time,
)
from vnsandbox.sending import ConcurrentPoster, Outgoing, Reply
from vnsandbox.service import PeriodicWorker
from vnsandbox.standard_webhooks import signature_headers

log = logging.getLogger("vnsandbox.outbox")

DELIVERY_ID_HEADER = "X-Sandbox-Delivery-Id"
#: Bytes of a receiver's reply kept with an attempt (the rest is dropped).
RESPONSE_BODY_BYTES = 1024
#: Bytes of a receiver's reply read at all (the acceptance rule parses them).
REPLY_READ_BYTES = 65_536


@dataclass
class RetryPolicy:
    base_s: float = 2.0
    max_s: float = 300.0
    max_attempts: int = 8
    timeout_s: float = 5.0
    lease_s: float = 60.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_s, self.base_s * (2 ** max(0, attempt - 1))))

    @classmethod
    def from_settings(cls, settings: object, prefix: str, **names: str) -> RetryPolicy:
        """The policy a service's settings declare: field ``f`` is read from the setting
        ``prefix + f``, or from ``names[f]`` where the service's documented name differs
        (the environment variables stay as each service documents them)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(names) - known)
        if unknown:
            raise TypeError(f"RetryPolicy has no field {', '.join(unknown)}")
        return cls(**{name: getattr(settings, names.get(name, prefix + name)) for name in sorted(known)})


def _tenant_now(session: Session, tenant: str) -> float:
    """The tenant's test-clock time as epoch seconds (the outbox schedules in floats)."""
    return time.time() + clock.offset_seconds(session, tenant)


def enqueue(
    session: Session,
    tenant: str,
    *,
    kind: str,
    target_url: str,
    payload: bytes | str | dict[str, Any] | list[Any],
    ref: str = "",
    sign_secret: str | None = None,
    signature_header: str = "X-Sandbox-Signature",
    accept: str = "2xx",
    max_attempts: int = 8,
    delay_s: float = 0.0,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> Delivery:
    """Add a delivery in the caller's unit of work; it is sent after the commit."""
    if isinstance(payload, dict | list):
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    elif isinstance(payload, bytes):
        body = payload.decode()
    else:
        body = payload
    now = _tenant_now(session, tenant)
    seq = (
        session.scalar(select(func.count()).select_from(Delivery).where(Delivery.tenant == tenant, Delivery.ref == ref))
        or 0
    ) + 1
    row = Delivery(
        id=uuid.uuid4().hex,
        tenant=tenant,
        kind=kind,
        ref=ref,
        target_url=target_url,
        payload=body,
        content_type=content_type,
        headers=headers or {},
        sign_secret=sign_secret,
        signature_header=signature_header,
        accept=accept,
        status=PENDING,
        attempts=0,
        max_attempts=max_attempts,
        next_attempt_ts=now + delay_s,
        lease_until=0.0,
        created_ts=now,
        seq=seq,
    )
    session.add(row)
    session.info[ENQUEUED] = True
    return row


#: ``Session.info`` key set once :func:`enqueue` added a delivery in that unit of work: only then
#: has the worker something new to send after the commit (see :func:`wake`).
ENQUEUED = "outbox_enqueued"


def enqueued(session: Session) -> bool:
    """Whether this unit of work added a delivery (:func:`enqueue`)."""
    return bool(session.info.get(ENQUEUED))


def accepted(accept: str, status_code: int, body: bytes) -> bool:
    if not 200 <= status_code < 300:
        return False
    if accept == "2xx":
        return True
    if accept.startswith("json:"):
        field, _, want = accept[5:].partition("=")
        try:
            data = bounds.loads(body)
        except ValueError:
            return False
        return isinstance(data, dict) and str(data.get(field)) == want
    raise ValueError(f"unknown acceptance rule {accept!r}")


def redeliver(session: Session, tenant: str, delivery_id: str, extra_attempts: int = 1) -> Delivery | None:
    """Send a delivery again now (a delivered one is replayed; a dead one revived)."""
    row = session.scalar(select(Delivery).where(Delivery.tenant == tenant, Delivery.id == delivery_id))
    if row is None:
        return None
    row.status = PENDING
    row.max_attempts = max(row.max_attempts, row.attempts + extra_attempts)
    row.next_attempt_ts = _tenant_now(session, tenant)
    row.lease_until = 0.0
    return row


def list_deliveries(
    session: Session,
    tenant: str,
    *,
    kind: str | None = None,
    ref: str | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[Delivery]:
    stmt = select(Delivery).where(Delivery.tenant == tenant)
    if kind:
        stmt = stmt.where(Delivery.kind == kind)
    if ref:
        stmt = stmt.where(Delivery.ref == ref)
    if status:
        stmt = stmt.where(Delivery.status == status)
    return list(session.scalars(stmt.order_by(Delivery.created_ts, Delivery.seq).limit(limit)))


def attempts_of(session: Session, tenant: str, delivery_id: str) -> list[Attempt]:
    return list(
        session.scalars(
            select(Attempt).where(Attempt.tenant == tenant, Attempt.delivery_id == delivery_id).order_by(Attempt.number)
        )
    )


@dataclass(frozen=True)
class Outcome:
    """What a round recorded of one delivery: the delivery as it now stands (status, attempts,
    last status and error), whether its reply was accepted, and the attempt's duration and the
    reply's first bytes (as kept with the attempt)."""

    delivery: Delivery
    ok: bool
    duration_ms: float
    response_body: str | None


#: Called once per round with every recorded outcome, in the round's unit of work (so what it
#: writes is committed with the results).
ResultHook = Callable[[Session, Sequence[Outcome]], None]


def delivery_headers(row: Delivery, body: bytes) -> dict[str, str]:
    """The headers a delivery is sent with: its content type, its id, its own extra headers and,
    when it has a secret, its signature over timestamp and body."""
    headers = {
        "Content-Type": row.content_type,
        DELIVERY_ID_HEADER: row.id,
        "User-Agent": "vnsandbox-outbox",
        **row.headers,
    }
    if row.sign_secret:
        headers |= signature_headers(row.signature_header, row.sign_secret, row.id, int(time.time()), body)
    return headers


#: Serialises claims on PostgreSQL (``pg_advisory_xact_lock``), so that a reference's next
#: delivery is never claimed while another process is claiming that reference's earlier one.
CLAIM_LOCK_KEY = zlib.crc32(b"vnsandbox.outbox.claim")


class OutboxSender:
    """Claims due deliveries and sends them, many references at once, one delivery of each
    reference in flight; one instance per worker thread.

    A round claims up to ``batch`` due deliveries — at most one per reference (the earliest
    due, by due time then sequence), none of a reference whose delivery is in flight elsewhere
    (claimed under a live lease by any process) — sends them concurrently (at most
    ``concurrency`` connections), then records every result in one unit of work. Deliveries
    without a reference (``ref=""``) are not ordered among themselves.
    """

    def __init__(
        self,
        db: Database,
        policy: RetryPolicy,
        on_result: ResultHook | None = None,
        batch: int = 256,
        *,
        outbound: OutboundPolicy,
        trusted_kinds: frozenset[str] = frozenset(),
        concurrency: int = 64,
    ) -> None:
        self.db = db
        self.policy = policy
        self.on_result = on_result
        self.batch = batch
        self.trusted_kinds = trusted_kinds
        self.poster = ConcurrentPoster(outbound, policy.timeout_s, concurrency, REPLY_READ_BYTES)
        self._round = threading.Lock()
        self._claim_stmt: Select[str, str, str] | None = None

    @property
    def outbound(self) -> OutboundPolicy:
        return self.poster.outbound

    def use_outbound(self, outbound: OutboundPolicy) -> None:
        """Replace the outbound-URL policy (new connections from the next round on)."""
        self.poster.use_outbound(outbound)

    def close(self) -> None:
        self.poster.close()

    def _claimable(self) -> Select[str, str, str]:
        """The deliveries due now (``now``: real time; each tenant's test clock applied), first
        of each reference not in flight: built once per worker (it was most of an idle round)."""
        if self._claim_stmt is None:
            now = bindparam("now", type_=Float)
            offset = func.coalesce(ClockOffset.offset_seconds, 0.0)
            in_flight = aliased(Delivery)
            busy = (
                select(in_flight.id)
                .where(
                    in_flight.tenant == Delivery.tenant,
                    in_flight.ref == Delivery.ref,
                    in_flight.status == DELIVERING,
                    in_flight.lease_until >= now,
                )
                .exists()
            )
            stmt = (
                select(Delivery.id, Delivery.tenant, Delivery.ref)
                .outerjoin(ClockOffset, ClockOffset.tenant == Delivery.tenant)
                .where(
                    or_(
                        and_(Delivery.status == PENDING, Delivery.next_attempt_ts <= now + offset),
                        and_(Delivery.status == DELIVERING, Delivery.lease_until < now),
                    ),
                    or_(Delivery.ref == "", ~busy),
                )
                .order_by(Delivery.next_attempt_ts, Delivery.seq)
                .limit(self.batch * 2)
            )
            if self.db.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=Delivery)
            self._claim_stmt = stmt
        return self._claim_stmt

    def claim(self) -> list[Delivery]:
        real_now = time.time()
        with self.db.session() as session:
            if self.db.dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CLAIM_LOCK_KEY})
            else:
                write_lock(session)  # SQLite: one claimer at a time across processes too
            chosen = _first_of_each_ref(session.execute(self._claimable(), {"now": real_now}), self.batch)
            if not chosen:
                return []
            # One statement marks every chosen row in flight and answers it.
            taken = (
                update(Delivery)
                .where(Delivery.id.in_(chosen))
                .values(status=DELIVERING, lease_until=real_now + self.policy.lease_s, attempts=Delivery.attempts + 1)
                .returning(Delivery)
            )
            rows = list(session.scalars(taken, execution_options={"synchronize_session": False}))
            rows.sort(key=lambda r: (r.next_attempt_ts, r.seq))
            session.expunge_all()
            return rows

    def outgoing(self, row: Delivery) -> Outgoing:
        body = row.payload.encode()
        guarded = row.kind not in self.trusted_kinds
        return Outgoing(row.target_url, body, delivery_headers(row, body), guarded)

    def record(self, claimed: Sequence[Delivery], replies: Sequence[Reply]) -> int:
        """Record the replies of claimed deliveries in one unit of work (every attempt in one
        insert, every delivery's new state in one executemany); returns how many were accepted.

        ``claimed`` are the rows :meth:`claim` answered; they are updated in place to the state
        recorded (what the result hook sees)."""
        accepted_count = 0
        with self.db.session() as session:
            # What may have changed meanwhile: a reset wiped the row, a redelivery raised its attempts.
            current = {
                r.id: r
                for r in session.execute(
                    select(Delivery.id, Delivery.attempts, Delivery.max_attempts).where(
                        Delivery.id.in_([c.id for c in claimed])
                    )
                )
            }
            offsets: dict[str, float] = {}
            attempts: list[dict[str, Any]] = []
            changes: list[dict[str, Any]] = []
            outcomes: list[Outcome] = []
            for row, reply in zip(claimed, replies, strict=True):
                now_row = current.get(row.id)
                if now_row is None:  # wiped by a reset meanwhile
                    continue
                row.attempts, row.max_attempts = now_row.attempts, now_row.max_attempts
                if row.tenant not in offsets:
                    offsets[row.tenant] = clock.offset_seconds(session, row.tenant)
                outcome, attempt = self._outcome(row, reply, time.time() + offsets[row.tenant])
                attempts.append(attempt)
                changes.append({c: getattr(row, c) for c in _RECORDED})
                outcomes.append(outcome)
                accepted_count += outcome.ok
            if outcomes:
                session.execute(insert(Attempt), attempts)
                session.execute(update(Delivery), changes)
                if self.on_result is not None:
                    self.on_result(session, outcomes)
        return accepted_count

    def _outcome(self, row: Delivery, reply: Reply, now: float) -> tuple[Outcome, dict[str, Any]]:
        """The delivery's new state after ``reply`` (set on ``row``) and its attempt's row."""
        status_code, body, error = reply.status_code, reply.body, reply.error
        ok = status_code is not None and accepted(row.accept, status_code, body)
        kept = body[:RESPONSE_BODY_BYTES].decode("utf-8", "replace") or None
        duration_ms = round(reply.duration_ms, 3)
        attempt = {
            "delivery_id": row.id,
            "tenant": row.tenant,
            "number": row.attempts,
            "at_ts": now,
            "status_code": status_code,
            "error": error,
            "duration_ms": duration_ms,
            "response_body": kept,
            "accepted": int(ok),
        }
        row.last_status = status_code
        row.last_error = error if error else (None if ok else f"not accepted ({row.accept})")
        row.lease_until = 0.0
        if ok:
            row.status = DELIVERED
            row.delivered_ts = now
        elif row.attempts >= row.max_attempts or (error or "").startswith(REFUSED_CODE):
            row.status = DEAD
        else:
            row.status = PENDING
            row.next_attempt_ts = now + self.policy.backoff(row.attempts)
        count_delivery("delivered" if ok else "dead" if row.status == DEAD else "retry")
        return Outcome(row, ok, duration_ms, kept), attempt

    def run_once(self) -> int:
        """Send every due delivery once; returns how many were attempted."""
        total = 0
        with self._round:
            while True:
                rows = self.claim()
                if not rows:
                    return total
                self.record(rows, self.poster.post_all([self.outgoing(r) for r in rows]))
                total += len(rows)


#: The columns :meth:`OutboxSender.record` writes back (with the primary key).
_RECORDED = ("id", "status", "lease_until", "last_status", "last_error", "delivered_ts", "next_attempt_ts")


def _first_of_each_ref(candidates: Iterable[Row[str, str, str]], limit: int) -> list[str]:
    """The id of the first candidate ``(id, tenant, ref)`` of each reference (candidates come in
    delivery order), at most ``limit``."""
    seen: set[tuple[str, str]] = set()
    out: list[str] = []
    for delivery_id, tenant, ref in candidates:
        if ref and (tenant, ref) in seen:
            continue
        seen.add((tenant, ref))
        out.append(delivery_id)
        if len(out) >= limit:
            break
    return out


def outbox_worker(
    retry_policy_of: Callable[[FastAPI], RetryPolicy],
    interval: float = 0.5,
    on_result: ResultHook | None = None,
    trusted_kinds: frozenset[str] = frozenset(),
) -> Callable[[FastAPI], PeriodicWorker]:
    """A ``ServiceSpec.workers`` factory running the outbox of the app's database, under the
    outbound-URL policy of the app's settings (``trusted_kinds`` skip it: operator-set targets)."""

    def make(app: FastAPI) -> PeriodicWorker:
        sender = OutboxSender(
            app.state.db,
            retry_policy_of(app),
            on_result,
            outbound=policy_of(app.state.settings),
            trusted_kinds=trusted_kinds,
        )
        app.state.outbox = sender
        return PeriodicWorker("outbox", interval, sender.run_once)

    return make


def wake(app: FastAPI) -> None:
    """Ask the app's outbox worker to run now (call it after the commit, e.g. as a background task)."""
    worker = app.state.workers.get("outbox")
    if worker is not None:
        worker.wake()


router = APIRouter(prefix="/_sandbox/deliveries", tags=["sandbox control"])


@router.get("", summary="Outgoing deliveries (webhooks, notices) with every attempt")
def deliveries_list(
    session: SessionDep,
    kind: str | None = None,
    ref: str | None = None,
    status: Annotated[str | None, Query(pattern="^(pending|delivering|delivered|dead)$")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> dict[str, Any]:
    tenant = current_tenant()
    if "\x00" in f"{kind}{ref}":  # PostgreSQL cannot even compare a string holding NUL
        return {"count": 0, "deliveries": []}
    rows = list_deliveries(session, tenant, kind=kind, ref=ref, status=status, limit=limit)
    return {"count": len(rows), "deliveries": [r.to_dict(attempts_of(session, tenant, r.id)) for r in rows]}


@router.post(
    "/{delivery_id}/redeliver",
    summary="Send a delivery again now (replay, or revive a dead one)",
    responses=error_responses(404, s404="`DELIVERY_NOT_FOUND`"),
)
def deliveries_redeliver(
    delivery_id: str, request: Request, session: SessionDep, background: BackgroundTasks
) -> dict[str, Any]:
    row = None if "\x00" in delivery_id else redeliver(session, current_tenant(), delivery_id)
    if row is None:
        raise NotFound(f"No delivery {delivery_id}", f"Không có lần gửi {delivery_id}", code="DELIVERY_NOT_FOUND")
    background.add_task(wake, request.app)
    return row.to_dict()
