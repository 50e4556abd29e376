"""Settings of the payment service (environment prefix ``PAYMENT_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from vnsandbox.settings import ServiceSettings


class PaymentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENT_", extra="ignore")

    service_name: str = "payment"
    port: int = 8003
