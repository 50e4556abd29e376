"""Settings of the identity service (environment prefix ``IDENTITY_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from vnsandbox.settings import ServiceSettings

#: The built-in development client of the embedded mode (documented, fixed credentials).
DEV_CLIENT_ID = "vnsandbox-dev"
DEV_CLIENT_SECRET = "vnsandbox-dev-secret"
DEV_REDIRECT_URIS = (
    "http://localhost:3000/callback",
    "http://127.0.0.1:3000/callback",
    "http://localhost:8080/callback",
    "http://127.0.0.1:8080/callback",
    "https://oauth.pstmn.io/v1/callback",
)
DEV_POST_LOGOUT_REDIRECT_URIS = ("http://localhost:3000/", "http://127.0.0.1:3000/", "http://localhost:8080/")


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    service_name: str = "identity"
    port: int = 8001

    #: People generated into the shared base population at first start (0: none).
    seed_people: int = Field(2000, ge=0)
    #: Seed of the base population: the same seed gives the same people.
    seed: int = 20260101
    #: Largest ``people`` accepted by ``POST /_sandbox/seed`` (the CLI has no limit).
    seed_max_people: int = Field(100_000, ge=1)
    #: Create the built-in development client (``vnsandbox-dev``); default: embedded mode only.
    dev_client: bool | None = None

    authorization_code_ttl_seconds: int = Field(60, ge=1)
    #: A browser's login session at the provider lasts this long (then the login page again).
    session_ttl_seconds: int = Field(8 * 3600, ge=1)
    access_token_ttl_seconds: int = Field(3600, ge=1)
    id_token_ttl_seconds: int = Field(3600, ge=1)
    refresh_token_ttl_seconds: int = Field(86_400, ge=1)
    #: Refuse ``code_challenge_method=plain`` (only S256) for every client.
    pkce_require_s256: bool = False
    #: Largest batch of the population verification API (413 beyond it).
    verify_batch_limit: int = Field(100, ge=1)
    #: Delay of the SLOW_APPROVAL switch when its params give none, and the most it may be.
    slow_approval_default_seconds: float = 3.0
    slow_approval_max_seconds: float = 30.0
    #: How often expired codes and tokens are deleted, and how long after expiry they are kept.
    purge_interval_seconds: float = Field(3600.0, gt=0)
    purge_after_seconds: int = Field(7 * 86_400, ge=0)

    def dev_client_enabled(self) -> bool:
        return self.mode == "embedded" if self.dev_client is None else self.dev_client
