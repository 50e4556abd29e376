"""The tenant's message flow as a sequence diagram: the gateway's journal (province → gateway →
platform and the reply back), the calls the platforms make to each other (each service's own
journal, the calls whose caller names a service: DVCQG asking PayGov for a payment or VNeID's
population database about a dossier's owner), and the platforms' outgoing deliveries (webhooks
and payment notices back to the province; PayGov's notice of a paid fee to DVCQG), in time
order. Pure: what the templates draw."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from console.i18n import as_datetime, vn_time

#: The lanes, left to right: (key, Vietnamese name, English name).
LANES = (
    ("province", "Tỉnh (hệ thống một cửa)", "Province (one-stop system)"),
    ("gateway", "Cổng kết nối (LGSP)", "Gateway (LGSP)"),
    ("vneid", "VNeID", "VNeID"),
    ("dvcqg", "DVCQG", "DVCQG"),
    ("paygov", "PayGov", "PayGov"),
)
LANE = {key: i for i, (key, _vi, _en) in enumerate(LANES)}
SERVICE_LANE = {"identity": LANE["vneid"], "dossier": LANE["dvcqg"], "payment": LANE["paygov"]}
#: Journal errors the gateway answers itself, without calling the platform.
GATEWAY_ONLY_FAULTS = ("error",)
#: How a service names itself when it calls another (``vnsandbox.calls.service_caller``).
SERVICE_CALLER_PREFIX = "service:"
#: Deliveries one platform sends another rather than the province, by kind.
DELIVERY_TO_SERVICE = {"dossier.payment": "dossier"}


@dataclass
class Arrow:
    key: str
    sort_ts: float
    time: str
    kind: str  # "call" or "delivery"
    start: int
    end: int
    label: str
    status: str
    ok: bool
    fault: str
    request: str
    reply: str

    @property
    def left(self) -> float:
        """Where the arrow starts or ends, leftmost, in percent of the diagram's width."""
        return (min(self.start, self.end) + 0.5) * 100 / len(LANES)

    @property
    def width(self) -> float:
        return abs(self.end - self.start) * 100 / len(LANES)

    @property
    def rightward(self) -> bool:
        return self.end > self.start


def pretty(body: Any) -> str:
    """A body as indented JSON when it is JSON, else as it is."""
    if body is None or body == "":
        return ""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return str(body)
    return json.dumps(body, ensure_ascii=False, indent=2)


def _exchange(entry: dict[str, Any]) -> tuple[str, str]:
    """A journal entry's (redacted) request and reply, as an arrow opens them."""
    query = f"?{entry['query']}" if entry.get("query") else ""
    headers = "\n".join(f"{k}: {v}" for k, v in (entry.get("request_headers") or {}).items())
    request = f"{entry.get('method')} {entry.get('path')}{query}\n{headers}\n\n{pretty(entry.get('request_body'))}"
    reply = f"HTTP {entry.get('status')}  ({entry.get('duration_ms')} ms)"
    if entry.get("error"):
        reply += f"  [{entry['error']}]"
    reply += "\n\n" + pretty(entry.get("response_body"))
    return request.strip(), reply.strip()


def _on_tenant_clock(entry: dict[str, Any], offset_s: float) -> tuple[float, str]:
    """(sort key, shown time) of a journal entry: when its call began (a journal stamps the reply,
    after what the call caused: the calls it made, the deliveries it queued). Journals keep real
    time; ``offset_s`` (the tenant clock's current offset) puts it on the tenant clock, where the
    deliveries already are."""
    when = as_datetime(entry.get("time"))
    if when is not None:
        duration_ms = entry.get("duration_ms")
        took = float(duration_ms) / 1000 if isinstance(duration_ms, int | float) else 0.0
        when += timedelta(seconds=offset_s - took)
    return (when.timestamp() if when else 0.0), vn_time(when, seconds=True)


def _journal_arrow(
    entry: dict[str, Any], offset_s: float, *, key: str, kind: str, start: int, end: int, fault: str
) -> Arrow:
    """An arrow for a journalled call: its label, status, exchange and time come from the entry."""
    status = entry.get("status")
    request, reply = _exchange(entry)
    sort_ts, time = _on_tenant_clock(entry, offset_s)
    return Arrow(
        key=key,
        sort_ts=sort_ts,
        time=time,
        kind=kind,
        start=start,
        end=end,
        label=f"{entry.get('method')} {entry.get('path')}",
        status=str(status),
        ok=isinstance(status, int) and status < 400,
        fault=fault,
        request=request,
        reply=reply,
    )


def call_arrow(entry: dict[str, Any], offset_s: float = 0.0) -> Arrow:
    """A relayed call, from the gateway's journal."""
    fault = entry.get("fault") or {}
    fault_kind = str(fault.get("kind", "")) if isinstance(fault, dict) else ""
    lane = LANE.get(str(entry.get("api", "")), LANE["gateway"])
    stopped = (bool(entry.get("error")) and not fault_kind) or fault_kind in GATEWAY_ONLY_FAULTS
    return _journal_arrow(
        entry,
        offset_s,
        key=f"j{entry.get('id')}",
        kind="call",
        start=LANE["province"],
        end=LANE["gateway"] if stopped else lane,
        fault=fault_kind,
    )


def caller_of(entry: dict[str, Any]) -> str | None:
    """The service that made a call another service journalled (its ``X-Sandbox-Consumer`` is
    ``service:<name>``); None for a call the gateway relayed."""
    consumer = str((entry.get("request_headers") or {}).get("x-sandbox-consumer", ""))
    return consumer[len(SERVICE_CALLER_PREFIX) :] if consumer.startswith(SERVICE_CALLER_PREFIX) else None


def service_arrow(entry: dict[str, Any], service: str, offset_s: float = 0.0) -> Arrow | None:
    """A call between two platforms, from the journal of ``service`` (the one called); None for
    an entry that is not one (relayed, or an outbox delivery, drawn from the deliveries)."""
    caller = caller_of(entry)
    headers = entry.get("request_headers") or {}
    if caller not in SERVICE_LANE or service not in SERVICE_LANE or "x-sandbox-delivery-id" in headers:
        return None
    return _journal_arrow(
        entry,
        offset_s,
        key=f"s{service}{entry.get('id')}",
        kind="service",
        start=SERVICE_LANE[caller],
        end=SERVICE_LANE[service],
        fault="",
    )


def delivery_arrow(item: dict[str, Any]) -> Arrow:
    attempts = item.get("attempt_log") or []
    lines = [
        f"#{a.get('number')} {vn_time(a.get('at'), seconds=True)}  HTTP {a.get('status_code') or '—'}"
        f"  {a.get('error') or ''}\n{pretty(a.get('response_body'))}".strip()
        for a in attempts
    ]
    status = str(item.get("status", ""))
    return Arrow(
        key=f"d{item.get('id')}",
        sort_ts=float(item.get("created_ts") or 0.0),
        time=vn_time(item.get("created_ts"), seconds=True),
        kind="delivery",
        start=SERVICE_LANE.get(str(item.get("service", "")), LANE["gateway"]),
        end=SERVICE_LANE.get(DELIVERY_TO_SERVICE.get(str(item.get("kind")), ""), LANE["province"]),
        label=f"{item.get('kind')} → {item.get('target_url')}",
        status=f"{status} · {item.get('attempts')}/{item.get('max_attempts')}",
        ok=status == "delivered",
        fault="",
        request=f"POST {item.get('target_url')}\n\n{pretty(item.get('payload'))}",
        reply="\n\n".join(lines),
    )


def diagram(
    entries: list[dict[str, Any]],
    deliveries: list[dict[str, Any]],
    hide_control: bool,
    offset_s: float = 0.0,
    service_entries: dict[str, list[dict[str, Any]]] | None = None,
) -> list[Arrow]:
    """Oldest first, as a sequence diagram reads top down, on the tenant clock.
    ``service_entries``: each service's journal (by service name), for the calls between platforms
    (shown whatever their path: a platform's own API for another is often under ``/_sandbox/``)."""
    calls = [e for e in entries if not (hide_control and "/_sandbox/" in str(e.get("path", "")))]
    arrows = [call_arrow(e, offset_s) for e in calls] + [delivery_arrow(d) for d in deliveries]
    for service, journal in (service_entries or {}).items():
        arrows += [a for a in (service_arrow(e, service, offset_s) for e in journal) if a is not None]
    return sorted(arrows, key=lambda a: a.sort_ts)
