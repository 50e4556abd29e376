"""The request journal: every request and reply a process answered, newest first.

It is a bounded ring buffer in the process's memory (``*_JOURNAL_SIZE`` entries, 2000 by
default), so it is per replica: with several replicas, read each replica's journal (the
gateway's journal is the sandbox-wide view). Secrets are redacted before any part of an
entry is read: credentials in headers, password/secret/token fields in JSON and form bodies,
secret query parameters and form fields (OAuth authorization ``code`` included, in URLs
too: ``Location``), and the path segments a service declares secret
(:data:`SECRET_PATHS`). :class:`Redaction` does it for the services'
journals and logs and for the gateway's alike.

The request middleware records an :class:`Exchange` (headers and bodies as received), which
is redacted into a :class:`JournalEntry` the first time any reader reaches it, then its raw
copy is dropped: most entries are pushed out of the ring unread, so the hot path never pays
for redaction, and no reply, filter or export ever sees an unredacted value.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from vnsandbox.bounds import MAX_JSON_DEPTH_LIMIT, json_too_deep
from vnsandbox.signing import CONSUMER_HEADER

REDACTED = "***"

_SECRET_HEADERS = {
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-sandbox-tenant-signature",
}
#: What a secret-sounding name contains (regular expressions, matched case-insensitively).
_SECRET_PATTERNS = ("secret", "password", "passwd", "token", "assertion", "code_verifier", "api[-_]?key", "session")
_SECRET_WORDS = re.compile(f"({'|'.join(_SECRET_PATTERNS)})", re.I)


#: Query parameters and form fields that are secrets by their exact name, beyond the
#: secret-sounding names above: the OAuth 2.0 authorization ``code`` (token request form,
#: redirect ``Location``). ``state`` is not a secret and stays visible.
SECRET_PARAMS = frozenset({"code"})
#: Headers whose value is a URL, redacted as one (path and query).
_URL_HEADERS = {"location", "content-location", "referer"}
#: Marks the secret segment in a :data:`SECRET_PATHS` template.
SECRET_SEGMENT = "{secret}"


#: Path segments that are secrets, per service (templates relative to the service's root;
#: ``*`` any segment, ``{secret}`` the secret one). Every journal and request log line, in
#: the service and in the gateway, shows them as ``***``: the hosted payment page's path
#: holds its 192-bit page token, which opens the page without any other credential.
SECRET_PATHS: dict[str, tuple[str, ...]] = {"payment": ("/pay/*/{secret}",)}


#: Names that only describe a secret (where it is sent, its type, its lifetime, what is
#: supported), such as discovery's ``token_endpoint`` or a token reply's ``token_type``: shown.
_ABOUT_A_SECRET = re.compile(
    r"[-_](endpoint|url|uri|iframe|type|types|supported|expires_in|expires_at|ttl_s|ttl)$", re.I
)


@lru_cache(maxsize=4096)
def _is_secret_name(name: str) -> bool:
    """(Cached: a batch body repeats the same few field names hundreds of times.)"""
    return bool(_SECRET_WORDS.search(name)) and not _ABOUT_A_SECRET.search(name)


def _is_secret_param(name: str) -> bool:
    return name in SECRET_PARAMS or _is_secret_name(name)


def redact_query(query: str) -> str:
    """``a=1&code=xyz&state=s`` → ``a=1&code=***&state=s`` (other parameters kept as sent)."""
    if not query:
        return query
    parts = query.split("&")
    for i, part in enumerate(parts):
        name, eq, value = part.partition("=")
        if eq and value and _is_secret_param(unquote_plus(name)):
            parts[i] = f"{name}={REDACTED}"
    return "&".join(parts)


class Redaction:
    """What the journals and the request logs of one service (or one upstream of the
    gateway) never show.

    ``secret_paths`` are path templates relative to the service's root, such as
    ``/pay/*/{secret}``: ``*`` is any one segment, ``{secret}`` any one segment that is
    replaced by ``***``. They match at any depth, so the gateway's prefixed paths
    (``/paygov/v1/pay/...``, ``/t/{tenant}/{sig}/paygov/v1/pay/...``) are covered too.
    """

    def __init__(self, secret_paths: tuple[str, ...] = ()) -> None:
        self.secret_paths = secret_paths
        self._templates = [tuple(t.strip("/").split("/")) for t in secret_paths]

    def path(self, path: str) -> str:
        if not self._templates:
            return path
        parts = path.split("/")
        for tpl in self._templates:
            for start in range(len(parts) - len(tpl) + 1):
                window = parts[start : start + len(tpl)]
                if all(t in ("*", SECRET_SEGMENT) or t == seg for t, seg in zip(tpl, window, strict=True)):
                    for offset, t in enumerate(tpl):
                        if t == SECRET_SEGMENT and parts[start + offset]:
                            parts[start + offset] = REDACTED
        return "/".join(parts)

    def url(self, url: str) -> str:
        """A URL (absolute or relative) with its secret path segments and parameters redacted."""
        if "?" not in url and "#" not in url and not self._templates:
            return url
        try:
            parts = urlsplit(url)
        except ValueError:
            return url
        return urlunsplit(
            parts._replace(
                path=self.path(parts.path), query=redact_query(parts.query), fragment=redact_query(parts.fragment)
            )
        )

    def headers(self, headers: list[tuple[str, str]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in headers:
            lname = name.lower()
            if lname in _SECRET_HEADERS or _is_secret_name(lname):
                out[lname] = REDACTED
            elif lname in _URL_HEADERS:
                out[lname] = self.url(value)
            else:
                out[lname] = value
        return out

    def _json(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (REDACTED if _is_secret_name(str(k)) and v not in (None, "") else self._json(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._json(v) for v in value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self.url(value)
        return value

    def _json_dumps(self, value: Any) -> str:
        return _dumps(self._json(value))

    def _json_text(self, value: Any, limit: int, encode: Callable[[Any], str]) -> str:
        """The start of :meth:`_json_dumps`'s text, at least ``limit + 1`` characters of it
        (all of it if shorter): a batch body of many records is not redacted and re-encoded
        whole to keep its first few thousand characters."""
        parts: list[str] = []
        size = 0
        for part in self._json_parts(value, _JSON_PIECE_DEPTH, encode):
            parts.append(part)
            size += len(part)
            if size > limit:
                break
        return "".join(parts)

    def _json_parts(self, value: Any, depth: int, encode: Callable[[Any], str]) -> Iterator[str]:
        """:meth:`_json_dumps`'s text in pieces, as ``json.dumps`` writes it (the separators
        ``", "`` and ``": "``), redacted as :meth:`_json` redacts. Containers ``depth`` levels
        down are ``encode``d whole, one piece each: a batch's records are each one call."""
        if depth and isinstance(value, dict) and value:
            opening = "{"
            for k, v in value.items():
                yield f"{opening}{_dumps(k)}: "
                opening = ", "
                if _is_secret_name(str(k)) and v not in (None, ""):
                    yield _dumps(REDACTED)
                else:
                    yield from self._json_parts(v, depth - 1, encode)
            yield "}"
        elif depth and isinstance(value, list) and value:
            opening = "["
            for v in value:
                yield opening
                opening = ", "
                yield from self._json_parts(v, depth - 1, encode)
            yield "]"
        else:
            yield encode(value)

    def body(self, body: bytes, content_type: str, limit: int) -> str | None:
        """A printable, redacted copy of a body, cut at ``limit`` bytes."""
        if not body:
            return None
        media = content_type.split(";", 1)[0].strip().lower()
        if media == "application/json" or media.endswith("+json"):
            if json_too_deep(body, MAX_JSON_DEPTH_LIMIT):
                # Not parsed (no recursion on hostile input) and not kept (it could hide secrets).
                return f"<{len(body)} bytes of {media}, nested deeper than {MAX_JSON_DEPTH_LIMIT} levels>"
            try:
                value = json.loads(body)
            except ValueError:
                text = body[:limit].decode("utf-8", "replace")
            else:
                # A body over the limit is kept cut: only what is kept is redacted and encoded.
                encode = self._json_dumps if _may_need_redaction(body) else _dumps
                text = self._json_text(value, limit, encode) if len(body) > limit else encode(value)
        elif media == "application/x-www-form-urlencoded":
            text = redact_query(body.decode("utf-8", "replace"))
        elif media.startswith("text/") or media in ("", "application/xml"):
            text = body[:limit].decode("utf-8", "replace")
        else:
            return f"<{len(body)} bytes of {media}>"
        if len(text) > limit:
            text = text[:limit] + f"...<cut, {len(body)} bytes>"
        return text


#: What every secret-sounding name contains, lower-cased (each of :data:`_SECRET_PATTERNS` up
#: to its first pattern character), where a URL starts, and the four non-ASCII letters that
#: match ASCII ones case-insensitively (İ ı ſ K, in UTF-8): a JSON text with none of them and no
#: escapes (which could spell them) has nothing :meth:`Redaction._json` would change, and is
#: encoded without that walk.
_REDACTION_MARKS = (
    *(re.split(r"[\[?*+(|.\\]", pattern, maxsplit=1)[0].encode() for pattern in _SECRET_PATTERNS),
    b"http",
    *(letter.encode() for letter in "\u0130\u0131\u017f\u212a"),
)


def _may_need_redaction(body: bytes) -> bool:
    if b"\\" in body:
        return True
    low = body.lower()
    return any(mark in low for mark in _REDACTION_MARKS)


#: How many levels of a cut JSON body are walked piece by piece (the body, its members, their
#: items: a batch's list of records); below that each value is one ``json.dumps`` call.
_JSON_PIECE_DEPTH = 2

#: ``json.dumps(value, ensure_ascii=False)`` without building an encoder per call.
_dumps = json.JSONEncoder(ensure_ascii=False).encode


#: The rules of a service that declares no secret paths.
NO_SECRET_PATHS = Redaction()
redact_headers = NO_SECRET_PATHS.headers
redact_body = NO_SECRET_PATHS.body


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

    def resolve(self) -> JournalEntry:
        return self


@dataclass
class Exchange:
    """One request and its reply as the middleware saw them, redacted into a :class:`JournalEntry`
    when first read (:meth:`resolve`; computed once, the raw copy then dropped)."""

    request_id: str
    tenant: str
    method: str
    path: str
    query_string: bytes
    status: int
    duration_ms: float
    request_headers: list[tuple[bytes, bytes]]
    request_body: bytes
    request_content_type: str
    response_headers: list[tuple[bytes, bytes]]
    response_body: bytes
    notes: dict[str, Any]
    redaction: Redaction
    body_limit: int
    id: int = 0
    ts: float = field(default_factory=time.time)
    _entry: JournalEntry | None = field(default=None, repr=False)

    def resolve(self) -> JournalEntry:
        done = self._entry
        if done is not None:
            return done
        raw = (self.request_headers, self.request_body, self.response_headers, self.response_body)
        if self._entry is not None:  # another reader finished (and dropped the raw copy) meanwhile
            return self._entry
        raw_req_headers, req_body, raw_resp_headers, resp_body = raw
        r = self.redaction
        req_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_req_headers]
        resp_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_resp_headers]
        resp_ctype = next((v for k, v in resp_headers if k.lower() == "content-type"), "")
        entry = JournalEntry(
            id=self.id,
            time=datetime.fromtimestamp(self.ts, UTC).isoformat(timespec="milliseconds"),
            request_id=self.request_id,
            tenant=self.tenant,
            method=self.method,
            path=r.path(self.path),
            query=redact_query(self.query_string.decode("latin-1")),
            status=self.status,
            duration_ms=self.duration_ms,
            request_headers=r.headers(req_headers),
            request_body=r.body(req_body, self.request_content_type, self.body_limit),
            response_headers=r.headers(resp_headers),
            response_body=r.body(resp_body, resp_ctype, self.body_limit),
            notes=json.loads(json.dumps(self.notes, default=str)) if self.notes else {},
        )
        self._entry = entry  # published before the raw copy is dropped (a racing reader computes the same)
        self.request_headers = self.response_headers = []
        self.request_body = self.response_body = b""
        return entry


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
    #: The caller the request names (``X-Sandbox-Consumer``) starts with this (``service:``:
    #: the calls other services made, :func:`vnsandbox.calls.service_caller`).
    consumer_prefix: str | None = None
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
        if self.consumer_prefix and not e.request_headers.get(CONSUMER_HEADER, "").startswith(self.consumer_prefix):
            return False
        return not (self.body_contains and self.body_contains not in (e.request_body or ""))


class Journal:
    """Thread-safe bounded journal of one process."""

    def __init__(self, size: int) -> None:
        self._entries: deque[JournalEntry | Exchange] = deque(maxlen=max(1, size))
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

    def record_exchange(self, exchange: Exchange) -> None:
        """Keep ``exchange`` as it is; it is redacted when first read."""
        with self._lock:
            exchange.id = self._next_id
            self._next_id += 1
            self._entries.append(exchange)

    def query(self, q: JournalQuery) -> tuple[int, list[JournalEntry]]:
        """Count of all matches and the newest ``q.limit`` of them."""
        with self._lock:
            snapshot = list(self._entries)
        matched = [e for e in (x.resolve() for x in reversed(snapshot)) if q.matches(e)]
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
