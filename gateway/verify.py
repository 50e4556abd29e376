"""Journal verification with near misses (WireMock's ``verify`` style), over journal entries.

Plain functions over entries as the journal renders them (:meth:`gateway.journal.GatewayEntry.to_dict`:
``method``, ``path``, ``status``, ``request_body``, ``request_headers``, ...), with no storage and
no HTTP: the control endpoint reads the tenant's entries and hands them here.

A criterion that an entry fails is a *difference* (``{"field", "expected", "actual"}``). An entry
without differences matches; the entries with the fewest, smallest differences are the *near
misses* a mismatch reports, closest first. How far an entry is: one point per differing
criterion, less when the strings are alike (``/api/login`` is nearer to ``/api/logn`` than to
``/oauth2/token``), so a call to the right path with the wrong body ranks before a call elsewhere.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: How much of a body a difference shows.
SNIPPET_CHARS = 200
#: The ``error_code`` of a verify reply whose count is not the expected one (HTTP 409).
MISMATCH_CODE = "VERIFY_MISMATCH"


@dataclass(frozen=True)
class Criteria:
    """What a verified call must look like; every given criterion must hold."""

    method: str | None = None
    path: str | None = None
    path_prefix: str | None = None
    #: Glob over the full path (``/dvcqg/v1/api/*``).
    path_glob: str | None = None
    status: int | None = None
    consumer: str | None = None
    api: str | None = None
    #: A fault kind, ``any`` (some fault) or ``none`` (no fault).
    fault: str | None = None
    #: ISO-8601 time: calls at or after it.
    since: str | None = None
    body_contains: str | None = None
    response_contains: str | None = None
    #: Header name → text its value must contain (names case-insensitive).
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Criteria:
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__ and v is not None}
        known["headers"] = {str(k).lower(): str(v) for k, v in (known.get("headers") or {}).items()}
        return cls(**known)


@dataclass(frozen=True)
class Difference:
    field: str
    expected: Any
    actual: Any
    #: 0 < weight <= 1: how far apart the two are.
    weight: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "expected": self.expected, "actual": self.actual}


def _snippet(text: str | None) -> str | None:
    if text is None or len(text) <= SNIPPET_CHARS:
        return text
    return text[:SNIPPET_CHARS] + "…"


def _unlike(expected: str, actual: str) -> float:
    """1 for nothing in common, towards 0.5 for nearly the same string."""
    return 1.0 - 0.5 * difflib.SequenceMatcher(None, expected, actual, autojunk=False).ratio()


def _text(name: str, expected: str | None, actual: str, ok: Callable[[str, str], bool]) -> Difference | None:
    if expected is None or ok(expected, actual):
        return None
    return Difference(name, expected, actual, _unlike(expected, actual))


def _contains(name: str, expected: str | None, actual: str | None) -> Difference | None:
    if expected is None or expected in (actual or ""):
        return None
    return Difference(name, expected, _snippet(actual), 1.0)


def _fault(expected: str | None, actual: Mapping[str, Any] | None) -> Difference | None:
    kind = actual.get("kind") if actual else None
    if expected is None:
        return None
    if (expected == "any" and kind) or (expected == "none" and not kind) or expected == kind:
        return None
    return Difference("fault", expected, kind, 1.0)


def _headers(expected: Mapping[str, str], actual: Mapping[str, str]) -> list[Difference]:
    lowered = {str(k).lower(): str(v) for k, v in actual.items()}
    out = []
    for name, text in expected.items():
        value = lowered.get(name)
        if value is None or text not in value:
            out.append(Difference(f"header:{name}", text, value, 1.0))
    return out


def differences(c: Criteria, entry: Mapping[str, Any]) -> list[Difference]:
    """Every criterion ``entry`` fails, in a stable order (empty: it matches)."""
    path = str(entry.get("path", ""))
    found = [
        _text("method", c.method.upper() if c.method else None, str(entry.get("method", "")), str.__eq__),
        _text("path", c.path, path, str.__eq__),
        _text("path_prefix", c.path_prefix, path, lambda e, a: a.startswith(e)),
        _text("path_glob", c.path_glob, path, lambda e, a: fnmatch.fnmatchcase(a, e)),
        None if c.status in (None, entry.get("status")) else Difference("status", c.status, entry.get("status")),
        _text("consumer", c.consumer, str(entry.get("consumer", "")), str.__eq__),
        _text("api", c.api, str(entry.get("api", "")), str.__eq__),
        _fault(c.fault, entry.get("fault")),
        _text("since", c.since, str(entry.get("time", "")), lambda e, a: a >= e),
        _contains("body_contains", c.body_contains, entry.get("request_body")),
        _contains("response_contains", c.response_contains, entry.get("response_body")),
    ]
    return [d for d in found if d is not None] + _headers(c.headers, entry.get("request_headers") or {})


def summary(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The identifying parts of an entry, as a near miss shows it."""
    keys = ("id", "time", "request_id", "consumer", "method", "path", "status")
    return {k: entry.get(k) for k in keys}


@dataclass
class Verdict:
    count: int
    near_misses: list[dict[str, Any]]

    def reply(self, expected: int | None) -> dict[str, Any]:
        """The body of ``POST /_sandbox/journal/verify``: the count, and with ``expected`` the
        verdict; a mismatch adds the near misses and the sandbox's error code and messages."""
        out: dict[str, Any] = {"count": self.count}
        if expected is None:
            return out
        out |= {"expected": expected, "ok": self.count == expected}
        if out["ok"]:
            return out
        return out | {
            "near_misses": self.near_misses,
            "error_code": MISMATCH_CODE,
            "message": f"Có {self.count} lời gọi khớp, mong đợi {expected}",
            "message_en": f"{self.count} calls matched, {expected} expected",
        }


def verify(criteria: Criteria, entries: Iterable[Mapping[str, Any]], max_near_misses: int = 3) -> Verdict:
    """How many ``entries`` match ``criteria``, and the ``max_near_misses`` closest that do not
    (fewest and smallest differences first; among equals, the order of ``entries``)."""
    count = 0
    misses: list[tuple[float, int, Mapping[str, Any], list[Difference]]] = []
    for position, entry in enumerate(entries):
        found = differences(criteria, entry)
        if not found:
            count += 1
        else:
            misses.append((sum(d.weight for d in found), position, entry, found))
    misses.sort(key=lambda m: (m[0], m[1]))
    near = [
        summary(entry) | {"distance": round(distance, 3), "differences": [d.to_dict() for d in found]}
        for distance, _, entry, found in misses[: max(0, max_near_misses)]
    ]
    return Verdict(count, near)
