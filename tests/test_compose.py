"""docker-compose.yml and the Dockerfile stay in step with the code (Docker itself is not run here)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from launcher.cli import Supervisor, _settings_classes
from launcher.topology import ALL, SERVICES, STARTED, uvicorn_args
from vnsandbox.settings import SANDBOX_ENV_VARS, env_var_names

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES_IN_COMPOSE: dict[str, Any] = COMPOSE["services"]
#: Places the code reads an unprefixed variable: _env("SANDBOX_X"), os.environ.get("SANDBOX_X"), getenv(...).
ENV_READ = re.compile(r"(?:_env|environ\.get|getenv|environ\[)\(?\s*[\"'](SANDBOX_[A-Z_]+)[\"']")
_VAR = re.compile(r"\$\{([A-Z_]+)(?::?[-?]([^}]*))?\}")


def _interpolate(value: str) -> str:
    """Compose's ${VAR:-default} / ${VAR:?message}, with test values for required ones."""

    def sub(m: re.Match[str]) -> str:
        expr = m.group(0)
        if ":?" in expr:
            return "a-long-random-secret-for-the-compose-check"
        return m.group(2) or ""

    return _VAR.sub(sub, value)


def _env(name: str) -> dict[str, str]:
    return {k: _interpolate(str(v)) for k, v in SERVICES_IN_COMPOSE[name]["environment"].items()}


def test_compose_runs_every_process_of_the_topology_and_postgres() -> None:
    assert set(SERVICES_IN_COMPOSE) == {p.name for p in ALL} | {"postgres"}


@pytest.mark.parametrize("proc", ALL, ids=lambda p: p.name)
def test_compose_command_is_the_same_uvicorn_invocation_as_vnsandbox_up(proc) -> None:
    assert SERVICES_IN_COMPOSE[proc.name]["command"] == [
        "python",
        "-m",
        "uvicorn",
        *uvicorn_args(proc, "0.0.0.0", proc.default_port),
    ]


@pytest.mark.parametrize("proc", ALL, ids=lambda p: p.name)
def test_compose_publishes_the_port_and_checks_health_on_it(proc) -> None:
    svc = SERVICES_IN_COMPOSE[proc.name]
    assert f"{proc.default_port}:{proc.default_port}" in svc["ports"]
    probe = " ".join(svc["healthcheck"]["test"])
    assert f"127.0.0.1:{proc.default_port}{proc.ready_path}" in probe


def test_the_gateway_health_check_waits_for_readiness_not_liveness(tmp_path) -> None:
    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    probe = " ".join(SERVICES_IN_COMPOSE["gateway"]["healthcheck"]["test"])
    assert "/_sandbox/ready" in probe and "/_sandbox/health" not in probe
    # urlopen raises on a non-2xx reply, so the probe fails while the gateway answers 503.
    assert "urllib.request.urlopen(" in probe
    paths = {getattr(r, "path", "") for r in create_app(GatewaySettings(data_dir=tmp_path)).control.routes}
    assert "/_sandbox/ready" in paths


@pytest.mark.parametrize("proc", ALL, ids=lambda p: p.name)
def test_compose_sets_only_variables_the_code_reads(proc) -> None:
    known = env_var_names(_settings_classes()[proc.name]) | set(SANDBOX_ENV_VARS)
    unknown = set(_env(proc.name)) - known
    assert not unknown, f"{proc.name}: compose sets variables no code reads: {sorted(unknown)}"


@pytest.mark.parametrize("proc", ALL, ids=lambda p: p.name)
def test_compose_sets_what_vnsandbox_up_sets_for_the_process(proc, tmp_path) -> None:
    sup = Supervisor("127.0.0.1", {p.name: p.default_port for p in STARTED}, tmp_path)
    wanted = {k for k in sup.env() if k.startswith(proc.env_prefix) and not k.endswith("_HOST")}
    wanted |= {k for k in sup.env() if k.startswith("SANDBOX_")}
    missing = wanted - set(_env(proc.name))
    assert not missing, f"{proc.name}: compose lacks {sorted(missing)}"


@pytest.mark.parametrize("proc", SERVICES, ids=lambda p: p.name)
def test_each_service_has_its_own_postgres_database_created_at_init(proc) -> None:
    url = _env(proc.name)[f"{proc.env_prefix}DATABASE_URL"]
    assert url.startswith("postgresql://") and "@postgres:5432/" in url
    database = url.rsplit("/", 1)[1]
    init_sql = (ROOT / "deploy/postgres-init.sql").read_text()
    assert f"CREATE DATABASE {database};" in init_sql


def test_services_reach_each_other_by_their_compose_names() -> None:
    assert _env("payment")["PAYMENT_DOSSIER_URL"] == "http://dossier:8002"
    assert _env("dossier")["DOSSIER_IDENTITY_URL"] == "http://identity:8001"


def test_gateway_reaches_each_service_by_its_compose_name() -> None:
    env = _env("gateway")
    for proc in SERVICES:
        assert env[f"GATEWAY_{proc.name.upper()}_URL"] == f"http://{proc.name}:{proc.default_port}"


@pytest.mark.parametrize("proc", ALL, ids=lambda p: p.name)
def test_compose_settings_validate_in_shared_mode(proc, monkeypatch) -> None:
    for key in list(os.environ):
        if key.startswith(("SANDBOX_", proc.env_prefix)):
            monkeypatch.delenv(key)
    for key, value in _env(proc.name).items():
        monkeypatch.setenv(key, value)
    settings = _settings_classes()[proc.name]()
    assert settings.mode == "shared"
    assert settings.require_tenant_signature is True
    assert settings.port == proc.default_port


def test_shared_mode_refuses_the_development_secret(monkeypatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("SANDBOX_MODE", "shared")
    monkeypatch.delenv("SANDBOX_GATEWAY_SECRET", raising=False)
    with pytest.raises(ValidationError, match="development secret"):
        _settings_classes()["identity"]()


def test_every_sandbox_variable_in_the_code_is_declared() -> None:
    used: set[str] = set()
    for folder in ("vnsandbox", "services", "gateway"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(ENV_READ.findall(path.read_text()))
    assert used <= set(SANDBOX_ENV_VARS), sorted(used - set(SANDBOX_ENV_VARS))


def test_dockerfile_copies_what_exists_and_pins_the_same_uv() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), f"Dockerfile copies missing {src}"
    uv_in_docker = re.search(r"uv==([\d.]+)", dockerfile)
    uv_in_script = re.search(r"UV_VERSION=([\d.]+)", (ROOT / "sandbox").read_text())
    assert uv_in_docker and uv_in_script and uv_in_docker.group(1) == uv_in_script.group(1)


@pytest.mark.parametrize("proc", ALL, ids=lambda p: p.name)
def test_compose_hands_out_the_gateways_public_urls_in_shared_mode(proc) -> None:
    from launcher.topology import GATEWAY_PREFIX

    url = _env(proc.name)[f"{proc.env_prefix}PUBLIC_BASE_URL"]
    gateway = _env("gateway")["GATEWAY_PUBLIC_BASE_URL"]
    assert url == gateway + GATEWAY_PREFIX.get(proc.name, "")
