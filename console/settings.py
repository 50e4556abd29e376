"""Settings of the console (environment prefix ``CONSOLE_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from vnsandbox.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    service_name: str = "console"
    port: int = 8004
    #: Where the console reaches the gateway (every call it makes goes there).
    gateway_url: str = "http://127.0.0.1:8000"
    #: Seconds the console waits for the gateway.
    gateway_timeout_s: float = 20.0
    #: Tenants one browser session may hold at once (their credentials live in the
    #: encrypted session cookie, which browsers cap at about 4 kB).
    max_session_tenants: int = 8
    #: Where browsers reach the officer's desk (desk/, not behind the gateway): the presenter's
    #: province steps offer to be done there. Empty: no desk (``vnsandbox up`` sets it).
    desk_url: str = ""
