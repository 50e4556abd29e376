"""What ``vnsandbox up`` derives for the shared mode in one container (the image's default
command): every process's public base URL from ``SANDBOX_PUBLIC_URL`` and its PostgreSQL
database from ``SANDBOX_POSTGRES_URL``, the same values docker-compose.yml spells out one by one.

A variable set for one process (``IDENTITY_DATABASE_URL``, ``DOSSIER_PUBLIC_BASE_URL``, ...)
always wins over the derived value.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from launcher.topology import ALL, GATEWAY, GATEWAY_PREFIX, SERVICES

#: The processes that keep data (the console keeps none).
STORING = (GATEWAY, *SERVICES)

#: Database name prefix on the shared PostgreSQL server (deploy/postgres-init.sql creates
#: ``vnsb_identity``, ...); ``SANDBOX_POSTGRES_PREFIX`` lets several sandboxes share one server.
DEFAULT_PREFIX = "vnsb_"


def databases(prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """Database of each process on the shared server."""
    if not prefix.replace("_", "").isalnum() or not prefix[0].isalpha():
        raise SharedSetupError(
            f"SANDBOX_POSTGRES_PREFIX must be letters, digits and _ starting with a letter, not {prefix!r}"
        )
    return {p.name: f"{prefix}{p.name}" for p in STORING}


class SharedSetupError(ValueError):
    """``SANDBOX_PUBLIC_URL`` / ``SANDBOX_POSTGRES_URL`` cannot be used as given."""


def public_base_urls(public_url: str) -> dict[str, str]:
    """``https://sb.example`` → the gateway's and each service's public base URL."""
    base = public_url.rstrip("/")
    if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
        raise SharedSetupError(
            f"SANDBOX_PUBLIC_URL must be an http(s) URL such as https://sandbox.example, not {public_url!r}"
        )
    return {p.name: base + GATEWAY_PREFIX.get(p.name, "") for p in ALL}


def database_urls(server_url: str, prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """``postgresql://user:pw@host:5432`` → one database URL per process (``…/vnsb_identity``, …)."""
    parts = urlsplit(server_url)
    if parts.scheme not in ("postgresql", "postgresql+psycopg", "postgres") or not parts.hostname:
        raise SharedSetupError(
            f"SANDBOX_POSTGRES_URL must be a PostgreSQL server URL such as postgresql://user:password@host:5432, "
            f"not {_masked(server_url)!r}"
        )
    scheme = "postgresql" if parts.scheme == "postgres" else parts.scheme
    return {
        name: urlunsplit((scheme, parts.netloc, f"/{db}", parts.query, "")) for name, db in databases(prefix).items()
    }


def derived_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables ``up`` adds for each process, never overriding one already set."""
    derived: dict[str, str] = {}
    if public := environ.get("SANDBOX_PUBLIC_URL", "").strip():
        urls = public_base_urls(public)
        derived |= {f"{p.env_prefix}PUBLIC_BASE_URL": urls[p.name] for p in ALL}
    if server := environ.get("SANDBOX_POSTGRES_URL", "").strip():
        urls = database_urls(server, environ.get("SANDBOX_POSTGRES_PREFIX") or DEFAULT_PREFIX)
        derived |= {f"{p.env_prefix}DATABASE_URL": urls[p.name] for p in STORING}
    return {k: v for k, v in derived.items() if not environ.get(k)}


def ensure_databases(server_url: str, prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Create the processes' databases on the server when missing; the names created."""
    import psycopg

    parts = urlsplit(server_url)
    admin_db = parts.path.lstrip("/") or "postgres"
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    admin = urlunsplit((scheme, parts.netloc, f"/{admin_db}", parts.query, ""))
    created = []
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            have = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
            for db in databases(prefix).values():
                if db not in have:
                    conn.execute(f'CREATE DATABASE "{db}"')  # names are our constants
                    created.append(db)
    except psycopg.Error as exc:
        raise SharedSetupError(f"cannot prepare the databases on {_masked(server_url)}: {exc}".strip()) from exc
    return created


def _masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
