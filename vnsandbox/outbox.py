"""A database outbox for everything the sandbox sends to provinces (webhooks, payment notices).

Deliveries are rows, not in-memory tasks: a process killed in the middle of a delivery
delivers it after restart (at-least-once; the ``X-Sandbox-Delivery-Id`` header lets the
receiver de-duplicate). Workers claim due rows with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so replicas never send the same row at once; a claimed row carries a lease,
and a row whose worker died is claimed again when its lease runs out.

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
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

import httpx
from fastapi import APIRouter, BackgroundTasks, FastAPI, Query, Request
from sqlalchemy import JSON, Float, Integer, MetaData, String, Text, and_, func, or_, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from vnsandbox import bounds, clock
from vnsandbox.context import current_tenant
from vnsandbox.db import NAMING, ClockOffset, Database, SessionDep
from vnsandbox.errors import NotFound
from vnsandbox.metrics import count_delivery
from vnsandbox.openapi import error_responses
from vnsandbox.outbound import REFUSED_CODE, OutboundPolicy, OutboundRefused, policy_of
from vnsandbox.service import PeriodicWorker
from vnsandbox.standard_webhooks import signature_headers

log = logging.getLogger("vnsandbox.outbox")

PENDING, DELIVERING, DELIVERED, DEAD = "pending", "delivering", "delivered", "dead"
DELIVERY_ID_HEADER = "X-Sandbox-Delivery-Id"
#: Bytes of a receiver's reply kept with an attempt (the rest is dropped).
RESPONSE_BODY_BYTES = 1024
#: Bytes of a receiver's reply read at all (the acceptance rule parses them).
REPLY_READ_BYTES = 65_536


def iso_time(ts: float | None) -> str | None:
    """An epoch time of the tenant's clock as ISO 8601 with its UTC offset (replies carry both)."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


class OutboxBase(DeclarativeBase):
    """Outbox tables; a service that sends anything adds this metadata to its spec."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class Delivery(OutboxBase):
    __tablename__ = "outbox_delivery"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    #: What is delivered (``dossier.filed``, ``payment.notice``, ...).
    kind: Mapped[str] = mapped_column(String(64))
    #: Business reference for look-ups (``MaHoSo``, ``MaThamChieu``).
    ref: Mapped[str] = mapped_column(String(128), default="", index=True)
    target_url: Mapped[str] = mapped_column(String(2048))
    payload: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(128), default="application/json")
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: When set, the delivery is signed: ``signature_header`` names the scheme (vnsandbox.standard_webhooks).
    sign_secret: Mapped[str | None] = mapped_column(String(256), nullable=True)
    signature_header: Mapped[str] = mapped_column(String(64), default="X-Sandbox-Signature")
    accept: Mapped[str] = mapped_column(String(64), default="2xx")
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    #: Due time in the tenant's clock (epoch seconds).
    next_attempt_ts: Mapped[float] = mapped_column(Float, index=True)
    #: Real epoch seconds until which a worker owns the row.
    lease_until: Mapped[float] = mapped_column(Float, default=0.0)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_ts: Mapped[float] = mapped_column(Float)
    delivered_ts: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Orders deliveries of one ref: created sequence number.
    seq: Mapped[int] = mapped_column(Integer, default=0)

    def to_dict(self, attempts: list[Attempt] | None = None) -> dict[str, Any]:
        out = {
            c: getattr(self, c)
            for c in (
                "id",
                "kind",
                "ref",
                "target_url",
                "status",
                "attempts",
                "max_attempts",
                "next_attempt_ts",
                "last_status",
                "last_error",
                "created_ts",
                "delivered_ts",
                "accept",
            )
        }
        out |= {
            "created_at": iso_time(self.created_ts),
            "next_attempt_at": iso_time(self.next_attempt_ts),
            "delivered_at": iso_time(self.delivered_ts),
        }
        out["payload"] = self.payload
        if attempts is not None:
            out["attempt_log"] = [a.to_dict() for a in attempts]
        return out


class Attempt(OutboxBase):
    """One try at a delivery, kept for the journal."""

    __tablename__ = "outbox_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(32), index=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at_ts: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[float] = mapped_column(Float)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    accepted: Mapped[int] = mapped_column(Integer, default=0)

    def to_dict(self) -> dict[str, Any]:
        out = {
            c: getattr(self, c)
            for c in ("number", "at_ts", "status_code", "error", "duration_ms", "response_body", "accepted")
        }
        out["at"] = iso_time(self.at_ts)
        return out


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
    return row


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


ResultHook = Callable[[Session, Delivery, bool], None]


class OutboxSender:
    """Claims due deliveries and sends them; one instance per worker thread."""

    def __init__(
        self,
        db: Database,
        policy: RetryPolicy,
        on_result: ResultHook | None = None,
        batch: int = 20,
        *,
        outbound: OutboundPolicy,
        trusted_kinds: frozenset[str] = frozenset(),
    ) -> None:
        self.db = db
        self.policy = policy
        self.on_result = on_result
        self.batch = batch
        self.outbound = outbound
        self.trusted_kinds = trusted_kinds
        self.client = self._client(outbound)
        #: For kinds whose target the operator configured (service-to-service events).
        self.internal_client = httpx.Client(timeout=policy.timeout_s, follow_redirects=False, trust_env=False)

    def _client(self, outbound: OutboundPolicy) -> httpx.Client:
        return httpx.Client(
            timeout=self.policy.timeout_s, follow_redirects=False, trust_env=False, transport=outbound.transport()
        )

    def use_outbound(self, outbound: OutboundPolicy) -> None:
        """Replace the outbound-URL policy (and the client that enforces it; the old client is
        left to the garbage collector, as a send in flight may still use it)."""
        self.outbound, self.client = outbound, self._client(outbound)

    def close(self) -> None:
        self.client.close()
        self.internal_client.close()

    def claim(self) -> list[Delivery]:
        real_now = time.time()
        with self.db.session() as session:
            offset = func.coalesce(ClockOffset.offset_seconds, 0.0)
            stmt = (
                select(Delivery)
                .outerjoin(ClockOffset, ClockOffset.tenant == Delivery.tenant)
                .where(
                    or_(
                        and_(Delivery.status == PENDING, Delivery.next_attempt_ts <= real_now + offset),
                        and_(Delivery.status == DELIVERING, Delivery.lease_until < real_now),
                    )
                )
                .order_by(Delivery.next_attempt_ts, Delivery.seq)
                .limit(self.batch)
            )
            if self.db.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=Delivery)
            rows = list(session.scalars(stmt))
            for row in rows:
                row.status = DELIVERING
                row.lease_until = real_now + self.policy.lease_s
                row.attempts += 1
            session.flush()
            session.expunge_all()
            return rows

    def send(self, row: Delivery) -> tuple[int | None, bytes, str | None, float]:
        body = row.payload.encode()
        headers = {
            "Content-Type": row.content_type,
            DELIVERY_ID_HEADER: row.id,
            "User-Agent": "vnsandbox-outbox",
            **row.headers,
        }
        if row.sign_secret:
            headers |= signature_headers(row.signature_header, row.sign_secret, row.id, int(time.time()), body)
        started = time.perf_counter()
        client = self.internal_client if row.kind in self.trusted_kinds else self.client
        try:
            if client is self.client:
                self.outbound.check_url(row.target_url)
            with client.stream("POST", row.target_url, content=body, headers=headers) as resp:
                reply = b""
                for chunk in resp.iter_bytes():
                    reply += chunk
                    if len(reply) >= REPLY_READ_BYTES:
                        break
                return resp.status_code, reply[:REPLY_READ_BYTES], None, (time.perf_counter() - started) * 1000
        except OutboundRefused as exc:
            return None, b"", str(exc), (time.perf_counter() - started) * 1000
        except httpx.HTTPError as exc:
            return None, b"", f"{exc.__class__.__name__}: {exc}", (time.perf_counter() - started) * 1000

    def record(
        self, claimed: Delivery, status_code: int | None, body: bytes, error: str | None, duration_ms: float
    ) -> bool:
        ok = status_code is not None and accepted(claimed.accept, status_code, body)
        with self.db.session() as session:
            row = session.get(Delivery, claimed.id)
            if row is None:  # wiped by a reset meanwhile
                return ok
            now = _tenant_now(session, row.tenant)
            session.add(
                Attempt(
                    delivery_id=row.id,
                    tenant=row.tenant,
                    number=row.attempts,
                    at_ts=now,
                    status_code=status_code,
                    error=error,
                    duration_ms=round(duration_ms, 3),
                    response_body=body[:RESPONSE_BODY_BYTES].decode("utf-8", "replace") or None,
                    accepted=int(ok),
                )
            )
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
            if self.on_result is not None:
                self.on_result(session, row, ok)
        return ok

    def run_once(self) -> int:
        """Send every due delivery once; returns how many were attempted."""
        total = 0
        while True:
            rows = self.claim()
            if not rows:
                return total
            for row in rows:
                self.record(row, *self.send(row))
            total += len(rows)


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
