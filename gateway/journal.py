"""The gateway's journal: every relayed call, per tenant, with consumer, fault and latency.

Two stores behind one small interface (:class:`JournalStore`: entries in with ``record``,
a tenant's entries out with ``entries``, ``clear``); filtering (:class:`GatewayQuery`) and
counting (:func:`query`) are the same for both.

- :class:`GatewayJournal`, in this process's memory (the embedded mode, one process):
  the newest ``GATEWAY_JOURNAL_SIZE`` entries (2000 by default) of each tenant, for at most
  ``GATEWAY_JOURNAL_MAX_TENANTS`` tenants (200 by default; the tenant whose journal was
  written least recently is dropped first). Per-tenant buffers mean one busy CI job cannot
  push another tenant's entries out.
- :class:`gateway.journal_db.DatabaseJournal`, in the gateway's PostgreSQL database when
  the state is shared between replicas: every replica reads the same journal.

Secrets are redacted by the upstream's :class:`vnsandbox.journal.Redaction`, the rules the
service itself applies (credential headers; password, secret and token fields of bodies;
secret query parameters and form fields such as the OAuth ``code``; secret path segments
such as the payment page token), before any part of an entry is read, filtered on, stored
in the database or returned, so they never reach a journal reply. Paths are redacted when
recorded (cheap: only APIs that declare secret paths pay for it); the rest on first read
or when written to the database, off the hot path.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from vnsandbox.journal import NO_SECRET_PATHS, Redaction, redact_query


@dataclass
class GatewayEntry:
    """One relayed call. Headers and bodies are kept as received and redacted the first
    time the entry is read (then the raw copy is dropped), which keeps the hot path cheap;
    no reply, export or filter ever sees an unredacted value."""

    id: int
    ts: float
    request_id: str
    tenant: str
    consumer: str
    api: str
    upstream: str
    method: str
    path: str
    query: str
    status: int
    duration_ms: float
    raw_headers: list[tuple[bytes, bytes]] | None
    raw_request_body: bytes | None = None
    request_content_type: str = ""
    raw_response_body: bytes | None = None
    response_content_type: str = ""
    #: The injected fault, if any: ``{"rule_id", "kind", ...}``.
    fault: dict[str, Any] | None = None
    #: Gateway-level error code (``RATE_LIMITED``, ``UPSTREAM_TIMEOUT``, ...), if any.
    error: str | None = None
    body_limit: int = 16_384
    redaction: Redaction = field(default=NO_SECRET_PATHS, repr=False)
    _rendered: dict[str, Any] | None = field(default=None, repr=False)

    def rendered(self) -> dict[str, Any]:
        """The redacted, printable parts (computed once; safe when two readers race)."""
        done = self._rendered
        if done is not None:
            return done
        raw_headers, request_body, response_body = self.raw_headers, self.raw_request_body, self.raw_response_body
        if self._rendered is not None:  # another reader finished (and dropped the raw copy) meanwhile
            return self._rendered
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers or ()]
        rendered = {
            "time": datetime.fromtimestamp(self.ts, UTC).isoformat(timespec="milliseconds"),
            "query": redact_query(self.query),
            "request_headers": self.redaction.headers(headers),
            "request_body": self.redaction.body(request_body or b"", self.request_content_type, self.body_limit),
            "response_body": self.redaction.body(response_body or b"", self.response_content_type, self.body_limit),
        }
        self._rendered = rendered  # published before the raw copy is dropped
        self.raw_headers = self.raw_request_body = self.raw_response_body = None
        return rendered

    def to_dict(self) -> dict[str, Any]:
        r = self.rendered()
        return {
            "id": self.id,
            "time": r["time"],
            "request_id": self.request_id,
            "tenant": self.tenant,
            "consumer": self.consumer,
            "api": self.api,
            "upstream": self.upstream,
            "method": self.method,
            "path": self.path,
            "query": r["query"],
            "status": self.status,
            "duration_ms": self.duration_ms,
            "request_headers": r["request_headers"],
            "request_body": r["request_body"],
            "response_body": r["response_body"],
            "fault": self.fault,
            "error": self.error,
        }


@dataclass
class GatewayQuery:
    """Filters of a journal query; every given filter must match."""

    method: str | None = None
    path: str | None = None
    path_prefix: str | None = None
    #: Glob over the full path (``/dvcqg/v1/dossiers/*``).
    path_glob: str | None = None
    status: int | None = None
    request_id: str | None = None
    consumer: str | None = None
    api: str | None = None
    #: A fault kind, ``any`` (some fault) or ``none`` (no fault).
    fault: str | None = None
    since: str | None = None
    body_contains: str | None = None
    response_contains: str | None = None
    limit: int = 100

    def matches(self, e: GatewayEntry) -> bool:
        checks = (
            not self.method or e.method == self.method.upper(),
            not self.path or e.path == self.path,
            not self.path_prefix or e.path.startswith(self.path_prefix),
            not self.path_glob or fnmatch.fnmatchcase(e.path, self.path_glob),
            self.status is None or e.status == self.status,
            not self.request_id or e.request_id == self.request_id,
            not self.consumer or e.consumer == self.consumer,
            not self.api or e.api == self.api,
            not self.since or e.rendered()["time"] >= self.since,
            not self.body_contains or self.body_contains in (e.rendered()["request_body"] or ""),
            not self.response_contains or self.response_contains in (e.rendered()["response_body"] or ""),
        )
        if not all(checks):
            return False
        if self.fault == "any":
            return e.fault is not None
        if self.fault == "none":
            return e.fault is None
        return not self.fault or (e.fault is not None and e.fault.get("kind") == self.fault)


class JournalStore(Protocol):
    """Where journal entries are kept."""

    #: Newest entries kept per tenant.
    per_tenant: int

    def record(self, **fields: Any) -> None:
        """Keep one relayed call (hot path: no I/O)."""

    def entries(self, tenant: str) -> list[GatewayEntry]:
        """The tenant's entries, newest first (every call relayed so far by this replica included)."""
        ...

    def clear(self, tenant: str) -> int:
        """Drop the tenant's entries; how many there were."""
        ...

    def query(self, tenant: str, q: GatewayQuery) -> tuple[int, list[GatewayEntry]]:
        """Count of all matches in ``tenant``'s journal, and the newest ``q.limit`` of them."""
        ...


def query(store: JournalStore, tenant: str, q: GatewayQuery) -> tuple[int, list[GatewayEntry]]:
    """Count of all matches in ``tenant``'s journal, and the newest ``q.limit`` of them."""
    matched = [e for e in store.entries(tenant) if q.matches(e)]
    return len(matched), matched[: max(0, q.limit)]


class GatewayJournal:
    """The journal in this process's memory."""

    def __init__(self, per_tenant: int, max_tenants: int) -> None:
        self.per_tenant = max(1, per_tenant)
        self.max_tenants = max(1, max_tenants)
        self._tenants: OrderedDict[str, deque[GatewayEntry]] = OrderedDict()
        self._lock = threading.Lock()
        self._next_id = 1

    def record(self, **fields: Any) -> None:
        tenant: str = fields["tenant"]
        with self._lock:
            entry = GatewayEntry(id=self._next_id, ts=time.time(), **fields)
            self._next_id += 1
            buf = self._tenants.get(tenant)
            if buf is None:
                buf = self._tenants[tenant] = deque(maxlen=self.per_tenant)
                while len(self._tenants) > self.max_tenants:
                    self._tenants.popitem(last=False)
            else:
                self._tenants.move_to_end(tenant)
            buf.append(entry)

    def entries(self, tenant: str) -> list[GatewayEntry]:
        with self._lock:
            snapshot = list(self._tenants.get(tenant, ()))
        snapshot.reverse()
        return snapshot

    def query(self, tenant: str, q: GatewayQuery) -> tuple[int, list[GatewayEntry]]:
        return query(self, tenant, q)

    def clear(self, tenant: str) -> int:
        with self._lock:
            buf = self._tenants.pop(tenant, None)
            return len(buf) if buf else 0
