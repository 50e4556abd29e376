"""The operator's session: the tenants opened in this browser, with their consumer's
credentials, in one encrypted cookie (Fernet, key derived from ``SANDBOX_GATEWAY_SECRET``).

The cookie is ``HttpOnly``, ``SameSite=Lax`` and limited to ``/console``, so page scripts and
other sites' forms never carry it; nothing is stored on the server, so any console replica
reads it and a restart keeps the operator signed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from console.gateway import Operator

COOKIE = "vnsb_console"
#: A session is forgotten after this many seconds without use.
MAX_AGE_S = 12 * 3600


@dataclass
class Session:
    #: tenant → (client_id, client_secret)
    tenants: dict[str, tuple[str, str]] = field(default_factory=dict)

    def operator(self, tenant: str) -> Operator | None:
        creds = self.tenants.get(tenant)
        return Operator(tenant, *creds) if creds else None

    def add(self, tenant: str, client_id: str, client_secret: str, limit: int) -> None:
        self.tenants.pop(tenant, None)
        self.tenants[tenant] = (client_id, client_secret)
        while len(self.tenants) > limit:
            self.tenants.pop(next(iter(self.tenants)))


class SessionCodec:
    def __init__(self, secret: str) -> None:
        key = hmac.new(secret.encode(), b"vnsandbox console session", hashlib.sha256).digest()
        self.fernet = Fernet(base64.urlsafe_b64encode(key))

    def dumps(self, session: Session) -> str:
        data = {"t": {k: list(v) for k, v in session.tenants.items()}}
        return self.fernet.encrypt(json.dumps(data, separators=(",", ":")).encode()).decode()

    def seal(self, data: dict[str, Any]) -> str:
        """Any small JSON object, encrypted (the citizen's session, a login in progress)."""
        return self.fernet.encrypt(json.dumps(data, separators=(",", ":")).encode()).decode()

    def unseal(self, cookie: str | None, max_age_s: int = MAX_AGE_S) -> dict[str, Any]:
        if not cookie:
            return {}
        try:
            data = json.loads(self.fernet.decrypt(cookie.encode(), ttl=max_age_s))
        except (InvalidToken, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def loads(self, cookie: str | None) -> Session:
        if not cookie:
            return Session()
        try:
            data = json.loads(self.fernet.decrypt(cookie.encode(), ttl=MAX_AGE_S))
            tenants = {str(k): (str(v[0]), str(v[1])) for k, v in data["t"].items()}
        except (InvalidToken, ValueError, KeyError, TypeError, IndexError):
            return Session()
        return Session(tenants)
