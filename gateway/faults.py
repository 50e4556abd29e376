"""Fault injection: which rule applies to a call, and what the fault looks like.

A rule belongs to one tenant and matches on API, path glob, method and consumer. It
fires on every matching call, or on the next N (``remaining``), or with a probability.
Rules are checked in creation order; the first that fires wins.

Random plans are reproducible: the k-th matching call of a rule (k = 1, 2, ...) draws from
a random stream derived from the rule's ``seed`` and k alone, so the same rule, created
again with the same seed and fed the same sequence of matching calls, fires on the same
calls with the same latencies, whichever replica relays each call.

The counters (k, and the times fired for "next N") live in this replica's memory
(:class:`MemoryCounters`, keyed by rule id, so a configuration reload keeps them), or,
when the state is shared between replicas, in the rule's row (:class:`SharedCounters`:
an atomic ``UPDATE … RETURNING`` counts the matching call, a second one the firing, both in
one worker thread, so only calls that match a rule pay the database round trips). When a
"next N" rule is used up it is deleted from the database, so the other replicas drop it at
their next reload (until then the shared counter already stops them firing it). When the
database cannot be reached, calls are relayed without a fault (and the failure logged).
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import text

from gateway.config import FaultConf
from vnsandbox.db import Database

log = logging.getLogger("gateway.faults")

KINDS = {
    "latency": "delay the call (fixed `ms`, or a `distribution`: uniform min_ms/max_ms, "
    "normal mean_ms/stddev_ms, exponential mean_ms), then relay it",
    "error": "answer `status` (default 503) with the platform's own error body (or `body`), "
    "without calling the service",
    "reset": "reset the TCP connection (RST) without a reply",
    "empty": "close the connection without sending any reply",
    "malformed": "relay the call, then answer the service's status with a truncated, invalid body",
    "timeout": "hold the call for `after_ms` (default: the upstream timeout), then answer 504",
}
#: Kinds that can happen after the service handled the call (``"phase": "after"``):
#: the province's request took effect but the reply was lost.
PHASED = frozenset({"reset", "empty", "timeout"})


@dataclass(frozen=True)
class Decision:
    rule: FaultConf
    #: Latency to add, in seconds (``latency``), or how long to hold (``timeout``).
    delay_s: float = 0.0

    @property
    def kind(self) -> str:
        return self.rule.kind

    @property
    def after_upstream(self) -> bool:
        return self.rule.kind == "malformed" or (
            self.rule.kind in PHASED and self.rule.params.get("phase", "before") == "after"
        )

    def journal_note(self) -> dict[str, Any]:
        note: dict[str, Any] = {"rule_id": self.rule.id, "kind": self.rule.kind}
        if self.delay_s:
            note["delay_ms"] = round(self.delay_s * 1000, 3)
        if self.rule.kind == "error":
            note["status"] = int(self.rule.params.get("status", 503))
        if self.rule.kind in PHASED:
            note["phase"] = self.rule.params.get("phase", "before")
        return note


def sample_latency_s(params: dict[str, Any], rng: random.Random) -> float:
    """Seconds of added latency for a ``latency`` rule (never negative)."""
    dist = params.get("distribution", "fixed")
    if dist == "uniform":
        ms = rng.uniform(float(params.get("min_ms", 0)), float(params.get("max_ms", 0)))
    elif dist == "normal":
        ms = rng.gauss(float(params.get("mean_ms", 0)), float(params.get("stddev_ms", 0)))
    elif dist == "exponential":
        mean = float(params.get("mean_ms", 0))
        ms = rng.expovariate(1.0 / mean) if mean > 0 else 0.0
    else:
        ms = float(params.get("ms", 0))
    return max(0.0, ms) / 1000.0


def stream(seed: int, k: int) -> random.Random:
    """The random stream of a rule's k-th matching call."""
    return random.Random(f"{seed}:{k}")


class Counters(Protocol):
    """Per-rule counters: matching calls seen, and times fired."""

    def advance(self, rule: FaultConf) -> int | None:
        """Count one more matching call; its number k (1, 2, ...), or None when the rule is used up."""

    def fire(self, rule: FaultConf) -> int | None:
        """Count one more firing; the times fired now, or None when the rule is used up."""

    def fired(self, rule_id: int, stored: int) -> int:
        """Times the rule fired (``stored``: the count in its row)."""


class MemoryCounters:
    def __init__(self) -> None:
        #: rule id → [matching calls seen, times fired]
        self._state: dict[int, list[int]] = {}

    def advance(self, rule: FaultConf) -> int | None:
        state = self._state.setdefault(rule.id, [0, 0])
        if rule.remaining is not None and state[1] >= rule.remaining:
            return None
        state[0] += 1
        return state[0]

    def fire(self, rule: FaultConf) -> int | None:
        state = self._state.setdefault(rule.id, [0, 0])
        state[1] += 1
        return state[1]

    def fired(self, rule_id: int, stored: int) -> int:
        state = self._state.get(rule_id)
        return state[1] if state else 0

    def prune(self, live_ids: set[int]) -> None:
        for rule_id in list(self._state):
            if rule_id not in live_ids:
                del self._state[rule_id]


_ADVANCE = text(
    "UPDATE gateway_fault_rule SET seq = seq + 1 "
    "WHERE id = :id AND (remaining IS NULL OR fired < remaining) RETURNING seq"
)
_FIRE = text(
    "UPDATE gateway_fault_rule SET fired = fired + 1 "
    "WHERE id = :id AND (remaining IS NULL OR fired < remaining) RETURNING fired"
)


class SharedCounters:
    """The counters in the rules' rows, shared by every replica."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def advance(self, rule: FaultConf) -> int | None:
        with self.db.engine.begin() as conn:
            k = conn.execute(_ADVANCE, {"id": rule.id}).scalar()
        return None if k is None else int(k)

    def fire(self, rule: FaultConf) -> int | None:
        with self.db.engine.begin() as conn:
            n = conn.execute(_FIRE, {"id": rule.id}).scalar()
        return None if n is None else int(n)

    def fired(self, rule_id: int, stored: int) -> int:
        return stored

    def prune(self, live_ids: set[int]) -> None:
        return None


class FaultEngine:
    """Chooses the fault (if any) for each call, with per-rule counters (in memory or shared)."""

    def __init__(self, default_timeout_s: float, db: Database | None = None) -> None:
        self.default_timeout_s = default_timeout_s
        self.shared = db is not None
        self.counters: MemoryCounters | SharedCounters = SharedCounters(db) if db is not None else MemoryCounters()
        #: Ids of "next N" rules used up here, for the gateway to delete from the database.
        self.exhausted: set[int] = set()

    async def decide(
        self, rules: tuple[FaultConf, ...], api: str, method: str, path: str, consumer: str
    ) -> Decision | None:
        if self.shared:  # the counters are rows: off the event loop
            try:
                return await asyncio.to_thread(self.choose, rules, api, method, path, consumer)
            except Exception:  # the database is unreachable: relay the call without a fault
                log.exception("faults: counters unreachable; no fault injected")
                return None
        return self.choose(rules, api, method, path, consumer)

    def choose(self, rules: tuple[FaultConf, ...], api: str, method: str, path: str, consumer: str) -> Decision | None:
        for rule in rules:
            if rule.id in self.exhausted or not rule.matches(api, method, path, consumer):
                continue
            k = self.counters.advance(rule)
            if k is None:
                continue
            rng = stream(rule.seed, k)
            if rule.probability < 1.0 and rng.random() >= rule.probability:
                continue
            fired = self.counters.fire(rule)
            if fired is None:
                continue  # another replica used the last one meanwhile
            if rule.remaining is not None and fired >= rule.remaining:
                self.exhausted.add(rule.id)
            delay = 0.0
            if rule.kind == "latency":
                delay = sample_latency_s(rule.params, rng)
            elif rule.kind == "timeout":
                after_ms = rule.params.get("after_ms")
                delay = self.default_timeout_s if after_ms is None else max(0.0, float(after_ms)) / 1000.0
            return Decision(rule, delay)
        return None

    def fired(self, rule_id: int, stored: int = 0) -> int:
        return self.counters.fired(rule_id, stored)

    def prune(self, live_ids: set[int]) -> None:
        """Forget the state of rules that were removed."""
        self.counters.prune(live_ids)
        self.exhausted &= live_ids


def platform_error_body(api: str, status: int) -> dict[str, Any]:
    """The error body the real platform behind ``api`` answers with (for ``error`` faults)."""
    busy_vi = "Hệ thống đang bận hoặc gián đoạn, vui lòng thử lại sau"
    busy_en = "The system is busy or interrupted; please retry later"
    if api == "vneid":
        # The SSO speaks OAuth 2.0 / OpenID Connect.
        error = "temporarily_unavailable" if status in (502, 503, 504) else "server_error"
        if status < 500:
            error = "invalid_request"
        return {"error": error, "error_description": busy_vi}
    if api == "dvcqg":
        # DVCQG's own envelope: a non-zero error_code and a message.
        return {"error_code": -1, "message": busy_vi}
    if api == "paygov":
        return {"error_code": "99", "message": busy_vi, "MaLoi": "99", "MoTaLoi": busy_vi}
    return {"error_code": "SERVICE_UNAVAILABLE", "message": busy_vi, "message_en": busy_en}
