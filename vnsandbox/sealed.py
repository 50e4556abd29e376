"""Sealed cookies: a small JSON object encrypted and signed (Fernet: AES-CBC with an HMAC-SHA256
tag) with a key derived from a secret and a purpose, so a browser can carry credentials it can
neither read nor change, and a server keeps no session of its own (any replica, or the same
process after a restart, reads the cookie).

The console keeps its operator's tenants and the citizen's login in one; the officer's desk keeps
the officer's tenant there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class Sealer:
    """Seals and opens small JSON objects; ``purpose`` keeps one application's cookies from
    opening as another's even when both are given the same secret."""

    def __init__(self, secret: str, purpose: str) -> None:
        key = hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()
        self.fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, data: dict[str, Any]) -> str:
        return self.fernet.encrypt(json.dumps(data, separators=(",", ":")).encode()).decode()

    def unseal(self, sealed: str | None, max_age_s: int) -> dict[str, Any]:
        """The object, or ``{}`` when missing, forged, changed, or older than ``max_age_s``."""
        if not sealed:
            return {}
        try:
            data = json.loads(self.fernet.decrypt(sealed.encode(), ttl=max_age_s))
        except (InvalidToken, ValueError):
            return {}
        return data if isinstance(data, dict) else {}
