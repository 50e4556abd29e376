"""The scenario file: a tenant's calls, in order, with the status and platform code each got,
made from the gateway's journal and replayed against a fresh tenant (``vnsandbox scenario``).

Plain functions, no HTTP: :func:`record` turns journal entries into a scenario document,
:func:`substitute`, :func:`platform_code` and :func:`captures` serve the replay. The format is
documented in docs/testing.md ("Record and replay").

What cannot be replayed as recorded is parameterised: the journal redacts secrets (``***``), so
a redacted field or header becomes ``${name}``, filled at replay from a value an earlier reply
carried under the same name (a DVCQG ``session``, an OAuth ``access_token``: the step that got it
has ``capture``) or, failing that, from the scenario's ``variables`` / ``--set`` (``${secret.password}``);
the recorded tenant's name and link signature become ``${tenant}`` and ``${tenant_sig}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

FORMAT = "vnsandbox-scenario/1"
REDACTED = "***"
VARIABLE = re.compile(r"\$\{([A-Za-z0-9_.-]+)\}")
#: Request headers a replay sets itself (credentials, tracing, transport) and so does not record.
DROPPED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "accept-encoding",
        "user-agent",
        "accept",
        "x-request-id",
        "x-api-key",
        "apikey",
        "x-gateway-token",
        "x-sandbox-admin-key",
        "x-sandbox-tenant",
        "x-sandbox-consumer",
        "x-sandbox-tenant-signature",
        "traceparent",
        "cookie",
    }
)


class ScenarioError(ValueError):
    """A scenario file that cannot be read or replayed as it stands."""


def platform_code(body: str | None) -> Any:
    """The platform's own result code of a reply: ``error_code`` (DVCQG's number, PayGov's and the
    sandbox's string), else PayGov's ``MaLoi``, else OAuth's ``error``; ``None`` without one."""
    if not body:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key in ("error_code", "MaLoi", "error"):
        if key in data:
            return data[key]
    return None


def _redacted_fields(body: str | None) -> list[str]:
    """Top-level fields of a JSON reply the journal shows as ``***`` (tokens, sessions)."""
    try:
        data = json.loads(body or "")
    except ValueError:
        return []
    return [k for k, v in data.items() if v == REDACTED] if isinstance(data, dict) else []


class _Recorder:
    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.link = re.compile(r"/t/" + re.escape(tenant) + r"/[^/]+/") if tenant else None
        self.captured: set[str] = set()
        self.needed: set[str] = set()

    def text(self, value: str) -> str:
        if self.link is not None:
            value = self.link.sub("/t/${tenant}/${tenant_sig}/", value)
        return value.replace(self.tenant, "${tenant}") if self.tenant else value

    def secret(self, name: str) -> str:
        if name in self.captured:
            return "${" + name + "}"
        self.needed.add("secret." + name)
        return "${secret." + name + "}"

    def value(self, name: str, value: Any) -> Any:
        if value == REDACTED:
            return self.secret(name)
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(name, v) for v in value]
        return value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        out = {}
        api_authorization = "x-gateway-token" in headers  # then Authorization was the API's own
        for name, value in headers.items():
            if name in DROPPED_HEADERS or name.startswith("x-forwarded-"):
                continue
            if name == "authorization":
                if not api_authorization:
                    continue  # the caller's gateway credential: the replay brings its own
                scheme = value.split(" ", 1)[0] if " " in value else "Bearer"
                out[name] = f"{scheme} " + self.secret("access_token") if value.endswith(REDACTED) else self.text(value)
                continue
            out[name] = self.secret(name) if value == REDACTED else self.text(value)
        return out

    def body(self, step: dict[str, Any], body: str | None, content_type: str) -> None:
        if not body:
            return
        if content_type.startswith("application/x-www-form-urlencoded"):
            step["form"] = {k: self.value(k, v) for k, v in parse_qsl(body, keep_blank_values=True)}
            return
        try:
            step["json"] = self.value("body", json.loads(body))
        except ValueError:
            step["text"] = self.text(body)

    def step(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        headers = {str(k).lower(): str(v) for k, v in (entry.get("request_headers") or {}).items()}
        step: dict[str, Any] = {"method": entry.get("method", "GET"), "path": self.text(str(entry.get("path", "/")))}
        query = str(entry.get("query") or "")
        if query:
            step["query"] = {k: self.value(k, v) for k, v in parse_qsl(query, keep_blank_values=True)}
        kept = self.headers(headers)
        if kept:
            step["headers"] = kept
        self.body(step, entry.get("request_body"), headers.get("content-type", ""))
        step["expect"] = {"status": entry.get("status"), "code": platform_code(entry.get("response_body"))}
        capture = _redacted_fields(entry.get("response_body"))
        if capture:
            step["capture"] = {name: name for name in capture}
            self.captured.update(capture)
        return step


def record(entries: Iterable[Mapping[str, Any]], tenant: str, recorded_at: str = "") -> dict[str, Any]:
    """A scenario of ``entries`` (oldest first). Calls with a secret in their path (the hosted
    payment page) and calls that got an injected fault (the fault rules are not part of the
    scenario) are left out and counted under ``recorded.skipped``."""
    rec = _Recorder(tenant)
    steps: list[dict[str, Any]] = []
    skipped = 0
    for entry in entries:
        if REDACTED in str(entry.get("path", "")) or entry.get("fault"):
            skipped += 1
            continue
        steps.append(rec.step(entry))
    _keep_used_captures(steps)
    return {
        "format": FORMAT,
        "recorded": {"tenant": tenant, "at": recorded_at, "calls": len(steps), "skipped": skipped},
        "variables": {name: None for name in sorted(rec.needed)},
        "steps": steps,
    }


def _keep_used_captures(steps: list[dict[str, Any]]) -> None:
    """Drop each ``capture`` no later step uses (a redacted ``token_endpoint`` of a discovery document)."""
    used: set[str] = set()
    for step in reversed(steps):
        capture = step.get("capture")
        if capture is not None:
            kept = {k: v for k, v in capture.items() if k in used}
            if kept:
                step["capture"] = kept
            else:
                del step["capture"]
        used |= references({k: v for k, v in step.items() if k not in ("expect", "capture")})


def substitute(value: Any, variables: Mapping[str, str]) -> Any:
    """``value`` with every ``${name}`` replaced (strings inside dicts and lists too)."""
    if isinstance(value, str):
        return VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    return value


def references(value: Any) -> set[str]:
    """Every ``${name}`` in ``value``."""
    if isinstance(value, str):
        return set(VARIABLE.findall(value))
    if isinstance(value, dict):
        return set().union(*(references(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(references(v) for v in value)) if value else set()
    return set()


def _field(data: Any, dotted: str) -> Any:
    for part in str(dotted).split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def captures(step: Mapping[str, Any], reply_body: str) -> dict[str, str]:
    """The values a step's ``capture`` takes from its reply (``{variable: field}``, ``data.MaHoSo``
    for a nested one)."""
    wanted = step.get("capture") or {}
    try:
        data = json.loads(reply_body)
    except ValueError:
        return {}
    found = {var: _field(data, field) for var, field in wanted.items()}
    return {var: str(value) for var, value in found.items() if value is not None}


def check(doc: Any) -> list[dict[str, Any]]:
    """The steps of a scenario document, or :class:`ScenarioError` naming what is wrong."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ScenarioError(f"not a scenario file: 'format: {FORMAT}' is missing")
    steps = doc.get("steps")
    if not isinstance(steps, list):
        raise ScenarioError("'steps' must be a list")
    for n, step in enumerate(steps, 1):
        if not isinstance(step, dict) or not isinstance(step.get("path"), str) or not step.get("method"):
            raise ScenarioError(f"step {n} needs a method and a path")
        if not isinstance(step.get("expect"), dict) or not isinstance(step["expect"].get("status"), int):
            raise ScenarioError(f"step {n} needs expect.status (an HTTP status)")
        if sum(k in step for k in ("json", "form", "text")) > 1:
            raise ScenarioError(f"step {n} has more than one of json, form and text")
    return steps


def unresolved(steps: list[dict[str, Any]], given: Mapping[str, Any]) -> list[str]:
    """Variables a step uses that neither ``given`` nor an earlier step's ``capture`` provides."""
    known = {k for k, v in given.items() if v is not None}
    missing: list[str] = []
    for step in steps:
        used = references({k: v for k, v in step.items() if k not in ("expect", "capture")})
        missing.extend(sorted(name for name in used - known if name not in missing))
        known.update((step.get("capture") or {}).keys())
    return missing
