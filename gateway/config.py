"""The gateway's configuration in memory: tenants, consumers, fault rules, test clocks.

The hot path reads :attr:`ConfigCache.snapshot`, an immutable snapshot swapped in whole,
and never queries the database per request. The snapshot is reloaded

- right after this replica changes the configuration through its control plane, and
- every ``GATEWAY_CONFIG_REFRESH_S`` seconds (2 s by default) by a background task.

So with several gateway replicas against one database, a change made through one
replica is seen by the others within that refresh interval. What stays per replica
(documented in docs/gateway.md): token-bucket levels, the counters of "next N" fault
rules and the random streams of probabilistic ones.
"""

from __future__ import annotations

import asyncio
import fnmatch
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from gateway import models
from vnsandbox.db import ClockOffset, Database


@dataclass(frozen=True)
class ConsumerConf:
    client_id: str
    tenant: str
    name: str
    secret_hash: str
    api_key_hash: str
    scopes: frozenset[str]
    rate_per_s: float | None
    burst: int | None


@dataclass(frozen=True)
class FaultConf:
    id: int
    tenant: str
    kind: str
    api: str
    path: str
    method: str
    consumer: str
    remaining: int | None
    probability: float
    seed: int
    params: dict[str, Any]

    def matches(self, api: str, method: str, path: str, consumer: str) -> bool:
        """Whether a call (``path`` after the API prefix) is one this rule is about."""
        if self.api != "*" and self.api != api:
            return False
        if self.method != "*" and self.method != method:
            return False
        if self.consumer != "*" and self.consumer != consumer:
            return False
        return self.path == "*" or fnmatch.fnmatchcase(path, self.path)


@dataclass(frozen=True)
class Snapshot:
    tenants: frozenset[str] = frozenset()
    consumers: dict[str, ConsumerConf] = field(default_factory=dict)
    by_api_key: dict[str, ConsumerConf] = field(default_factory=dict)
    faults: dict[str, tuple[FaultConf, ...]] = field(default_factory=dict)
    #: Test-clock offset (seconds) of each tenant whose clock was moved.
    clock: dict[str, float] = field(default_factory=dict)


def load_snapshot(db: Database) -> Snapshot:
    """Read the whole configuration in one unit of work."""
    with db.session() as session:
        tenants = frozenset(session.scalars(select(models.Tenant.tenant)))
        consumers = {
            c.client_id: ConsumerConf(
                client_id=c.client_id,
                tenant=c.tenant,
                name=c.name,
                secret_hash=c.secret_hash,
                api_key_hash=c.api_key_hash,
                scopes=frozenset(c.scopes),
                rate_per_s=c.rate_per_s,
                burst=c.burst,
            )
            for c in session.scalars(select(models.Consumer))
        }
        faults: dict[str, list[FaultConf]] = {}
        for r in session.scalars(select(models.FaultRule).order_by(models.FaultRule.id)):
            faults.setdefault(r.tenant, []).append(
                FaultConf(
                    id=r.id,
                    tenant=r.tenant,
                    kind=r.kind,
                    api=r.api,
                    path=r.path,
                    method=r.method,
                    consumer=r.consumer,
                    remaining=r.remaining,
                    probability=r.probability,
                    seed=r.seed,
                    params=dict(r.params),
                )
            )
        clock = {row.tenant: row.offset_seconds for row in session.scalars(select(ClockOffset))}
    return Snapshot(
        tenants=tenants,
        consumers=consumers,
        by_api_key={c.api_key_hash: c for c in consumers.values()},
        faults={t: tuple(rules) for t, rules in faults.items()},
        clock={t: s for t, s in clock.items() if s},
    )


class ConfigCache:
    """Holds the current :class:`Snapshot` and reloads it."""

    def __init__(self, db: Database, interval_s: float) -> None:
        self.db = db
        self.interval_s = interval_s
        self.snapshot = Snapshot()
        self.generation = 0

    def refresh(self) -> Snapshot:
        """Reload now (blocking: call from a thread when on the event loop)."""
        snap = load_snapshot(self.db)
        self.snapshot = snap
        self.generation += 1
        return snap

    async def refresh_async(self) -> Snapshot:
        return await asyncio.to_thread(self.refresh)
