"""The request journal: every request and reply a process answered, newest first.

It is a bounded ring buffer in the process's memory (``*_JOURNAL_SIZE`` entries, 2000 by
default), so it is per replica: with several replicas, read each replica's journal (the
gateway's journal is the sandbox-wide view). Secrets are redacted before an entry is
stored: credentials in headers, and password/secret/token fields in JSON and form bodies.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from vnsandbox.bounds import MAX_JSON_DEPTH_LIMIT, json_too_deep

REDACTED = "***"

_SECRET_HEADERS = {
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-sandbox-tenant-signature",
}
_SECRET_WORDS = re.compile(r"(secret|password|passwd|token|assertion|code_verifier|api[-_]?key|session)", re.I)


def _is_secret_name(name: str) -> bool:
    return bool(_SECRET_WORDS.search(name))


def redact_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        lname = name.lower()
        out[lname] = REDACTED if lname in _SECRET_HEADERS or _is_secret_name(lname) else value
    return out


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (REDACTED if _is_secret_name(str(k)) and v not in (None, "") else _redact_json(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(v) for v in value]
    return value


def redact_body(body: bytes, content_type: str, limit: int) -> str | None:
    """A printable, redacted copy of a body, cut at ``limit`` bytes."""
    if not body:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        if json_too_deep(body, MAX_JSON_DEPTH_LIMIT):
            # Not parsed (no recursion on hostile input) and not kept (it could hide secrets).
            return f"<{len(body)} bytes of {media}, nested deeper than {MAX_JSON_DEPTH_LIMIT} levels>"
        try:
            text = json.dumps(_redact_json(json.loads(body)), ensure_ascii=False)
        except ValueError:
            text = body[:limit].decode("utf-8", "replace")
    elif media == "application/x-www-form-urlencoded":
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        text = urlencode([(k, REDACTED if _is_secret_name(k) else v) for k, v in pairs])
    elif media.startswith("text/") or media in ("", "application/xml"):
        text = body[:limit].decode("utf-8", "replace")
    else:
        return f"<{len(body)} bytes of {media}>"
    if len(text) > limit:
        text = text[:limit] + f"...<cut, {len(body)} bytes>"
    return text


@dataclass
class JournalEntry:
    """One request and its reply."""

    id: int
    time: str
    request_id: str
    tenant: str
    method: str
    path: str
    query: str
    status: int
    duration_ms: float
    request_headers: dict[str, str]
    request_body: str | None
    response_headers: dict[str, str]
    response_body: str | None
    #: Free-form annotations (warnings, injected faults, upstream) added by the app.
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class JournalQuery:
    method: str | None = None
    path: str | None = None
    path_prefix: str | None = None
    status: int | None = None
    request_id: str | None = None
    tenant: str | None = None
    since: str | None = None
    body_contains: str | None = None
    limit: int = 100

    def matches(self, e: JournalEntry) -> bool:
        if self.method and e.method != self.method.upper():
            return False
        if self.path and e.path != self.path:
            return False
        if self.path_prefix and not e.path.startswith(self.path_prefix):
            return False
        if self.status is not None and e.status != self.status:
            return False
        if self.request_id and e.request_id != self.request_id:
            return False
        if self.tenant and e.tenant != self.tenant:
            return False
        if self.since and e.time < self.since:
            return False
        return not (self.body_contains and self.body_contains not in (e.request_body or ""))


class Journal:
    """Thread-safe bounded journal of one process."""

    def __init__(self, size: int) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=max(1, size))
        self._lock = threading.Lock()
        self._next_id = 1

    @property
    def capacity(self) -> int:
        return self._entries.maxlen or 0

    def record(self, **fields: Any) -> JournalEntry:
        with self._lock:
            entry = JournalEntry(id=self._next_id, time=datetime.now(UTC).isoformat(timespec="milliseconds"), **fields)
            self._next_id += 1
            self._entries.append(entry)
            return entry

    def query(self, q: JournalQuery) -> tuple[int, list[JournalEntry]]:
        """Count of all matches and the newest ``q.limit`` of them."""
        with self._lock:
            snapshot = list(self._entries)
        matched = [e for e in reversed(snapshot) if q.matches(e)]
        return len(matched), matched[: max(0, q.limit)]

    def clear(self, tenant: str | None = None) -> int:
        with self._lock:
            before = len(self._entries)
            if tenant is None:
                self._entries.clear()
            else:
                kept = [e for e in self._entries if e.tenant != tenant]
                self._entries.clear()
                self._entries.extend(kept)
            return before - len(self._entries)
