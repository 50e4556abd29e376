"""What every kit command shares: the sandbox's address and credentials, one HTTP call with
its failures turned into exit codes, and the parser details (examples in ``--help``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
#: Exit codes: a check that did not hold, and bad input (usage, unreachable sandbox, refused call).
FAILED, BAD_INPUT = 1, 2


class KitError(Exception):
    """Ends a command with ``exit_code`` and a one-line reason on stderr."""

    def __init__(self, reason: str, exit_code: int = BAD_INPUT) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code


class CheckFailed(KitError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, FAILED)


@dataclass
class Sandbox:
    """A running sandbox reached through its gateway, as one tenant. Its connections are closed
    when the command ends (:func:`guarded`)."""

    url: str
    api_key: str | None = None
    token: str | None = None
    admin_key: str | None = None
    tenant: str | None = None
    timeout: float = 30.0
    _client: httpx.Client | None = field(default=None, repr=False)

    def headers(self) -> dict[str, str]:
        out = {"user-agent": "vnsandbox-cli"}
        if self.api_key:
            out["x-api-key"] = self.api_key
        if self.token:
            out["authorization"] = f"Bearer {self.token}"
        if self.admin_key:
            out["x-sandbox-admin-key"] = self.admin_key
        if self.tenant:
            out["x-sandbox-tenant"] = self.tenant
        return out

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.url, headers=self.headers(), timeout=self.timeout)
            _OPEN.sandboxes.append(self)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call; an unreachable sandbox is bad input (exit 2)."""
        try:
            return self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise KitError(f"cannot reach the sandbox at {self.url}: {exc.__class__.__name__}: {exc}") from None

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        """One call whose status must be in ``expect``; its JSON body (refusals exit 2 with the sandbox's reason)."""
        resp = self.send(method, path, **kwargs)
        if resp.status_code not in expect:
            raise KitError(f"{method} {path} answered {resp.status_code}: {reason_of(resp)}")
        try:
            return resp.json()
        except ValueError:
            raise KitError(f"{method} {path} answered {resp.status_code} without JSON") from None


class _Opened(threading.local):
    """Sandboxes whose connections the running command opened (per thread: commands may run side by side)."""

    def __init__(self) -> None:
        self.sandboxes: list[Sandbox] = []


_OPEN = _Opened()


def reason_of(resp: httpx.Response) -> str:
    """The sandbox's own one-line reason (English message, OAuth description, or the text)."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200].replace("\n", " ") or resp.reason_phrase
    if isinstance(body, dict):
        for key in ("message_en", "error_description", "message", "detail"):
            if body.get(key):
                code = body.get("error_code") or body.get("error")
                return f"{code}: {body[key]}" if code is not None else str(body[key])
    return json.dumps(body, ensure_ascii=False)[:200]


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise KitError(f"--url must be an http(s) URL such as {DEFAULT_URL}, not {url!r}")
    return url.rstrip("/")


def sandbox_of(args: argparse.Namespace) -> Sandbox:
    return Sandbox(
        url=check_url(args.url),
        api_key=args.api_key,
        token=args.token,
        admin_key=args.admin_key,
        tenant=args.tenant,
    )


def add_connection(parser: argparse.ArgumentParser) -> None:
    """``--url`` and the credentials, each defaulting to its ``VNSB_*`` variable."""
    env = os.environ.get
    group = parser.add_argument_group("sandbox and credentials (default: the VNSB_* variables)")
    group.add_argument("--url", default=env("VNSB_URL", DEFAULT_URL), help=f"gateway URL ($VNSB_URL, {DEFAULT_URL})")
    group.add_argument("--api-key", default=env("VNSB_API_KEY"), help="the tenant's API key ($VNSB_API_KEY)")
    group.add_argument("--token", default=env("VNSB_TOKEN"), help="a gateway access token ($VNSB_TOKEN)")
    group.add_argument("--admin-key", default=env("VNSB_ADMIN_KEY"), help="the administrator key ($VNSB_ADMIN_KEY)")
    group.add_argument(
        "--tenant",
        default=env("VNSB_TENANT"),
        help="the tenant ($VNSB_TENANT; without credentials the open embedded gateway uses it, else 'default')",
    )


Command = Callable[[argparse.Namespace], int]


def guarded(fn: Command) -> Command:
    """Run a command; a :class:`KitError` becomes its exit code and one line on stderr."""

    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except KitError as exc:
            print(f"vnsandbox {args.command}: {exc.reason}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            return 130
        finally:
            while _OPEN.sandboxes:
                _OPEN.sandboxes.pop().close()

    return run


def command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, example: str
) -> argparse.ArgumentParser:
    """A sub-command whose ``--help`` ends with its example."""
    return sub.add_parser(
        name,
        help=summary,
        description=summary,
        epilog="example:\n  " + example.replace("\n", "\n  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))
