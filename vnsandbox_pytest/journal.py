"""Assertions on the gateway's journal with near misses in the failure message (as WireMock's ``verify``)."""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass
from typing import Any

import httpx

from vnsandbox_pytest.errors import raise_for

#: How many journal entries a check reads (the gateway keeps 2000 per tenant by default).
READ_LIMIT = 2000
NEAR_MISSES = 3


class JournalAssertionError(AssertionError):
    """The journal did not hold the expected calls; the message lists the closest ones."""


@dataclass(frozen=True)
class Expectation:
    method: str | None = None
    path: str | None = None
    body_contains: str | None = None
    status: int | None = None

    def describe(self) -> str:
        parts = [self.method or "*", self.path or "*"]
        if self.body_contains is not None:
            parts.append(f"body containing {self.body_contains!r}")
        if self.status is not None:
            parts.append(f"answered {self.status}")
        return " ".join(parts)

    def differences(self, entry: dict[str, Any]) -> list[str]:
        """What keeps ``entry`` from matching (empty: it matches)."""
        out = []
        if self.method and str(entry.get("method", "")).upper() != self.method.upper():
            out.append(f"method is {entry.get('method')}, expected {self.method.upper()}")
        path = str(entry.get("path", ""))
        if self.path and not (path == self.path or fnmatch.fnmatchcase(path, self.path)):
            out.append(f"path is {path}, expected {self.path}")
        if self.body_contains is not None and self.body_contains not in str(entry.get("request_body") or ""):
            out.append(f"request body does not contain {self.body_contains!r}")
        if self.status is not None and entry.get("status") != self.status:
            out.append(f"status is {entry.get('status')}, expected {self.status}")
        return out

    def closeness(self, entry: dict[str, Any]) -> float:
        """Higher is closer: fewer differences first, then the most similar path."""
        similarity = difflib.SequenceMatcher(None, str(entry.get("path", "")), self.path or "").ratio()
        return -len(self.differences(entry)) + similarity


def near_misses(expected: Expectation, entries: list[dict[str, Any]], limit: int = NEAR_MISSES) -> list[str]:
    misses = [e for e in entries if expected.differences(e)]
    misses.sort(key=expected.closeness, reverse=True)
    return [
        f"  {e.get('method')} {e.get('path')} → {e.get('status')}: " + "; ".join(expected.differences(e))
        for e in misses[:limit]
    ]


class Journal:
    """The tenant's journal at the gateway: every relayed call, newest first."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def entries(self, limit: int = READ_LIMIT) -> list[dict[str, Any]]:
        reply = raise_for(self.http.get("/_sandbox/journal", params={"limit": limit}))
        entries: list[dict[str, Any]] = reply["entries"]
        return entries

    def calls(
        self,
        method: str | None = None,
        path: str | None = None,
        body_contains: str | None = None,
        status: int | None = None,
    ) -> list[dict[str, Any]]:
        """The recorded calls matching every criterion given (``path`` may be a glob: ``/dvcqg/v1/api/*``)."""
        expected = Expectation(method, path, body_contains, status)
        return [e for e in self.entries() if not expected.differences(e)]

    def assert_called(
        self,
        method: str | None = None,
        path: str | None = None,
        body_contains: str | None = None,
        status: int | None = None,
        times: int | None = None,
    ) -> list[dict[str, Any]]:
        """At least one matching call (exactly ``times`` when given); on failure the message lists
        the closest recorded calls and how each differs."""
        expected = Expectation(method, path, body_contains, status)
        entries = self.entries()
        matched = [e for e in entries if not expected.differences(e)]
        if (times is None and matched) or (times is not None and len(matched) == times):
            return matched
        wanted = "at least once" if times is None else f"{times} time(s)"
        lines = [f"expected {expected.describe()} {wanted}, found {len(matched)} among {len(entries)} recorded call(s)"]
        misses = near_misses(expected, entries)
        if misses:
            lines += ["closest recorded calls:", *misses]
        raise JournalAssertionError("\n".join(lines))

    def assert_not_called(
        self,
        method: str | None = None,
        path: str | None = None,
        body_contains: str | None = None,
        status: int | None = None,
    ) -> None:
        self.assert_called(method, path, body_contains, status, times=0)

    def clear(self) -> None:
        raise_for(self.http.delete("/_sandbox/journal"))
