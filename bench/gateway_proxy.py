"""A proxied simple call through the gateway, against the same call made directly to the
service and against a bare uvicorn hello-world, all in the same run.

    .venv/bin/python bench/gateway_proxy.py [--seconds 6] [--concurrency 32] [--wrk]

Starts its own processes on free loopback ports: a bare ASGI hello-world, the dossier
service (temporary SQLite), and the gateway with authentication required. The proxied call
carries a bearer token (signature checked, scope checked), goes through the consumer's
token bucket (a limit high enough never to refuse) and is journalled, i.e. the gateway's
whole hot path is on. The same call direct to the service carries the tenant header
instead. Load comes from an aiohttp client in this process (or from ``wrk`` with ``--wrk``
when it is installed; ``--install-wrk`` installs the Debian package first). Prints requests
per second, p50/p99 latency and the ratios. Target: proxied ≥ 0.5 × direct.
Bounded: about 3 × (seconds + 1) + start-up, well under 60 s by default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from _harness import free_port, load, print_latency_table, start_app, start_factory, stop, wait_http

ADMIN_KEY = "bench-admin-key-0123456789"


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


def load_wrk(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    subprocess.run([*args[:3], "-d1s", url], capture_output=True, check=True)  # warm-up
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": float(rps.group(1)) if rps else float("nan"),
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "errors": float(non2xx.group(1)) if non2xx else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--wrk", action="store_true", help="load with wrk instead of the aiohttp client")
    parser.add_argument("--install-wrk", action="store_true", help="apt-get install wrk when it is missing")
    args = parser.parse_args()
    if args.install_wrk and shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
    use_wrk = (args.wrk or args.install_wrk) and shutil.which("wrk") is not None

    tmp = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    ports = {n: free_port() for n in ("hello", "dossier", "gateway")}
    dossier = f"http://127.0.0.1:{ports['dossier']}"
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    procs = [
        start_app("bench.gateway_hello:app", ports["hello"]),
        start_factory(
            "services.dossier.app:create_app",
            ports["dossier"],
            {"DOSSIER_DATABASE_URL": f"sqlite:///{tmp}/dossier.db", "SANDBOX_DATA_DIR": str(tmp)},
        ),
        start_factory(
            "gateway.app:create_app",
            ports["gateway"],
            {
                "GATEWAY_DOSSIER_URL": dossier,
                "GATEWAY_DATABASE_URL": f"sqlite:///{tmp}/gateway.db",
                "GATEWAY_REQUIRE_AUTH": "true",
                "GATEWAY_ADMIN_KEY": ADMIN_KEY,
                "SANDBOX_DATA_DIR": str(tmp),
            },
        ),
    ]
    try:
        wait_http(f"http://127.0.0.1:{ports['hello']}/")
        wait_http(dossier + "/_sandbox/health")
        wait_http(gateway + "/_sandbox/version")
        token = token_for(gateway)
        cases = {
            "hello (bare ASGI)": (f"http://127.0.0.1:{ports['hello']}/", {}),
            "direct service": (dossier + "/_sandbox/version", {"x-sandbox-tenant": "bench"}),
            "through gateway": (gateway + "/dvcqg/v1/_sandbox/version", {"authorization": f"Bearer {token}"}),
        }
        results: dict[str, dict[str, float]] = {}
        for name, (url, headers) in cases.items():
            if use_wrk:
                results[name] = load_wrk(url, headers, args.seconds, args.concurrency)
            else:
                results[name] = asyncio.run(load(url, headers, args.seconds, args.concurrency))
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)

    tool = "wrk -t1" if use_wrk else "aiohttp client"
    print(f"GET, {args.concurrency} connections, {args.seconds:.0f} s each, load from {tool} on the same machine\n")
    print_latency_table(results, 20)
    hello, direct, proxied = (results[n]["rps"] for n in cases)
    ratio = proxied / direct
    print()
    print(f"through gateway / direct service : {ratio:.2f}×  (target ≥ 0.5×: {'met' if ratio >= 0.5 else 'NOT met'})")
    print(f"through gateway / bare hello     : {proxied / hello:.2f}×")
    print(f"direct service / bare hello      : {direct / hello:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
