"""Settings of the dossier service (environment prefix ``DOSSIER_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from vnsandbox.settings import ServiceSettings

#: Credentials of the development unit that exists in every tenant in embedded mode.
DEV_UNIT_CODE = "000.00.01.H22"
DEV_UNIT_NAME = "Đơn vị phát triển (sandbox)"
DEV_UNIT_USERNAME = "sandbox"
DEV_UNIT_PASSWORD = "sandbox"
DEV_UNIT_API_KEY = "dvcqg-dev-unit-key"


class DossierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DOSSIER_", extra="ignore")

    service_name: str = "dossier"
    port: int = 8002

    #: Largest number of dossiers / progress records in one DongBoHoSoMC or
    #: CapNhatTienDoHoSoMC call (code 26 beyond it).
    batch_max: int = 500
    #: Lifetime of a session token from ``/api/login``, in test-clock seconds.
    session_ttl_s: int = 1800
    #: ``strict`` rejects an illegal status transition; ``lenient`` applies it with a warning.
    #: A unit's own setting and the ``lenient_transitions`` switch override it.
    transition_mode: Literal["strict", "lenient"] = "strict"
    #: Fee consistency with the catalogue: ``strict`` rejects, ``warn`` warns, ``off`` skips.
    fee_check: Literal["strict", "warn", "off"] = "strict"
    #: How far (seconds) a record's own times may run ahead of the tenant's test clock before
    #: they are refused as being in the future (code 28): room for a province's clock drift.
    future_tolerance_s: int = 300
    #: Check that the owner's CCCD is present in the population database (identity service).
    check_population: bool = False
    #: Base URL of the identity service, used when ``check_population`` is on.
    identity_url: str = "http://127.0.0.1:8001"
    #: Path template of the identity service's population look-up (``{number}`` is the CCCD);
    #: 200 means present, 404 means absent, anything else (or no answer) refuses the record
    #: with code 32. The call carries the gateway's tenant signature. The default is the
    #: identity service's persona control endpoint, which needs no client token and sees the
    #: tenant's population.
    identity_lookup_path: str = "/_sandbox/personas/{number}"
    #: Payment service the portal opens fee payments on (status 6), as a PayGov partner.
    payment_url: str = "http://127.0.0.1:8003"
    #: The portal's partner code and secret on the payment service (its development partner
    #: by default, which exists in embedded mode only).
    payment_partner: str = "SANDBOX"
    payment_secret: str = "sandbox-paygov-secret"
    #: Webhook delivery to provinces: retries with exponential backoff (test-clock seconds).
    webhook_base_s: float = 2.0
    webhook_max_s: float = 300.0
    webhook_max_attempts: int = 8
    webhook_timeout_s: float = 5.0
    #: Real seconds a worker owns a delivery it claimed; after that a restarted or other
    #: replica takes it over (at-least-once).
    webhook_lease_s: float = 60.0
    #: How often the outbox worker looks for due deliveries (seconds).
    outbox_interval_s: float = 0.5
    #: Create the development unit in every tenant (embedded mode only).
    dev_unit: bool = True

    @model_validator(mode="after")
    def _check_limits(self) -> DossierSettings:
        if self.batch_max < 1:
            raise ValueError("batch_max must be at least 1")
        if self.session_ttl_s < 1:
            raise ValueError("session_ttl_s must be at least 1")
        if self.future_tolerance_s < 0:
            raise ValueError("future_tolerance_s must not be negative")
        return self

    @property
    def dev_unit_enabled(self) -> bool:
        return self.dev_unit and self.mode == "embedded"
