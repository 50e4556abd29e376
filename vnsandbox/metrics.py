"""Process-wide Prometheus metrics of a service, served at ``GET /_sandbox/metrics``.

The gateway's ``/metrics`` reads every service's and re-exports them labelled by service,
so one scrape of the gateway covers the whole sandbox.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

REGISTRY = CollectorRegistry(auto_describe=True)

DELIVERY_ATTEMPTS = Counter(
    "sandbox_delivery_attempts",
    "Outbox delivery attempts (webhooks, notices) by outcome: delivered, retry, dead",
    ["outcome"],
    registry=REGISTRY,
)


def count_delivery(outcome: str) -> None:
    """Count one delivery attempt's outcome (``delivered``, ``retry`` or ``dead``)."""
    DELIVERY_ATTEMPTS.labels(outcome).inc()
