"""Settings of the payment service (environment prefix ``PAYMENT_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from vnsandbox.pdf import DEJAVU_SANS
from vnsandbox.settings import ServiceSettings
from vnsandbox.vn.banks import BANK_CODES_CSV

#: Credentials of the built-in development partner (embedded mode only; documented in docs/payment.md).
DEV_PARTNER_CODE = "SANDBOX"
DEV_PARTNER_SECRET = "sandbox-paygov-secret"


class PaymentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENT_", extra="ignore")

    service_name: str = "payment"
    port: int = 8003
    #: Seconds a pending payment waits for the citizen before it expires (test-clock time).
    payment_ttl_s: float = 900.0
    #: Where the dossier service listens (payment → dossier link).
    dossier_url: str = "http://127.0.0.1:8002"
    #: Built-in development partner, available to every tenant in embedded mode only.
    dev_partner_code: str = DEV_PARTNER_CODE
    dev_partner_secret: str = DEV_PARTNER_SECRET
    dev_partner_notice_url: str = ""
    dev_partner_return_url: str = ""
    #: Result-notice retries: exponential backoff base × 2^(n-1) capped at max, test-clock seconds.
    notice_retry_base_s: float = 2.0
    notice_retry_max_s: float = 300.0
    notice_max_attempts: int = 8
    #: Seconds to wait for the partner's answer to one notice.
    notice_timeout_s: float = 5.0
    #: Real seconds a worker owns a notice it is sending; after a crash it is sent again after this.
    notice_lease_s: float = 30.0
    #: How often the outbox worker looks for due notices (seconds).
    outbox_interval_s: float = 0.5
    #: How often expired pending payments are swept (seconds).
    expiry_interval_s: float = 1.0
    #: Longest delay the ``init_slow`` switch may impose (seconds).
    max_slow_s: float = 30.0
    bank_codes_file: Path = BANK_CODES_CSV
    font_file: Path = DEJAVU_SANS

    @model_validator(mode="after")
    def _check_payment(self) -> PaymentSettings:
        if self.payment_ttl_s <= 0:
            raise ValueError("payment_ttl_s must be positive")
        if self.notice_max_attempts < 1:
            raise ValueError("notice_max_attempts must be at least 1")
        return self

    @property
    def dev_partner_enabled(self) -> bool:
        return self.mode == "embedded"
