"""Webhook signature schemes: the sandbox's own ``X-Sandbox-Signature`` and Standard Webhooks.

A dossier unit and a PayGov partner choose one with ``signature_scheme``:

- ``sandbox`` (default): ``X-Sandbox-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
  keyed with the secret as written (:func:`vnsandbox.signing.webhook_signature`);
- ``standard-webhooks``: the three headers of https://www.standardwebhooks.com/ —
  ``webhook-id`` (the delivery's id, the same on every retry), ``webhook-timestamp`` (unix
  seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`` — so
  off-the-shelf libraries (``standardwebhooks`` for Python, Node, Java, .NET, Go, …) verify them.

Standard Webhooks keys are bytes, written ``whsec_<base64>``. A secret of that form (strict
base64) is decoded; any other secret (a PayGov partner's checksum secret, an older unit secret)
is used as its UTF-8 bytes. :func:`published_secret` gives the ``whsec_…`` form a verifying
library needs in either case; units and partners show it as ``standard_webhooks_secret``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from vnsandbox.signing import webhook_signature

SANDBOX = "sandbox"
STANDARD_WEBHOOKS = "standard-webhooks"
SCHEMES = (SANDBOX, STANDARD_WEBHOOKS)
SANDBOX_HEADER = "X-Sandbox-Signature"
#: The outbox's ``signature_header`` value that selects the Standard Webhooks scheme.
STANDARD_HEADER = "webhook-signature"
PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh secret that both schemes accept as written: ``whsec_`` and 24 random bytes in base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def key_bytes(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks scheme for ``secret`` (see the module's note)."""
    if secret.startswith(PREFIX):
        try:
            key = base64.b64decode(secret[len(PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if key:
            return key
    return secret.encode()


def published_secret(secret: str) -> str:
    """The ``whsec_<base64>`` secret to give a Standard Webhooks library."""
    return PREFIX + base64.b64encode(key_bytes(secret)).decode()


def header_for(scheme: str | None) -> str:
    """The outbox ``signature_header`` of a scheme."""
    return STANDARD_HEADER if scheme == STANDARD_WEBHOOKS else SANDBOX_HEADER


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(key_bytes(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signature_headers(signature_header: str, secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers that sign one delivery attempt, in the scheme its ``signature_header`` names."""
    if signature_header.lower() == STANDARD_HEADER:
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
        }
    return {signature_header: webhook_signature(secret, timestamp, body)}


def verify_standard(secret: str, headers: dict[str, str], body: bytes, tolerance_s: int = 300, now: float = 0) -> bool:
    """Check Standard Webhooks headers (names in any case) against ``body``; ``now`` in unix seconds."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id, ts = lower["webhook-id"], int(lower["webhook-timestamp"])
        offered = lower["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if now and abs(now - ts) > tolerance_s:
        return False
    expected = standard_signature(secret, msg_id, ts, body)
    return any(hmac.compare_digest(expected, sig) for sig in offered)
