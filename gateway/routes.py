"""The gateway's route table: ``/{api}/{version}/...`` → upstream service.

| public prefix | service  | what it imitates                         |
|---------------|----------|------------------------------------------|
| ``/vneid/v1`` | identity | VNeID SSO (OIDC) and population database |
| ``/dvcqg/v1`` | dossier  | DVCQG dossier sync                       |
| ``/paygov/v1``| payment  | PayGov national payment platform         |

The prefix is removed before the call goes upstream, and passed as
``X-Forwarded-Prefix`` so the service builds its public URLs with it.

Tenant-bound links: ``/t/{tenant}/{sig}/{api}/{version}/...`` reaches the same API as the
tenant ``tenant`` (``sig`` is the gateway's HMAC of the tenant name, so a link cannot be
made up for another tenant). Calls of a consumer are relayed with the tenant-bound prefix,
so every URL a service hands out (OIDC issuer and endpoints, payment page) carries the
tenant, and a citizen's browser, which has no gateway credentials, lands in the right
tenant. Without credentials such a link opens only the browser-facing paths
(:data:`PUBLIC_PATHS`).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from gateway.settings import GatewaySettings
from vnsandbox.journal import SECRET_PATHS, Redaction

#: Browser-facing paths (after the API prefix) that need no gateway credentials: a citizen's
#: browser cannot carry a consumer's token. The services authenticate these calls themselves
#: (OAuth client secrets, access tokens, unguessable payment tokens).
PUBLIC_PATHS = {
    "identity": ("/.well-known/*", "/oauth2/*", "/static/*"),
    "payment": ("/pay/*", "/static/*"),
    "dossier": (),
}


@dataclass(frozen=True)
class Upstream:
    api: str
    version: str
    service: str
    base_url: str
    title: str
    public: tuple[str, ...] = field(default=())
    #: What the gateway's journal and log never show of this API's calls (the service's own rules).
    redaction: Redaction = field(default_factory=Redaction, compare=False)

    def is_public(self, rest: str) -> bool:
        path = rest.split("?", 1)[0]
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.public)

    @property
    def prefix(self) -> str:
        return f"/{self.api}/{self.version}"


def upstreams(settings: GatewaySettings) -> list[Upstream]:
    return [
        Upstream(
            "vneid",
            "v1",
            "identity",
            settings.identity_url.rstrip("/"),
            "VNeID SSO & population database",
            PUBLIC_PATHS["identity"],
            Redaction(SECRET_PATHS.get("identity", ())),
        ),
        Upstream(
            "dvcqg",
            "v1",
            "dossier",
            settings.dossier_url.rstrip("/"),
            "DVCQG dossier sync",
            PUBLIC_PATHS["dossier"],
            Redaction(SECRET_PATHS.get("dossier", ())),
        ),
        Upstream(
            "paygov",
            "v1",
            "payment",
            settings.payment_url.rstrip("/"),
            "PayGov payment platform",
            PUBLIC_PATHS["payment"],
            Redaction(SECRET_PATHS.get("payment", ())),
        ),
    ]
