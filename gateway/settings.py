"""Settings of the gateway (environment prefix ``GATEWAY_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from vnsandbox.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    port: int = 8000
    #: Where each upstream service listens.
    identity_url: str = "http://127.0.0.1:8001"
    dossier_url: str = "http://127.0.0.1:8002"
    payment_url: str = "http://127.0.0.1:8003"
    #: Seconds to open a connection to an upstream (502 when refused or unreachable).
    connect_timeout_s: float = 5.0
    #: Seconds for an upstream to answer (504 beyond it).
    upstream_timeout_s: float = 30.0
    #: Connections kept open to each upstream.
    pool_size: int = 200
    #: Largest header block accepted, in bytes (431 beyond it).
    max_header_bytes: int = 16_384
