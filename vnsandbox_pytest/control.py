"""The gateway's control plane over HTTP: tenants, reset, the test clock, fault rules."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from vnsandbox_pytest.errors import ControlError, raise_for

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds_of(duration: float | str) -> float:
    """``90``, ``"90s"``, ``"15m"``, ``"1h"``, ``"2d"``, ``"1w"`` or ``"-1h"`` in seconds."""
    if isinstance(duration, int | float):
        return float(duration)
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([smhdw]?)\s*", duration)
    if not match:
        raise ValueError(f"not a duration: {duration!r} (examples: 90, 90s, 15m, 1h, 2d)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


class Clock:
    """The tenant's test clock, moved in the gateway and every service at once."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def advance(self, duration: float | str) -> dict[str, Any]:
        """Move time forward (``"1h"``, ``"2d"``, seconds): tokens, payments, webhook retries see it."""
        body: dict[str, Any] = raise_for(
            self.http.post("/_sandbox/clock", json={"advance_seconds": seconds_of(duration)})
        )
        return body

    def set_offset(self, duration: float | str) -> dict[str, Any]:
        body: dict[str, Any] = raise_for(
            self.http.post("/_sandbox/clock", json={"offset_seconds": seconds_of(duration)})
        )
        return body

    def now(self) -> dict[str, Any]:
        body: dict[str, Any] = raise_for(self.http.get("/_sandbox/clock"))
        return body

    def reset(self) -> None:
        raise_for(self.http.delete("/_sandbox/clock"))


class Faults:
    """Fault rules of the gateway (docs/gateway.md, *Fault injection*)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def add(
        self,
        kind: str,
        api: str = "*",
        path: str = "*",
        method: str | None = None,
        next_n: int | None = None,
        probability: float | None = None,
        seed: int | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """One rule, e.g. ``faults.add("error", api="dvcqg", path="/api/*", next_n=1, status=503)``."""
        body: dict[str, Any] = {"kind": kind, "api": api, "path": path, "params": params}
        optional = {"method": method, "next_n": next_n, "probability": probability, "seed": seed}
        body |= {k: v for k, v in optional.items() if v is not None}
        rule: dict[str, Any] = raise_for(self.http.post("/_sandbox/faults", json=body))
        return rule

    def list(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = raise_for(self.http.get("/_sandbox/faults"))["rules"]
        return rules

    def remove(self, rule_id: str) -> None:
        raise_for(self.http.delete(f"/_sandbox/faults/{rule_id}"))

    def clear(self) -> None:
        raise_for(self.http.delete("/_sandbox/faults"))


@dataclass
class Tenant:
    """A tenant of the sandbox with its first consumer's credentials; ``http`` carries its API key."""

    gateway_url: str
    name: str
    api_key: str
    client_id: str
    client_secret: str
    links: dict[str, str]
    http: httpx.Client = field(repr=False)

    @classmethod
    def from_reply(cls, gateway_url: str, reply: dict[str, Any], timeout_s: float) -> Tenant:
        creds = reply["consumer"]["credentials"]
        http = httpx.Client(base_url=gateway_url, headers={"X-API-Key": creds["api_key"]}, timeout=timeout_s)
        return cls(
            gateway_url, reply["tenant"], creds["api_key"], creds["client_id"], creds["client_secret"],
            dict(reply.get("links") or {}), http,
        )  # fmt: skip

    @property
    def clock(self) -> Clock:
        return Clock(self.http)

    @property
    def faults(self) -> Faults:
        return Faults(self.http)

    def reset(self) -> dict[str, Any]:
        """Wipe the tenant's data in every service, its journal, fault rules and clock (consumers stay)."""
        body: dict[str, Any] = raise_for(self.http.post("/_sandbox/reset"))
        return body

    def delete(self) -> None:
        raise_for(self.http.delete(f"/_sandbox/tenants/{self.name}"))
        self.http.close()

    def env(self) -> dict[str, str]:
        """The tenant as environment variables, for a system under test started from the test."""
        return {
            "VNSB_URL": self.gateway_url,
            "VNSB_TENANT": self.name,
            "VNSB_API_KEY": self.api_key,
            "VNSB_CLIENT_ID": self.client_id,
            "VNSB_CLIENT_SECRET": self.client_secret,
            "VNSB_VNEID_ISSUER": self.links.get("vneid", self.gateway_url + "/vneid/v1"),
        }


class Sandbox:
    """A running sandbox, reached at its gateway's URL."""

    def __init__(self, url: str, admin_key: str | None = None, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        headers = {"X-Sandbox-Admin-Key": admin_key} if admin_key else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def wait_ready(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Block until ``/_sandbox/ready`` answers 200; ``TimeoutError`` naming what is still down."""
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while True:
            try:
                resp = self.http.get("/_sandbox/ready")
                if resp.status_code == 200:
                    body: dict[str, Any] = resp.json()
                    return body
                last = f"{resp.status_code}: {resp.text[:300]}"
            except httpx.HTTPError as exc:
                last = f"{exc.__class__.__name__}: {exc}"
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the sandbox at {self.url} is not ready after {timeout_s:.0f} s ({last})")
            time.sleep(0.2)

    def create_tenant(self, name: str | None = None, **body: Any) -> Tenant:
        payload = {"tenant": name, **body} if name else body
        reply = raise_for(self.http.post("/_sandbox/tenants", json=payload))
        if not isinstance(reply, dict) or "consumer" not in reply:
            raise ControlError(200, "UNEXPECTED_REPLY", f"no consumer in the tenant reply: {reply!r}"[:300])
        return Tenant.from_reply(self.url, reply, self.timeout_s)

    def close(self) -> None:
        self.http.close()
