"""The gateway relaying to a bare ASGI upstream, against a bare FastAPI hello-world and against a
minimal aiohttp reverse proxy to the same upstream, all in the same run.

    .venv/bin/python bench/gateway_proxy.py [--seconds 4] [--quick] [--only NAME] [--out FILE]

Starts its own processes on free loopback ports: the bare ASGI upstream (``bench/gateway_hello.py``),
the FastAPI hello-world, the gateway (temporary SQLite, authentication required, the upstream as
its DVCQG service) and the aiohttp proxy (``bench/aiohttp_proxy.py``). The relayed call carries a
bearer token (signature and scope checked), goes through the consumer's token bucket (a limit high
enough never to refuse) and is journalled: the gateway's whole hot path is on.

Rows: ``gateway.relay`` (target ≥ 0.45× the hello-world) and ``gateway.aiohttp-proxy`` (reference).
"""

from __future__ import annotations

import json
import sys
import urllib.parse
import urllib.request

from _harness import ROOT, fastapi_hello, free_port, measure, running, scratch, spawn, start_app, start_factory
from _table import Options, Row, at_least, standalone

ADMIN_KEY = "bench-admin-key-0123456789"
NAMES = ["gateway.relay", "gateway.aiohttp-proxy"]


def post_json(url: str, body: object, headers: dict[str, str]) -> dict[str, object]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json", **headers}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        out: dict[str, object] = json.loads(resp.read())
        return out


def token_for(gateway: str) -> str:
    """A throwaway tenant whose consumer has a quota that never refuses, and its token."""
    created = post_json(
        gateway + "/_sandbox/tenants",
        {"quota": {"rate_per_second": 1_000_000, "burst": 1_000_000}},
        {"x-sandbox-admin-key": ADMIN_KEY},
    )
    creds = created["consumer"]["credentials"]  # type: ignore[index]
    form = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"]}
    ).encode()
    with urllib.request.urlopen(urllib.request.Request(gateway + "/oauth2/token", data=form), timeout=10) as resp:
        token: str = json.loads(resp.read())["access_token"]
        return token


def rows(opts: Options) -> list[Row]:
    if not opts.wants_any(NAMES):
        return []
    with scratch("gateway") as tmp:
        ports = {n: free_port() for n in ("upstream", "gateway", "proxy")}
        upstream = f"http://127.0.0.1:{ports['upstream']}"
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        proxy = f"http://127.0.0.1:{ports['proxy']}"
        gateway_env = {
            "GATEWAY_DOSSIER_URL": upstream,
            "GATEWAY_DATABASE_URL": f"sqlite:///{tmp}/gateway.db",
            "GATEWAY_REQUIRE_AUTH": "true",
            "GATEWAY_ADMIN_KEY": ADMIN_KEY,
            "GATEWAY_LOG_REQUESTS": "false",
            "SANDBOX_DATA_DIR": str(tmp),
        }
        procs = [
            start_app("bench.gateway_hello:app", ports["upstream"]),
            start_factory("gateway.app:create_app", ports["gateway"], gateway_env),
        ]
        proxy_cmd = [sys.executable, str(ROOT / "bench" / "aiohttp_proxy.py"), str(ports["proxy"]), upstream]
        if opts.wants("gateway.aiohttp-proxy"):
            procs.append(spawn(proxy_cmd, {}))
        ready = [upstream + "/", gateway + "/_sandbox/version"] + ([proxy + "/"] if len(procs) == 3 else [])
        out: list[Row] = []
        with running(procs, ready), fastapi_hello() as hello_url:
            token = token_for(gateway)
            hello = measure(opts, hello_url)
            label = "FastAPI hello"
            if opts.wants("gateway.relay"):
                got = measure(opts, gateway + "/dvcqg/v1/hello", {"authorization": f"Bearer {token}"})
                title = "gateway relaying to a bare ASGI upstream (token, quota, journal)"
                out.append(
                    Row(
                        "gateway.relay",
                        title,
                        got.rps,
                        "req/s",
                        hello.rps,
                        label,
                        at_least(0.45),
                        got.tool,
                        problem=got.problem,
                    )
                )
            if opts.wants("gateway.aiohttp-proxy"):
                got = measure(opts, proxy + "/hello")
                title = "reference: minimal aiohttp proxy to the same upstream"
                out.append(
                    Row(
                        "gateway.aiohttp-proxy",
                        title,
                        got.rps,
                        "req/s",
                        hello.rps,
                        label,
                        None,
                        got.tool,
                        problem=got.problem,
                    )
                )
    return out


if __name__ == "__main__":
    sys.exit(standalone(rows, __doc__))
