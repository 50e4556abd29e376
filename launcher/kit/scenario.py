"""``vnsandbox scenario record|replay``: a tenant's traffic as a scenario file, and that file
replayed against a fresh tenant, asserting the same statuses and platform codes (exit 1 with a
diff when they differ). The format: launcher/kit/scenario_format.py and docs/testing.md."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import yaml

from launcher.kit import scenario_format as fmt
from launcher.kit.client import CheckFailed, KitError, Sandbox, add_connection, command, guarded, sandbox_of

HEADER = """\
# vnsandbox scenario: the calls of a tenant, in order, with the status and platform code each got.
# Replay: vnsandbox scenario replay FILE [--set name=value]  (format: docs/testing.md, "Record and replay")
# ${name} is filled at replay: ${tenant} and ${tenant_sig} from the fresh tenant, a step's `capture`
# from its reply, the rest from `variables` or --set (secrets the journal redacted).
"""


def cmd_record(args: argparse.Namespace) -> int:
    sandbox = sandbox_of(args)
    body = sandbox.call("GET", "/_sandbox/journal", params={"limit": 10_000})
    entries = list(reversed(body.get("entries", [])))
    tenant = args.tenant or next((str(e["tenant"]) for e in entries if e.get("tenant")), "")
    doc = fmt.record(entries, tenant, datetime.now(UTC).isoformat(timespec="seconds"))
    text = HEADER + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120)
    try:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise KitError(f"cannot write {args.out}: {exc.strerror}") from None
    rec = doc["recorded"]
    print(f"{rec['calls']} call(s) recorded to {args.out} ({rec['skipped']} left out)", file=sys.stderr)
    needed = [k for k, v in doc["variables"].items() if v is None]
    if needed:
        print(f"set before replaying (in the file or with --set): {', '.join(needed)}", file=sys.stderr)
    return 0


def load(path: str, overrides: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        steps = fmt.check(doc)
    except OSError as exc:
        raise KitError(f"cannot read {path}: {exc.strerror}") from None
    except (yaml.YAMLError, fmt.ScenarioError) as exc:
        raise KitError(f"{path}: {str(exc).splitlines()[0]}") from None
    variables = dict(doc.get("variables") or {})
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise KitError(f"--set wants NAME=VALUE, not {item!r}")
        variables[name] = value
    return steps, variables


def fresh_tenant(sandbox: Sandbox) -> tuple[Sandbox, dict[str, Any]]:
    created = sandbox.call("POST", "/_sandbox/tenants", json={}, expect=(201,))
    runner = Sandbox(sandbox.url, api_key=created["consumer"]["credentials"]["api_key"])
    return runner, created


def _sig(created: dict[str, Any]) -> str:
    link = urlsplit(str((created.get("links") or {}).get("vneid", ""))).path.split("/")
    return link[3] if len(link) > 3 and link[1] == "t" else ""


def run_step(runner: Sandbox, step: dict[str, Any], variables: dict[str, str]) -> tuple[int, Any, str]:
    s = fmt.substitute(step, variables)
    kwargs: dict[str, Any] = {"params": s.get("query"), "headers": s.get("headers")}
    if "json" in s:
        kwargs["json"] = s["json"]
    elif "form" in s:
        kwargs["data"] = s["form"]
    elif "text" in s:
        kwargs["content"] = str(s["text"]).encode()
    resp = runner.send(str(s["method"]), str(s["path"]), **kwargs)
    return resp.status_code, fmt.platform_code(resp.text), resp.text


def cmd_replay(args: argparse.Namespace) -> int:
    steps, variables = load(args.file, args.set or [])
    missing = fmt.unresolved(steps, variables | {"tenant": "", "tenant_sig": ""})
    if missing:
        raise KitError(f"{args.file}: give a value for {', '.join(missing)} (in 'variables' or --set NAME=VALUE)")
    runner, created = fresh_tenant(sandbox_of(args))
    values = {k: str(v) for k, v in variables.items() if v is not None}
    values |= {"tenant": created["tenant"], "tenant_sig": _sig(created)}
    diffs: list[str] = []
    try:
        for n, step in enumerate(steps, 1):
            status, code, text = run_step(runner, step, values)
            values |= fmt.captures(step, text)
            want = step["expect"]
            if status != want["status"] or code != want.get("code"):
                diffs.append(
                    f"step {n} {step['method']} {step['path']}: expected {want['status']} code {want.get('code')!r}, "
                    f"got {status} code {code!r}"
                )
    finally:
        if not args.keep_tenant:
            runner.send("DELETE", f"/_sandbox/tenants/{created['tenant']}")
        runner.close()
    for line in diffs:
        print(line, file=sys.stderr)
    if diffs:
        raise CheckFailed(f"{len(diffs)} of {len(steps)} step(s) differ from the recording")
    print(f"{len(steps)} step(s) replayed on tenant {created['tenant']}: every status and code as recorded")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = command(
        sub,
        "scenario",
        "record the tenant's calls as a scenario file; replay one against a fresh tenant",
        "vnsandbox scenario record --out province.yaml && vnsandbox scenario replay province.yaml",
    )
    actions = group.add_subparsers(dest="action", required=True)
    rec = command(
        actions,
        "record",
        "write the tenant's journal, oldest first, as a scenario file (YAML)",
        "vnsandbox scenario record --out regression/login-and-sync.yaml",
    )
    rec.add_argument("--out", required=True, help="the scenario file to write")
    add_connection(rec)
    rec.set_defaults(func=guarded(cmd_record))
    rep = command(
        actions,
        "replay",
        "run a scenario against a fresh tenant; exit 1 with a diff when a status or code differs",
        "vnsandbox scenario replay regression/login-and-sync.yaml --set secret.password=sandbox",
    )
    rep.add_argument("file", help="a scenario file written by 'scenario record'")
    rep.add_argument("--set", action="append", metavar="NAME=VALUE", help="a variable's value (repeatable)")
    rep.add_argument("--keep-tenant", action="store_true", help="do not delete the fresh tenant after")
    add_connection(rep)
    rep.set_defaults(func=guarded(cmd_replay))
