"""The desk's connection to the platforms (environment prefix ``DESK_``).

The defaults are the embedded sandbox's development accounts (docs/*.md), so ``vnsandbox up``
starts a desk that works at once; a province sets its own.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DeskSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESK_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8005
    #: Where the desk keeps its own queue and error log (SQLite, as a small province system would).
    data_dir: Path = Path("var/data")
    #: The gateway (LGSP/NGSP) every platform is reached through.
    gateway_url: str = "http://127.0.0.1:8000"
    #: The gateway consumer's credentials, which decide the tenant: its API key, or its client id and
    #: secret (``client_credentials`` token from the gateway). All empty: the embedded mode's open
    #: gateway, tenant ``default``. An officer may sign in to another tenant on the desk's sign-in page.
    api_key: str = ""
    gateway_client_id: str = ""
    gateway_client_secret: str = ""
    #: DVCQG unit account (the embedded mode's development unit).
    unit: str = "000.00.01.H22"
    unit_username: str = "sandbox"
    unit_password: str = "sandbox"
    #: VNeID client registered for ``population:verify`` (client_credentials).
    client_id: str = "vnsandbox-dev"
    client_secret: str = "vnsandbox-dev-secret"
    #: PayGov partner.
    partner: str = "SANDBOX"
    partner_secret: str = "sandbox-paygov-secret"
    #: Days between receipt and the promised return date (NgayHenTra) the desk sets on receipt.
    processing_days: int = 5
    #: The officer's name on progress records.
    officer: str = "Trần Thị Bình"
    officer_title: str = "Chuyên viên"
    department: str = "Bộ phận một cửa"
    #: Key of the officer's session cookie (the tenant signed in to, with its credentials, sealed).
    #: Empty: a random key for this process (officers sign in again after a restart).
    session_secret: str = ""
    #: Tenants whose connections and stores the desk keeps open at once (the least recently used
    #: one is let go beyond it; its store stays on disk).
    max_open_tenants: int = Field(16, ge=1, le=1000)
