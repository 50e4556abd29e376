"""The identity provider's token endpoint against the RSA-2048 signing limit of one core, both
measured in the same run.

    .venv/bin/python bench/identity_tokens.py [--seconds 4] [--quick] [--only NAME] [--out FILE]

Starts the identity service (temporary SQLite, per-request logging off) on a free loopback port
and loads ``POST /oauth2/token`` (``client_credentials``, ``client_secret_basic``, the development
client) directly: every reply is a freshly signed RS256 access token. The anchor is how many
RS256 signatures (RSA-2048, PKCS#1 v1.5, SHA-256, with ``cryptography``) one core makes per second
in this process, right after; a token endpoint cannot go faster than that on one worker.

Row: ``identity.token`` (≥ 0.5× the signing limit).
"""

from __future__ import annotations

import base64
import sys
import time

from _harness import free_port, measure, running, scratch, start_factory
from _table import Options, Row, at_least, standalone

NAMES = ["identity.token"]
TENANT = "bench"
CLIENT = ("vnsandbox-dev", "vnsandbox-dev-secret")


def rsa_signs_per_second(seconds: float) -> float:
    """RS256 signatures of a token-sized message per second on one core (warm-up excluded)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b"x" * 600  # header.payload of an access token, base64url
    for _ in range(20):
        key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(10):
            key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        done += 10
    return done / (time.perf_counter() - started)


def rows(opts: Options) -> list[Row]:
    if not opts.wants_any(NAMES):
        return []
    with scratch("identity") as tmp:
        port = free_port()
        identity = f"http://127.0.0.1:{port}"
        env = {
            "IDENTITY_DATABASE_URL": f"sqlite:///{tmp}/identity.db",
            "IDENTITY_SEED_PEOPLE": "50",
            "IDENTITY_LOG_REQUESTS": "false",
            "SANDBOX_DATA_DIR": str(tmp),
        }
        basic = "Basic " + base64.b64encode(f"{CLIENT[0]}:{CLIENT[1]}".encode()).decode()
        headers = {
            "x-sandbox-tenant": TENANT,
            "authorization": basic,
            "content-type": "application/x-www-form-urlencoded",
        }
        with running([start_factory("services.identity.app:create_app", port, env)], [identity + "/_sandbox/health"]):
            got = measure(opts, identity + "/oauth2/token", headers, "POST", b"grant_type=client_credentials")
        limit = rsa_signs_per_second(opts.seconds)
    title = "token endpoint (client_credentials), direct"
    return [
        Row(
            "identity.token",
            title,
            got.rps,
            "tokens/s",
            limit,
            "RSA-2048 signs of one core",
            at_least(0.5),
            got.tool,
            anchor_unit="signs/s",
            problem=got.problem,
        )
    ]


if __name__ == "__main__":
    sys.exit(standalone(rows, __doc__))
