"""Settings of the gateway (environment prefix ``GATEWAY_``).

Beyond the common settings: the gateway's own database (``GATEWAY_DATABASE_URL``,
default SQLite ``<data_dir>/gateway.db``) for tenants, consumers and fault rules, the
admin key of the control plane, and whether calls must carry credentials.
"""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from vnsandbox.settings import ServiceSettings

#: Admin key used in the embedded development mode only; refused in ``shared`` mode.
DEV_ADMIN_KEY = "vnsandbox-dev-admin-key"


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    port: int = 8000
    #: Where each upstream service listens.
    identity_url: str = "http://127.0.0.1:8001"
    dossier_url: str = "http://127.0.0.1:8002"
    payment_url: str = "http://127.0.0.1:8003"
    #: Where the training console listens (``/console/...`` is relayed there).
    console_url: str = "http://127.0.0.1:8004"
    #: Seconds to open a connection to an upstream (502 when refused or unreachable).
    connect_timeout_s: float = 5.0
    #: Seconds for an upstream to answer (504 beyond it).
    upstream_timeout_s: float = 30.0
    #: Connections kept open to each upstream.
    pool_size: int = 200
    #: Largest header block accepted, in bytes (431 beyond it).
    max_header_bytes: int = 16_384
    #: Longest status or header line accepted in an upstream's reply, in bytes (a longer
    #: one is ``502 UPSTREAM_HEADER_TOO_LARGE``). An OIDC redirect carries the client's
    #: whole ``state``, so this is well above the usual 8190.
    max_upstream_header_bytes: int = Field(65_536, ge=8190, le=1_048_576)

    #: Calls must carry a token or API key. ``None`` (unset): true in ``shared`` mode,
    #: false in ``embedded`` mode, where anonymous calls use the open ``default`` tenant.
    require_auth: bool | None = None
    #: Key of the control plane's administrator (``X-Sandbox-Admin-Key``).
    admin_key: str = DEV_ADMIN_KEY
    #: Anyone may create a throwaway tenant (``POST /_sandbox/tenants``) and receive its
    #: first consumer's credentials; when false only the administrator may.
    self_service_tenants: bool = True
    #: Most tenants the gateway keeps (409 beyond it).
    max_tenants: int = 1000
    #: Lifetime of the access tokens the token endpoint issues, in seconds.
    token_ttl_s: int = 3600
    #: Seconds between reloads of tenants, consumers and fault rules from the database
    #: (changes made through another replica are seen within this delay).
    config_refresh_s: float = 2.0
    #: Journal retention: newest entries kept per tenant, and how many tenants' journals
    #: are kept (the least recently used tenant's journal is dropped beyond it).
    journal_size: int = 2000
    journal_max_tenants: int = 200

    #: Keep the journal, the quota buckets and the fault rules' counters in the database,
    #: shared by every replica. ``None`` (unset): when the database is PostgreSQL.
    shared_state: bool | None = None
    #: Shared journal: seconds between batched writes, entries that trigger a write at once,
    #: oldest entry kept (seconds), and how long a read waits for other replicas' batches
    #: (``None``: twice the flush interval; only when another replica is alive).
    journal_flush_s: float = Field(0.1, gt=0, le=5)
    journal_flush_batch: int = Field(500, ge=1)
    journal_max_age_s: float = Field(86_400.0, gt=0)
    journal_settle_s: float | None = Field(None, ge=0, le=10)
    #: Shared quotas: seconds of the consumer's rate a replica leases from the shared bucket at once.
    quota_lease_s: float = Field(0.1, ge=0, le=5)

    def shares_state(self, dialect: str) -> bool:
        """Whether the journal, quotas and fault counters live in the database (``dialect``)."""
        return dialect == "postgresql" if self.shared_state is None else self.shared_state

    @property
    def auth_required(self) -> bool:
        return self.mode == "shared" if self.require_auth is None else self.require_auth

    @model_validator(mode="after")
    def _shared_mode_needs_auth(self) -> GatewaySettings:
        if self.mode == "shared" and self.require_auth is False:
            raise ValueError("GATEWAY_REQUIRE_AUTH=false is only allowed in the embedded mode")
        if self.mode == "shared" and self.admin_key == DEV_ADMIN_KEY:
            raise ValueError(
                "GATEWAY_ADMIN_KEY is the built-in development key; set a real key when SANDBOX_MODE=shared"
            )
        if len(self.admin_key) < 16:
            raise ValueError("GATEWAY_ADMIN_KEY must be at least 16 characters")
        return self
