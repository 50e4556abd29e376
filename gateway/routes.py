"""The gateway's route table: ``/{api}/{version}/...`` → upstream service.

| public prefix | service  | what it imitates                         |
|---------------|----------|------------------------------------------|
| ``/vneid/v1`` | identity | VNeID SSO (OIDC) and population database |
| ``/dvcqg/v1`` | dossier  | DVCQG dossier sync                       |
| ``/paygov/v1``| payment  | PayGov national payment platform         |

The prefix is removed before the call goes upstream, and passed as
``X-Forwarded-Prefix`` so the service builds its public URLs with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.settings import GatewaySettings


@dataclass(frozen=True)
class Upstream:
    api: str
    version: str
    service: str
    base_url: str
    title: str

    @property
    def prefix(self) -> str:
        return f"/{self.api}/{self.version}"


def upstreams(settings: GatewaySettings) -> list[Upstream]:
    return [
        Upstream("vneid", "v1", "identity", settings.identity_url.rstrip("/"), "VNeID SSO & population database"),
        Upstream("dvcqg", "v1", "dossier", settings.dossier_url.rstrip("/"), "DVCQG dossier sync"),
        Upstream("paygov", "v1", "payment", settings.payment_url.rstrip("/"), "PayGov payment platform"),
    ]
