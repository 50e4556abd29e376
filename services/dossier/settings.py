"""Settings of the dossier service (environment prefix ``DOSSIER_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from vnsandbox.settings import ServiceSettings


class DossierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DOSSIER_", extra="ignore")

    service_name: str = "dossier"
    port: int = 8002
