"""Per-consumer quotas: one token bucket per consumer, in this replica's memory.

A consumer with ``rate_per_s`` r and ``burst`` b may make b calls at once, then r per
second. Limits come from the configuration snapshot, so a change made through the control
plane applies to the next call (in this replica at once; in other replicas after their
next configuration reload). Levels are per replica: N replicas behind a load balancer
allow up to N times the configured rate (documented in docs/gateway.md).
"""

from __future__ import annotations

import math
import time

from gateway.config import ConsumerConf


class Buckets:
    def __init__(self) -> None:
        #: client id → [tokens, last refill (monotonic seconds)]
        self._levels: dict[str, list[float]] = {}

    def take(self, consumer: ConsumerConf) -> int | None:
        """Spend one token; ``None`` when allowed, else the seconds to wait (``Retry-After``)."""
        rate = consumer.rate_per_s
        if rate is None:
            return None
        burst = float(consumer.burst if consumer.burst is not None else max(1, math.ceil(rate)))
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

    def forget(self, client_id: str) -> None:
        """Start a consumer's bucket full again (after its limits changed)."""
        self._levels.pop(client_id, None)
