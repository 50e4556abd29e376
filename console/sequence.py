"""The tenant's message flow as a sequence diagram: the gateway's journal (province → gateway →
platform and the reply back) and the platforms' outgoing deliveries (webhooks and payment
notices back to the province), in time order. Pure: what the templates draw."""

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


def call_arrow(entry: dict[str, Any], offset_s: float = 0.0) -> Arrow:
    """A relayed call. The gateway journals real time; ``offset_s`` (the tenant clock's current
    offset) puts it on the tenant clock, where the platforms' deliveries already are."""
    fault = entry.get("fault") or {}
    fault_kind = str(fault.get("kind", "")) if isinstance(fault, dict) else ""
    lane = LANE.get(str(entry.get("api", "")), LANE["gateway"])
    stopped = (bool(entry.get("error")) and not fault_kind) or fault_kind in GATEWAY_ONLY_FAULTS
    status = entry.get("status")
    query = f"?{entry['query']}" if entry.get("query") else ""
    headers = "\n".join(f"{k}: {v}" for k, v in (entry.get("request_headers") or {}).items())
    request = f"{entry.get('method')} {entry.get('path')}{query}\n{headers}\n\n{pretty(entry.get('request_body'))}"
    reply = f"HTTP {status}  ({entry.get('duration_ms')} ms)"
    if entry.get("error"):
        reply += f"  [{entry['error']}]"
    reply += "\n\n" + pretty(entry.get("response_body"))
    when = as_datetime(entry.get("time"))
    if when is not None:
        when += timedelta(seconds=offset_s)
    return Arrow(
        key=f"j{entry.get('id')}",
        sort_ts=when.timestamp() if when else 0.0,
        time=vn_time(when, seconds=True),
        kind="call",
        start=LANE["province"],
        end=LANE["gateway"] if stopped else lane,
        label=f"{entry.get('method')} {entry.get('path')}",
        status=str(status),
        ok=isinstance(status, int) and status < 400,
        fault=fault_kind,
        request=request.strip(),
        reply=reply.strip(),
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
        end=LANE["province"],
        label=f"{item.get('kind')} → {item.get('target_url')}",
        status=f"{status} · {item.get('attempts')}/{item.get('max_attempts')}",
        ok=status == "delivered",
        fault="",
        request=f"POST {item.get('target_url')}\n\n{pretty(item.get('payload'))}",
        reply="\n\n".join(lines),
    )


def diagram(
    entries: list[dict[str, Any]], deliveries: list[dict[str, Any]], hide_control: bool, offset_s: float = 0.0
) -> list[Arrow]:
    """Oldest first, as a sequence diagram reads top down, on the tenant clock."""
    calls = [e for e in entries if not (hide_control and "/_sandbox/" in str(e.get("path", "")))]
    arrows = [call_arrow(e, offset_s) for e in calls] + [delivery_arrow(d) for d in deliveries]
    return sorted(arrows, key=lambda a: a.sort_ts)
