"""The operator's session: the tenants opened in this browser, with their consumer's
credentials, in one sealed cookie (:mod:`vnsandbox.sealed`, key derived from ``SANDBOX_GATEWAY_SECRET``).

The cookie is ``HttpOnly``, ``SameSite=Lax`` and limited to ``/console``, so page scripts and
other sites' forms never carry it; nothing is stored on the server, so any console replica
reads it and a restart keeps the operator signed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from console.gateway import Operator
from vnsandbox.sealed import Sealer

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
        self.sealer = Sealer(secret, "vnsandbox console session")

    def dumps(self, session: Session) -> str:
        return self.seal({"t": {k: list(v) for k, v in session.tenants.items()}})

    def seal(self, data: dict[str, Any]) -> str:
        """Any small JSON object, encrypted (the citizen's session, a login in progress)."""
        return self.sealer.seal(data)

    def unseal(self, cookie: str | None, max_age_s: int = MAX_AGE_S) -> dict[str, Any]:
        return self.sealer.unseal(cookie, max_age_s)

    def loads(self, cookie: str | None) -> Session:
        try:
            tenants = {str(k): (str(v[0]), str(v[1])) for k, v in self.unseal(cookie)["t"].items()}
        except (KeyError, TypeError, IndexError, AttributeError):
            return Session()
        return Session(tenants)
