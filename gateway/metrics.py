"""Prometheus metrics of the gateway (``GET /metrics``), one registry per gateway app.

Labels are bounded: API, method, status code, fault kind, error code. Tenants and
consumers are not labels (their number is unbounded); the journal answers per-tenant
questions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServiceMetrics:
    """Re-exports the services' own counters (``/_sandbox/metrics``), labelled by service:
    ``sandbox_delivery_attempts_total{service="payment",outcome="retry"}``."""

    def __init__(self) -> None:
        self._families: list[Metric] = []

    def update(self, texts: Mapping[str, str]) -> None:
        merged: dict[str, CounterMetricFamily] = {}
        for service, text in texts.items():
            for family in text_string_to_metric_families(text):
                if family.type != "counter":
                    continue
                for sample in family.samples:
                    if not sample.name.endswith("_total"):
                        continue
                    keys = sorted(sample.labels)
                    out = merged.get(family.name)
                    if out is None:
                        out = merged[family.name] = CounterMetricFamily(
                            family.name, family.documentation, labels=["service", *keys]
                        )
                    out.add_metric([service, *(sample.labels[k] for k in keys)], sample.value)
        self._families = list(merged.values())

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        return list(self._families)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.services = ServiceMetrics()
        self.registry.register(self.services)
        self.requests = Counter(
            "gateway_requests",
            "Calls relayed (or answered) by the gateway on the API paths",
            ["api", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gateway_request_duration_seconds",
            "Time from receiving a call to the end of its reply, injected latency included",
            ["api"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.faults = Counter(
            "gateway_faults_injected", "Faults injected by fault rules", ["api", "kind"], registry=self.registry
        )
        self.refused = Counter(
            "gateway_refused",
            "Calls the gateway refused itself (auth, scope, quota, bad input, upstream errors)",
            ["api", "code"],
            registry=self.registry,
        )
        self.config_generation = Gauge(
            "gateway_config_generation", "Configuration reloads done by this replica", registry=self.registry
        )

        #: Children by label values: ``labels()`` takes a lock and builds a key on every call.
        self._requests: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[str, Any] = {}

    def observe(self, api: str, method: str, status: int, seconds: float) -> None:
        """Count one call and its duration (the per-request path, kept cheap)."""
        key = (api, method, status)
        counter = self._requests.get(key)
        if counter is None:
            counter = self._requests[key] = self.requests.labels(api, method, str(status))
        counter.inc()
        histogram = self._latency.get(api)
        if histogram is None:
            histogram = self._latency[api] = self.latency.labels(api)
        histogram.observe(seconds)
