"""The identity provider's hot calls and a service's health probe, direct, as ratios to a bare
FastAPI hello-world measured side by side in one run; the token endpoint also against the RSA-2048
signing limit of one core, measured in the same run.

    .venv/bin/python bench/identity_direct.py [--seconds 5] [--concurrency 32] [--aiohttp]

Starts its own processes on free loopback ports: the bare FastAPI hello-world
(``bench.payment_hello:app``), the identity service and the dossier service (temporary SQLite
each, one uvicorn worker). Loads each call in turn with ``wrk`` (1 thread, ``--concurrency``
connections) when it is installed, else with the aiohttp client of ``_harness``:

- ``GET /.well-known/openid-configuration`` and ``GET /oauth2/jwks`` of the identity service;
- ``GET /_sandbox/health`` of the dossier service;
- ``POST /oauth2/token`` (``client_credentials``, ``client_secret_basic``, tenant ``bench``).

The signing limit is RS256 signatures of an access token's claims per second in this process,
one thread, with the key already loaded (what one core can sign at best). Prints requests per
second, latency, each ratio and its target. Bounded: about 5 × (seconds + 1) + start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _harness import free_port, load, print_latency_table, start_app, start_factory, stop, wait_http

CLIENT = ("vnsandbox-dev", "vnsandbox-dev-secret")
TOKEN_FORM = b"grant_type=client_credentials&scope=population%3Averify"
#: call → (target ratio, what it is a ratio to).
TARGETS = {
    "discovery direct": (1.0, "hello"),
    "jwks direct": (1.0, "hello"),
    "dossier health": (0.7, "hello"),
    "token direct": (0.5, "signing limit"),
}


def load_wrk(
    url: str, headers: dict[str, str], seconds: float, concurrency: int, method: str, body: bytes | None, tmp: Path
) -> dict[str, float]:
    """``wrk -t1`` on one request (a Lua script sets the method and body), after a second of warm-up."""
    script = tmp / f"{uuid.uuid4().hex}.lua"
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f'wrk.body = "{body.decode()}"')
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    args = ["wrk", "-t1", f"-c{concurrency}", "--latency", "-s", str(script)]
    subprocess.run([*args, "-d1s", url], capture_output=True, check=True)
    out = subprocess.run([*args, f"-d{max(1, round(seconds))}s", url], capture_output=True, text=True, check=True)

    def ms(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)\b", out.stdout)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out.stdout)
    errors = float(non2xx.group(1)) if non2xx else 0.0
    total = rps and float(rps.group(1))
    seconds_run = max(1, round(seconds))
    return {
        "rps": (total - errors / seconds_run) if total else float("nan"),
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "errors": errors,
    }


def signing_limit(seconds: float) -> float:
    """RS256 signatures per second of one thread with a loaded 2048-bit key."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {
        "iss": "http://127.0.0.1:8001",
        "sub": CLIENT[0],
        "aud": CLIENT[0],
        "client_id": CLIENT[0],
        "scope": "population:verify",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": uuid.uuid4().hex,
    }
    headers = {"kid": "k", "typ": "at+jwt"}
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        jwt.encode(claims, key, algorithm="RS256", headers=headers)
        count += 1
    return count / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--aiohttp", action="store_true", help="load with the aiohttp client even when wrk is there")
    args = parser.parse_args()
    use_wrk = not args.aiohttp and shutil.which("wrk") is not None

    tmp = Path(tempfile.mkdtemp(prefix="identity-direct-bench-"))
    ports = {n: free_port() for n in ("hello", "identity", "dossier")}
    hello = f"http://127.0.0.1:{ports['hello']}"
    identity = f"http://127.0.0.1:{ports['identity']}"
    dossier = f"http://127.0.0.1:{ports['dossier']}"
    procs = [
        start_app("bench.payment_hello:app", ports["hello"]),
        start_factory(
            "services.identity.app:create_app",
            ports["identity"],
            {
                "IDENTITY_DATABASE_URL": f"sqlite:///{tmp}/identity.db",
                "IDENTITY_SEED_PEOPLE": "100",
                "SANDBOX_DATA_DIR": str(tmp),
            },
        ),
        start_factory(
            "services.dossier.app:create_app",
            ports["dossier"],
            {"DOSSIER_DATABASE_URL": f"sqlite:///{tmp}/dossier.db", "SANDBOX_DATA_DIR": str(tmp)},
        ),
    ]
    basic = "Basic " + base64.b64encode(f"{CLIENT[0]}:{CLIENT[1]}".encode()).decode()
    cases: dict[str, tuple[str, str, dict[str, str], bytes | None]] = {
        "hello (bare FastAPI)": ("GET", hello + "/hello", {}, None),
        "discovery direct": ("GET", identity + "/.well-known/openid-configuration", {}, None),
        "jwks direct": ("GET", identity + "/oauth2/jwks", {}, None),
        "dossier health": ("GET", dossier + "/_sandbox/health", {}, None),
        "token direct": (
            "POST",
            identity + "/oauth2/token",
            {
                "x-sandbox-tenant": "bench",
                "authorization": basic,
                "content-type": "application/x-www-form-urlencoded",
            },
            TOKEN_FORM,
        ),
    }
    results: dict[str, dict[str, float]] = {}
    try:
        wait_http(hello + "/hello")
        wait_http(identity + "/_sandbox/health")
        wait_http(dossier + "/_sandbox/health")
        for name, (method, url, headers, body) in cases.items():
            if use_wrk:
                results[name] = load_wrk(url, headers, args.seconds, args.concurrency, method, body, tmp)
            else:
                results[name] = asyncio.run(load(url, headers, args.seconds, args.concurrency, method, body))
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)
    limit = signing_limit(min(args.seconds, 3.0))

    tool = "wrk -t1" if use_wrk else "aiohttp client"
    print(f"{args.concurrency} connections, {args.seconds:.0f} s each, load from {tool} on the same machine\n")
    print_latency_table(results, 22)
    print(f"\nRS256 signing limit of one core: {limit:.0f} signatures/s\n")
    anchors = {"hello": results["hello (bare FastAPI)"]["rps"], "signing limit": limit}
    for name, (target, anchor) in TARGETS.items():
        ratio = results[name]["rps"] / anchors[anchor]
        mark = "✓" if ratio >= target else "✗"
        print(f"{name:<18} / {anchor:<14}: {ratio:6.3f}×  (target ≥ {target}×) {mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
