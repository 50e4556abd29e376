"""Per-consumer quotas: one token bucket per consumer.

A consumer with ``rate_per_s`` r and ``burst`` b may make b calls at once, then r per
second. Limits come from the configuration snapshot, so a change made through the control
plane applies to the next call (in this replica at once; in other replicas after their
next configuration reload).

- :class:`Buckets` keeps the buckets in this process's memory (the embedded mode).
- :class:`SharedBuckets` keeps them in the gateway's PostgreSQL database, so that N
  replicas together allow the configured rate, not N times it. The hot path does not go
  to the database on every call: a replica leases a few tokens at once (enough for
  ``GATEWAY_QUOTA_LEASE_S`` = 0.1 s at the consumer's rate, at least one, at most the burst)
  with one atomic ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` and spends them locally;
  tokens not spent within the lease time are dropped. Once the shared bucket is empty the
  replica refuses locally until the next token is due, without asking again. When the
  database cannot be reached, calls are allowed (and the failure logged).

Tolerance of the shared buckets (docs/gateway.md): every token spent was taken from the
shared bucket once, so over any window of W seconds the replicas together admit at most
``b + r·(W + lease)`` calls (a lease taken just before the window may be spent in it), and
at least ``r·W − (replicas − 1)·lease_tokens`` per lease time when calls keep coming
(tokens leased by a replica the caller no longer reaches expire unspent).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field

from sqlalchemy import text

from gateway.config import ConsumerConf
from vnsandbox.db import Database

log = logging.getLogger("gateway.quota")
#: ``take`` cannot answer without the shared bucket: await ``lease`` instead.
LEASE = -1


def _burst(consumer: ConsumerConf, rate: float) -> float:
    return float(consumer.burst if consumer.burst is not None else max(1, math.ceil(rate)))


class Buckets:
    def __init__(self) -> None:
        #: client id → [tokens, last refill (monotonic seconds)]
        self._levels: dict[str, list[float]] = {}

    def take(self, consumer: ConsumerConf) -> int | None:
        """Spend one token; ``None`` when allowed, else the seconds to wait (``Retry-After``)."""
        rate = consumer.rate_per_s
        if rate is None:
            return None
        burst = _burst(consumer, rate)
        now = time.monotonic()
        level = self._levels.get(consumer.client_id)
        if level is None:
            level = [burst, now]
            self._levels[consumer.client_id] = level
        tokens = min(burst, level[0] + (now - level[1]) * rate)
        level[1] = now
        if tokens >= 1.0:
            level[0] = tokens - 1.0
            return None
        level[0] = tokens
        if rate <= 0:
            return 3600
        return max(1, math.ceil((1.0 - tokens) / rate))

    async def lease(self, consumer: ConsumerConf) -> int | None:
        return self.take(consumer)

    def forget(self, client_id: str) -> None:
        """Start a consumer's bucket full again (after its limits changed)."""
        self._levels.pop(client_id, None)


#: Refill the shared bucket to the database's time, hand out up to :want tokens, and
#: return how many were handed out and what is left, in one atomic statement.
_LEASE_SQL = text(
    """
INSERT INTO gateway_quota_bucket AS b (client_id, tokens, updated_at, granted)
VALUES (:c, :burst - LEAST(:want, FLOOR(:burst)), EXTRACT(EPOCH FROM clock_timestamp()), LEAST(:want, FLOOR(:burst)))
ON CONFLICT (client_id) DO UPDATE SET
  granted = LEAST(:want, FLOOR(LEAST(:burst,
      b.tokens + GREATEST(0, EXTRACT(EPOCH FROM clock_timestamp()) - b.updated_at) * :rate))),
  tokens = LEAST(:burst, b.tokens + GREATEST(0, EXTRACT(EPOCH FROM clock_timestamp()) - b.updated_at) * :rate)
      - LEAST(:want, FLOOR(LEAST(:burst,
      b.tokens + GREATEST(0, EXTRACT(EPOCH FROM clock_timestamp()) - b.updated_at) * :rate))),
  updated_at = GREATEST(b.updated_at, EXTRACT(EPOCH FROM clock_timestamp()))
RETURNING granted, tokens
"""
)


@dataclass
class _Lease:
    tokens: int = 0
    #: Monotonic time after which unspent tokens are dropped.
    expires: float = 0.0
    #: Monotonic time before which the shared bucket is known to be empty, and the wait to tell.
    empty_until: float = 0.0
    #: The consumer's (rate, burst) the lease was taken under; a change drops the lease.
    limits: tuple[float | None, int | None] = (None, None)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class SharedBuckets:
    """Token buckets in the database, spent through short local leases."""

    def __init__(self, db: Database, lease_s: float = 0.1) -> None:
        self.db = db
        self.lease_s = max(0.0, lease_s)
        self._leases: dict[str, _Lease] = {}

    def take(self, consumer: ConsumerConf) -> int | None:
        """Spend a leased token; ``None`` when allowed, the seconds to wait when the shared
        bucket is known to be empty, or :data:`LEASE` when a lease is needed first."""
        rate = consumer.rate_per_s
        if rate is None:
            return None
        lease = self._leases.get(consumer.client_id)
        if lease is None or lease.limits != (rate, consumer.burst):
            return LEASE
        now = time.monotonic()
        if lease.tokens > 0 and now < lease.expires:
            lease.tokens -= 1
            return None
        if now < lease.empty_until:
            return max(1, math.ceil(lease.empty_until - now))
        return LEASE

    async def lease(self, consumer: ConsumerConf) -> int | None:
        """Take a lease from the shared bucket and spend one token of it (or the wait)."""
        lease = self._leases.setdefault(consumer.client_id, _Lease())
        async with lease.lock:
            wait = self.take(consumer)
            if wait != LEASE:
                return wait  # another call leased meanwhile
            if lease.limits != (consumer.rate_per_s, consumer.burst):
                lease.tokens, lease.empty_until = 0, 0.0
                lease.limits = (consumer.rate_per_s, consumer.burst)
            rate = float(consumer.rate_per_s or 0.0)
            burst = _burst(consumer, rate)
            want = max(1, min(int(burst), math.ceil(rate * self.lease_s)))
            try:
                granted, level = await asyncio.to_thread(self._lease, consumer.client_id, burst, rate, want)
            except Exception:  # the database is unreachable: a quota is a test aid, not a gate
                log.exception("quota: no lease from the database; the call is allowed")
                return None
            now = time.monotonic()
            if granted > 0:
                lease.tokens, lease.expires, lease.empty_until = granted - 1, now + self.lease_s, 0.0
                return None
            if rate <= 0:
                lease.empty_until = now + 3600
                return 3600
            lease.tokens, lease.empty_until = 0, now + (1.0 - level) / rate
            return max(1, math.ceil((1.0 - level) / rate))

    def _lease(self, client_id: str, burst: float, rate: float, want: int) -> tuple[int, float]:
        with self.db.engine.begin() as conn:
            row = conn.execute(_LEASE_SQL, {"c": client_id, "burst": burst, "rate": rate, "want": want}).one()
        return int(row.granted), float(row.tokens)

    def forget(self, client_id: str) -> None:
        """Start a consumer's bucket full again (after its limits changed)."""
        self._leases.pop(client_id, None)
        with self.db.engine.begin() as conn:
            conn.execute(text("DELETE FROM gateway_quota_bucket WHERE client_id = :c"), {"c": client_id})
