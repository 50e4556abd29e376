"""``vnsandbox tenant create|delete``: a throwaway tenant for a CI job, its credentials as
JSON, text or shell exports."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from launcher.kit.client import KitError, Sandbox, add_connection, command, guarded, print_json, sandbox_of


def env_lines(sandbox: Sandbox, created: dict[str, Any]) -> list[str]:
    """``export VNSB_…=…`` lines for a shell (``eval "$(vnsandbox tenant create --env)"``). The
    VNeID issuer of a tenant is its tenant-bound VNeID link (what its discovery document states)."""
    creds = created["consumer"]["credentials"]
    links = created.get("links") or {}
    values = {
        "VNSB_URL": sandbox.url,
        "VNSB_TENANT": created["tenant"],
        "VNSB_CLIENT_ID": creds["client_id"],
        "VNSB_CLIENT_SECRET": creds["client_secret"],
        "VNSB_API_KEY": creds["api_key"],
        "VNSB_TOKEN_URL": creds.get("token_url", sandbox.url + "/oauth2/token"),
        "VNSB_VNEID_ISSUER": links.get("vneid", ""),
        "VNSB_VNEID_URL": links.get("vneid", ""),
        "VNSB_DVCQG_URL": links.get("dvcqg", ""),
        "VNSB_PAYGOV_URL": links.get("paygov", ""),
    }
    return [f"export {name}={shlex.quote(str(value))}" for name, value in values.items()]


def cmd_create(args: argparse.Namespace) -> int:
    sandbox = sandbox_of(args)
    body: dict[str, Any] = {}
    if args.name:
        body["tenant"] = args.name
    if args.description:
        body["description"] = args.description
    created = sandbox.call("POST", "/_sandbox/tenants", json=body, expect=(201,))
    if args.json:
        print_json(created)
        return 0
    lines = env_lines(sandbox, created)
    if args.env:
        print("\n".join(lines))
        return 0
    print(f"tenant {created['tenant']} created; its credentials (shown once):")
    for line in lines:
        name, value = line.removeprefix("export ").split("=", 1)
        print(f"  {name:<20} {value}")
    print(f"delete it with: vnsandbox tenant delete --tenant {created['tenant']} --api-key …")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    if not args.tenant:
        raise KitError("name the tenant: --tenant NAME or VNSB_TENANT")
    body = sandbox_of(args).call("DELETE", f"/_sandbox/tenants/{args.tenant}")
    if args.json:
        print_json(body)
    else:
        print(f"tenant {args.tenant} deleted (services reset: {str(body.get('services_reset')).lower()})")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = command(
        sub,
        "tenant",
        "create or delete a throwaway tenant",
        'eval "$(vnsandbox tenant create --env)"   # then: vnsandbox tenant delete',
    )
    actions = group.add_subparsers(dest="action", required=True)
    create = command(
        actions,
        "create",
        "create a tenant; print its credentials and links (--json, or --env for shell exports)",
        'eval "$(vnsandbox tenant create --env --url http://127.0.0.1:8000)" && echo "$VNSB_TENANT"',
    )
    create.add_argument("--name", help="the tenant's name (default: a generated t-…)")
    create.add_argument("--description", help="a note shown in the tenant list")
    form = create.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="the gateway's reply as JSON")
    form.add_argument("--env", action="store_true", help="shell exports VNSB_URL, VNSB_TENANT, VNSB_API_KEY, …")
    add_connection(create)
    create.set_defaults(func=guarded(cmd_create))
    delete = command(
        actions,
        "delete",
        "delete the tenant: its data in every service, its consumers, rules and journal",
        "vnsandbox tenant delete    # the tenant and key of $VNSB_TENANT and $VNSB_API_KEY",
    )
    delete.add_argument("--json", action="store_true", help="print the gateway's reply")
    add_connection(delete)
    delete.set_defaults(func=guarded(cmd_delete))
