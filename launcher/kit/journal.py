"""``vnsandbox journal verify|export``: assert on the tenant's calls (exit 1 with the near
misses), or save them as HAR 1.2 or NDJSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from launcher.kit import har
from launcher.kit.client import (
    CheckFailed,
    KitError,
    add_connection,
    command,
    guarded,
    print_json,
    reason_of,
    sandbox_of,
)

#: The journal keeps at most this many calls per tenant; an export asks for all of them.
EXPORT_LIMIT = 10_000
FILTERS = ("method", "path", "path_prefix", "path_glob", "status", "consumer", "api", "fault", "since")


def header_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"--header wants NAME:TEXT, not {text!r}")
    return name.strip(), value.strip()


def criteria(args: argparse.Namespace) -> dict[str, Any]:
    out = {
        k: getattr(args, k) for k in (*FILTERS, "body_contains", "response_contains") if getattr(args, k) is not None
    }
    if args.header:
        out["headers"] = dict(args.header)
    return out


def describe(miss: dict[str, Any]) -> list[str]:
    lines = [
        f"  {miss.get('method')} {miss.get('path')} → {miss.get('status')}  (at {miss.get('time')}, "
        f"request id {miss.get('request_id')})"
    ]
    for d in miss.get("differences", []):
        lines.append(f"      {d['field']}: expected {d['expected']!r}, was {d['actual']!r}")
    return lines


def cmd_verify(args: argparse.Namespace) -> int:
    sandbox = sandbox_of(args)
    query = criteria(args) | {"expected": args.count, "max_near_misses": args.near_misses}
    resp = sandbox.send("POST", "/_sandbox/journal/verify", json=query)
    if resp.status_code not in (200, 409):
        raise KitError(f"POST /_sandbox/journal/verify answered {resp.status_code}: {reason_of(resp)}")
    body = resp.json()
    if args.json:
        print_json(body)
    if resp.status_code == 200:
        if not args.json:
            print(f"ok: {body['count']} matching call(s), as expected")
        return 0
    if not args.json:
        print(f"mismatch: {body['count']} matching call(s), expected {args.count}", file=sys.stderr)
        misses = body.get("near_misses") or []
        print("closest calls:" if misses else "no calls recorded for this tenant", file=sys.stderr)
        for miss in misses:
            print("\n".join(describe(miss)), file=sys.stderr)
    raise CheckFailed(f"{body['count']} call(s) matched, {args.count} expected")


def cmd_export(args: argparse.Namespace) -> int:
    sandbox = sandbox_of(args)
    params = {k: getattr(args, k) for k in FILTERS if getattr(args, k, None) is not None}
    body = sandbox.call("GET", "/_sandbox/journal", params=params | {"limit": EXPORT_LIMIT})
    entries = list(reversed(body.get("entries", [])))  # oldest first
    if args.format == "har":
        text = json.dumps(har.document(entries, sandbox.url), indent=2, ensure_ascii=False) + "\n"
    else:
        text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
    if args.out in (None, "-"):
        sys.stdout.write(text)
    else:
        try:
            with open(args.out, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            raise KitError(f"cannot write {args.out}: {exc.strerror}") from None
        print(f"{len(entries)} call(s) written to {args.out} ({args.format})", file=sys.stderr)
    return 0


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", help="HTTP method (POST)")
    parser.add_argument("--path", help="the exact path (/dvcqg/v1/api/CapNhatTienDoHoSoMC)")
    parser.add_argument("--path-prefix", help="paths starting with this")
    parser.add_argument("--path-glob", help="paths matching this glob (/dvcqg/v1/api/*)")
    parser.add_argument("--status", type=int, help="HTTP status")
    parser.add_argument("--consumer", help="the consumer's client id")
    parser.add_argument("--api", choices=("vneid", "dvcqg", "paygov"))
    parser.add_argument("--fault", help="an injected fault kind, 'any' or 'none'")
    parser.add_argument("--since", help="ISO-8601 time: calls at or after it")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = command(
        sub,
        "journal",
        "check or export the tenant's calls recorded by the gateway",
        "vnsandbox journal verify --method POST --path /dvcqg/v1/api/login --count 1",
    )
    actions = group.add_subparsers(dest="action", required=True)
    verify = command(
        actions,
        "verify",
        "exit 0 when exactly --count calls match, else exit 1 printing the closest calls and how they differ",
        "vnsandbox journal verify --method POST --path /dvcqg/v1/api/CapNhatTienDoHoSoMC \\\n"
        "    --body-contains 000.00.01.H22-240915-12345 --count 1",
    )
    _filters(verify)
    verify.add_argument("--body-contains", help="text the request body contains")
    verify.add_argument("--response-contains", help="text the reply body contains")
    verify.add_argument(
        "--header", type=header_pair, action="append", metavar="NAME:TEXT", help="a request header containing TEXT"
    )
    verify.add_argument("--count", type=int, default=1, help="how many calls must match, exactly (default 1)")
    verify.add_argument(
        "--near-misses",
        type=int,
        default=3,
        choices=range(0, 51),
        metavar="N",
        help="how many closest calls a mismatch shows (0-50, default 3)",
    )
    verify.add_argument("--json", action="store_true", help="print the gateway's reply")
    add_connection(verify)
    verify.set_defaults(func=guarded(cmd_verify))

    export = command(
        actions,
        "export",
        "write the tenant's calls, oldest first, as HAR 1.2 (browser dev tools, HTTP tools) or NDJSON",
        "vnsandbox journal export --format har --out calls.har",
    )
    export.add_argument("--format", choices=("har", "ndjson"), default="har")
    export.add_argument("--out", help="file to write (default: standard output)")
    _filters(export)
    add_connection(export)
    export.set_defaults(func=guarded(cmd_export))
