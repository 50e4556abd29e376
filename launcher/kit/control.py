"""``vnsandbox wait``, ``reset`` and ``clock``: readiness, a clean slate, the test clock."""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

from launcher.kit.client import CheckFailed, KitError, add_connection, command, guarded, print_json, sandbox_of

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``1h30m``, ``2d`` → seconds (argparse type: a bad one exits 2)."""
    value = text.strip().lower()
    sign = -1.0 if value.startswith("-") else 1.0
    value = value.lstrip("+-")
    try:
        return sign * float(value)
    except ValueError:
        pass
    parts = DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90, 90s, 15m, 1h30m, 2d)")
    return sign * sum(float(n) * UNITS[u] for n, u in parts)


def cmd_wait(args: argparse.Namespace) -> int:
    sandbox = sandbox_of(args)
    sandbox.timeout = min(5.0, max(0.5, args.interval * 4))
    deadline = time.monotonic() + args.timeout
    last = "no answer yet"
    while True:
        try:
            resp = sandbox.client.get("/_sandbox/ready")
            body: Any = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
            if resp.status_code == 200:
                services = ", ".join(sorted((body or {}).get("services", {}))) or "every upstream"
                print(f"ready: {sandbox.url} ({services})")
                return 0
            down = ", ".join(body.get("down", [])) if isinstance(body, dict) else ""
            last = f"HTTP {resp.status_code}" + (f", not ready: {down}" if down else "")
        except Exception as exc:
            last = f"unreachable ({exc.__class__.__name__})"
        if time.monotonic() >= deadline:
            raise CheckFailed(f"{sandbox.url} not ready after {args.timeout:g} s: {last}")
        time.sleep(min(args.interval, max(0.0, deadline - time.monotonic())))


def cmd_reset(args: argparse.Namespace) -> int:
    body = sandbox_of(args).call("POST", "/_sandbox/reset")
    failed = {name: s.get("status") for name, s in body.get("services", {}).items() if s.get("status") != 200}
    if args.json:
        print_json(body)
    if failed:
        raise CheckFailed(f"tenant {body.get('tenant')} not reset in: {failed}")
    if not args.json:
        print(f"reset tenant {body.get('tenant')}: every service, journal and fault rules")
    return 0


def cmd_clock(args: argparse.Namespace) -> int:
    sandbox = sandbox_of(args)
    if args.action == "show":
        body = sandbox.call("GET", "/_sandbox/clock")
    elif args.action == "reset":
        body = sandbox.call("DELETE", "/_sandbox/clock")
    else:
        if args.amount is None:
            raise KitError(f"clock {args.action} needs an amount, e.g. 'clock {args.action} 1h'")
        key = "advance_seconds" if args.action == "advance" else "offset_seconds"
        body = sandbox.call("POST", "/_sandbox/clock", json={key: args.amount})
    if args.json:
        print_json(body)
    else:
        print(
            f"tenant {body.get('tenant')}: clock offset {body.get('offset_seconds', 0):g} s, now {body.get('now', '')}"
        )
    if body.get("in_sync") is False:
        raise CheckFailed("the clock did not move in every service: " + str(body.get("services")))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    wait = command(
        sub,
        "wait",
        "wait until the sandbox and every upstream are ready (exit 1 with the reason after --timeout)",
        "vnsandbox wait --url http://127.0.0.1:8000 --timeout 60",
    )
    wait.add_argument("--timeout", type=duration, default=60.0, help="give up after this long (default 60 s)")
    wait.add_argument("--interval", type=duration, default=0.5, help="between tries (default 0.5 s)")
    add_connection(wait)
    wait.set_defaults(func=guarded(cmd_wait))

    reset = command(
        sub,
        "reset",
        "wipe the tenant's data in every service, its journal, fault rules and clock (consumers stay)",
        'eval "$(vnsandbox tenant create --env)" && vnsandbox reset',
    )
    reset.add_argument("--json", action="store_true", help="print the gateway's reply")
    add_connection(reset)
    reset.set_defaults(func=guarded(cmd_reset))

    clock = command(
        sub,
        "clock",
        "show, advance, set or reset the tenant's test clock in the gateway and every service",
        "vnsandbox clock advance 1h30m     # also: clock show, clock set 2d, clock reset",
    )
    clock.add_argument("action", choices=("show", "advance", "set", "reset"))
    clock.add_argument("amount", nargs="?", type=duration, help="advance: how far (1h, 2d); set: the offset")
    clock.add_argument("--json", action="store_true", help="print the gateway's reply")
    add_connection(clock)
    clock.set_defaults(func=guarded(cmd_clock))
