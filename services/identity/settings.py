"""Settings of the identity service (environment prefix ``IDENTITY_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from vnsandbox.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    service_name: str = "identity"
    port: int = 8001
