"""``vnsandbox deliveries listen --forward URL``: the tenant's webhooks and notices, fetched from
the sandbox and posted again to a local URL (as ``stripe listen`` does), so a laptop the sandbox
cannot reach still receives them.

The listener polls the gateway's merged outboxes (``GET /_sandbox/deliveries``: DVCQG webhooks,
PayGov notices) and the DVCQG portal inbox (``GET /dvcqg/v1/_sandbox/inbox``: events of units
without a webhook URL, which never become deliveries), and posts each new one once, oldest first,
with the headers the sandbox sends: ``X-Sandbox-Delivery-Id``, ``X-Sandbox-Event``,
``X-Sandbox-Event-Id`` and, with ``--secret``, ``X-Sandbox-Signature`` signed with that secret
(the sandbox's own signature uses the unit's or partner's secret, which the listener does not see).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field

import httpx

from launcher.kit.client import CheckFailed, Sandbox, add_connection, check_url, command, guarded, sandbox_of
from launcher.kit.control import duration
from vnsandbox.signing import webhook_signature

#: Service-to-service messages inside the sandbox, not the province's (forwarded only when asked for by --kind).
INTERNAL_KINDS = frozenset({"dossier.payment"})


@dataclass
class Event:
    id: str
    kind: str
    body: str
    at: str
    headers: dict[str, str] = field(default_factory=dict)


def _deliveries(sandbox: Sandbox) -> list[Event]:
    body = sandbox.call("GET", "/_sandbox/deliveries", params={"limit": 10_000})
    out = []
    for d in body.get("deliveries", []):
        payload = str(d.get("payload") or "")
        headers = {"X-Sandbox-Delivery-Id": str(d["id"]), "X-Sandbox-Event": str(d.get("kind"))}
        try:
            event_id = json.loads(payload).get("event_id")
        except (ValueError, AttributeError):
            event_id = None
        if event_id:
            headers["X-Sandbox-Event-Id"] = str(event_id)
        out.append(Event(str(d["id"]), str(d.get("kind")), payload, str(d.get("created_at") or ""), headers))
    return out


def _inbox(sandbox: Sandbox) -> list[Event]:
    resp = sandbox.send("GET", "/dvcqg/v1/_sandbox/inbox", params={"limit": 10_000})
    if resp.status_code != 200:
        return []  # no dossier service: deliveries only
    out = []
    for item in resp.json().get("data", []):
        if item.get("delivery_id") or not isinstance(item.get("payload"), dict):
            continue  # sent by webhook: forwarded as its delivery
        payload = json.dumps(item["payload"], ensure_ascii=False, separators=(",", ":"))
        headers = {"X-Sandbox-Event": str(item.get("event")), "X-Sandbox-Event-Id": str(item["event_id"])}
        out.append(Event(str(item["event_id"]), str(item.get("event")), payload, "", headers))
    return out


def poll(sandbox: Sandbox) -> list[Event]:
    """Every event the tenant has now, oldest first."""
    events = sorted(_deliveries(sandbox), key=lambda e: e.at) + _inbox(sandbox)
    return events


def forward(client: httpx.Client, url: str, event: Event, tenant: str | None, secret: str | None) -> str:
    body = event.body.encode()
    headers = {"Content-Type": "application/json", "User-Agent": "vnsandbox-listen", **event.headers}
    if tenant:
        headers["X-Sandbox-Tenant"] = tenant
    if secret:
        headers["X-Sandbox-Signature"] = webhook_signature(secret, int(time.time()), body)
    try:
        resp = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"not delivered ({exc.__class__.__name__})"
    return f"{resp.status_code}"


def cmd_listen(args: argparse.Namespace) -> int:
    sandbox = sandbox_of(args)
    target = check_url(args.forward)
    kinds = set(args.kind or ())

    def wanted(kind: str) -> bool:
        return kind in kinds if kinds else kind not in INTERNAL_KINDS

    seen: set[str] = set() if args.include_existing else {e.id for e in poll(sandbox)}
    print(f"listening on {sandbox.url}, forwarding to {target} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    forwarded = 0
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    with httpx.Client(timeout=10) as client:
        while True:
            for event in poll(sandbox):
                if event.id in seen:
                    continue
                seen.add(event.id)
                if not wanted(event.kind):
                    continue
                outcome = forward(client, target, event, sandbox.tenant, args.secret)
                print(f"{event.kind} {event.id} → {target} {outcome}", flush=True)
                forwarded += 1
                if args.max_events and forwarded >= args.max_events:
                    return 0
            if deadline is not None and time.monotonic() >= deadline:
                if args.max_events:
                    raise CheckFailed(f"{forwarded} of {args.max_events} event(s) forwarded in {args.timeout:g} s")
                return 0
            time.sleep(args.interval)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = command(
        sub,
        "deliveries",
        "receive the tenant's webhooks and notices on this machine",
        "vnsandbox deliveries listen --forward http://localhost:9000/hook",
    )
    actions = group.add_subparsers(dest="action", required=True)
    listen = command(
        actions,
        "listen",
        "poll the sandbox for the tenant's new webhooks and notices and post each to --forward",
        "vnsandbox deliveries listen --forward http://localhost:9000/hook --secret whsec_local\n"
        "vnsandbox deliveries listen --forward http://localhost:9000/hook --kind dossier.filed \\\n"
        "    --max-events 1 --timeout 60",
    )
    listen.add_argument("--forward", required=True, help="local URL each event is posted to")
    listen.add_argument("--kind", action="append", help="only this kind (repeatable): dossier.filed, payment.notice, …")
    listen.add_argument("--secret", help="sign forwarded events with this secret (X-Sandbox-Signature)")
    listen.add_argument("--include-existing", action="store_true", help="also forward the events already there")
    listen.add_argument("--max-events", type=int, default=0, help="stop after forwarding this many (0: never)")
    listen.add_argument("--timeout", type=duration, help="stop after this long; with --max-events, exit 1 if short")
    listen.add_argument("--interval", type=duration, default=1.0, help="between polls (default 1 s)")
    add_connection(listen)
    listen.set_defaults(func=guarded(cmd_listen))
