"""Signing helpers: HMAC checksums, webhook signatures and the gateway's tenant assertion."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

_ALGORITHMS = {
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
    "sha1": hashlib.sha1,
}

TENANT_HEADER = "x-sandbox-tenant"
TENANT_SIGNATURE_HEADER = "x-sandbox-tenant-signature"
CONSUMER_HEADER = "x-sandbox-consumer"


def hmac_hex(secret: str, message: str | bytes, algorithm: str = "sha256") -> str:
    """Hex HMAC of ``message`` with ``secret`` (``sha256``, ``sha512`` or ``sha1``)."""
    try:
        digest = _ALGORITHMS[algorithm.lower().replace("hmac-", "").replace("-", "")]
    except KeyError:
        raise ValueError(f"unknown HMAC algorithm {algorithm!r}; use one of {sorted(_ALGORITHMS)}") from None
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(secret.encode(), data, digest).hexdigest()


def joined(fields: Iterable[object], separator: str = "|") -> str:
    """Join field values the way PayGov-style checksums do (``None`` as empty)."""
    return separator.join("" if f is None else str(f) for f in fields)


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def tenant_assertion(secret: str, tenant: str, request_id: str, consumer: str = "") -> str:
    """Signature the gateway adds so a service can trust the tenant it is told."""
    return hmac_hex(secret, f"{tenant}\n{consumer}\n{request_id}")


def verify_tenant_assertion(secret: str, tenant: str, request_id: str, consumer: str, signature: str) -> bool:
    return constant_time_equal(tenant_assertion(secret, tenant, request_id, consumer), signature)


#: Issuer of the gateway's self-issued access tokens (HS256 JWTs).
GATEWAY_TOKEN_ISSUER = "vnsandbox-gateway"


def gateway_token_key(gateway_secret: str) -> str:
    """The HS256 key of the gateway's access tokens, derived from the shared gateway secret,
    so services can check a gateway token presented to them directly."""
    return hmac_hex(gateway_secret, "vnsandbox-gateway-access-token")


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix>,v1=<hex hmac-sha256 of "<t>.<body>">`` (the Stripe-style scheme)."""
    mac = hmac_hex(secret, str(timestamp).encode() + b"." + body)
    return f"t={timestamp},v1={mac}"


def verify_webhook_signature(
    secret: str, header: str, body: bytes, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """Check a :func:`webhook_signature` header; reject replays outside ``tolerance_s``."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
        mac = parts["v1"]
    except (ValueError, KeyError):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    expected = hmac_hex(secret, str(ts).encode() + b"." + body)
    return constant_time_equal(expected, mac)
