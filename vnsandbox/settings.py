"""Settings base shared by every service.

Each service subclasses :class:`ServiceSettings` with its own environment prefix
(``IDENTITY_``, ``DOSSIER_``, ``PAYMENT_``, ``GATEWAY_``). A handful of settings are
common to the whole sandbox and read without a prefix (``SANDBOX_MODE``,
``SANDBOX_DATA_DIR``, ``SANDBOX_GATEWAY_SECRET``, ...), so one variable configures
every process the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vnsandbox.bounds import DEFAULT_MAX_JSON_DEPTH, MAX_JSON_DEPTH_LIMIT
from vnsandbox.outbound import Mode, OutboundPolicy

#: Secret used in the embedded development mode only; refused in ``shared`` mode.
DEV_GATEWAY_SECRET = "vnsandbox-dev-gateway-secret"


#: Variables every process reads without a prefix (kept in one place so deployment files can be checked).
SANDBOX_ENV_VARS = (
    "SANDBOX_MODE",
    "SANDBOX_DATA_DIR",
    "SANDBOX_GATEWAY_SECRET",
    "SANDBOX_REQUIRE_TENANT_SIGNATURE",
    "SANDBOX_LOG_LEVEL",
    "SANDBOX_HOST",
    "SANDBOX_CALLBACK_ALLOW",
    # Read by `vnsandbox up` only (launcher/shared.py): one container running every process.
    "SANDBOX_PUBLIC_URL",
    "SANDBOX_POSTGRES_URL",
    "SANDBOX_POSTGRES_PREFIX",
)


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def sandbox_mode() -> Mode:
    mode = _env("SANDBOX_MODE", "embedded")
    if mode not in ("embedded", "shared"):
        raise ValueError(f"SANDBOX_MODE must be 'embedded' or 'shared', not {mode!r}")
    return mode  # type: ignore[return-value]


def default_data_dir() -> Path:
    return Path(_env("SANDBOX_DATA_DIR", "var/data"))


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses set ``model_config`` with their prefix."""

    model_config = SettingsConfigDict(extra="ignore")

    #: Logical service name (``identity``, ``dossier``, ``payment``, ``gateway``).
    service_name: str = "service"
    mode: Mode = Field(default_factory=sandbox_mode)
    data_dir: Path = Field(default_factory=default_data_dir)
    #: SQLAlchemy URL. Empty means the embedded SQLite file ``<data_dir>/<service>.db``.
    database_url: str = ""
    #: Base URL under which callers reach this service, used in every URL the service
    #: hands out (issuer, payment page, ...) to calls not relayed by the gateway (those
    #: follow the gateway's signed ``X-Forwarded-*``). Required in the shared mode; empty in
    #: the embedded mode: derived from the request and any ``X-Forwarded-*`` it carries.
    #: The gateway's own one also shapes the ``X-Forwarded-*`` it sends the services.
    public_base_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    #: Largest request body accepted, in bytes (413 beyond it).
    max_body_bytes: int = 1_048_576
    #: Deepest nesting of arrays/objects accepted in a JSON body (400 ``JSON_TOO_DEEP`` beyond it).
    max_json_depth: int = Field(DEFAULT_MAX_JSON_DEPTH, ge=1, le=MAX_JSON_DEPTH_LIMIT)
    #: Seconds a client has to send the whole request body once its headers arrived
    #: (408 ``REQUEST_TIMEOUT`` beyond it), so a body that never ends holds nothing for long.
    body_read_timeout_s: float = Field(10.0, gt=0, le=3600)
    #: Entries kept in this process's request journal (a ring buffer).
    journal_size: int = 2000
    #: Request/response bodies are kept in the journal up to this many bytes.
    journal_body_bytes: int = 16_384
    #: Shared secret between the gateway and the services: signs the tenant assertion.
    gateway_secret: str = Field(default_factory=lambda: _env("SANDBOX_GATEWAY_SECRET", DEV_GATEWAY_SECRET))
    #: When true, a service accepts a tenant only with a valid gateway signature, so a
    #: caller that reaches a service directly cannot pick another tenant's data.
    require_tenant_signature: bool = Field(
        default_factory=lambda: _env("SANDBOX_REQUIRE_TENANT_SIGNATURE", "false").lower() in ("1", "true", "yes")
    )
    #: Loopback and private networks / host names callbacks may reach in the shared mode
    #: (comma-separated CIDRs and host names; see vnsandbox/outbound.py). The embedded mode
    #: reaches them anyway; link-local and cloud-metadata addresses are refused in every mode.
    callback_allow: str = Field(default_factory=lambda: _env("SANDBOX_CALLBACK_ALLOW", ""))
    log_level: str = Field(default_factory=lambda: _env("SANDBOX_LOG_LEVEL", "INFO"))
    #: Log one structured line per request.
    log_requests: bool = True

    @model_validator(mode="after")
    def _refuse_dev_secret_when_shared(self) -> ServiceSettings:
        if self.mode == "shared" and self.gateway_secret == DEV_GATEWAY_SECRET:
            raise ValueError(
                "SANDBOX_GATEWAY_SECRET is the built-in development secret; set a real secret when SANDBOX_MODE=shared"
            )
        OutboundPolicy.parse(self.mode, self.callback_allow)  # a bad entry stops the process at start
        if self.mode == "shared" and not self.public_base_url:
            var = f"{self.model_config.get('env_prefix', '')}PUBLIC_BASE_URL"
            raise ValueError(
                f"{var} must be set when SANDBOX_MODE=shared: the URLs this process hands out (OIDC issuer, "
                "payment page, links) come from it for every call not relayed by the gateway"
            )
        if self.public_base_url and not self.public_base_url.startswith(("http://", "https://")):
            raise ValueError("public_base_url must be an http:// or https:// URL")
        if self.max_body_bytes < 1024:
            raise ValueError("max_body_bytes must be at least 1024")
        return self

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / f'{self.service_name}.db').as_posix()}"


def env_var_names(settings_cls: type[ServiceSettings]) -> set[str]:
    """Every environment variable a settings class reads (prefix + field name)."""
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in settings_cls.model_fields}
