"""The container image: the Dockerfile passes hadolint, runs ``vnsandbox up`` on every interface
in embedded mode by default, and the same command runs the shared mode on PostgreSQL from two
variables (``SANDBOX_POSTGRES_URL``, ``SANDBOX_PUBLIC_URL``). Docker is not run here:
deploy/image-smoke.sh does that on machines that have it, and is checked with shellcheck."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import psycopg
import pytest

from launcher.shared import SharedSetupError, database_urls, derived_env, public_base_urls
from launcher.topology import GATEWAY
from tests.support import ROOT, SandboxProcesses

DOCKERFILE = (ROOT / "Dockerfile").read_text()
BIN = Path(sys.executable).parent


def _instructions(name: str) -> list[str]:
    """The arguments of every ``NAME`` instruction (continuation lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([str(BIN / "hadolint"), "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_smoke_script_passes_shellcheck() -> None:
    result = subprocess.run(
        [str(BIN / "shellcheck"), "deploy/image-smoke.sh"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_the_whole_sandbox_on_every_interface_by_default() -> None:
    [cmd] = _instructions("CMD")
    assert json.loads(cmd) == ["python", "-m", "vnsandbox", "up", "--host", "0.0.0.0"]
    assert any(str(GATEWAY.default_port) in expose.split() for expose in _instructions("EXPOSE"))


def test_image_health_check_is_the_gateways_readiness() -> None:
    [check] = _instructions("HEALTHCHECK")
    assert f"http://127.0.0.1:{GATEWAY.default_port}{GATEWAY.ready_path}" in check


def test_image_runs_as_a_numeric_non_root_user_with_its_data_in_a_volume() -> None:
    [user] = _instructions("USER")
    assert user.strip().isdigit() and user.strip() != "0"
    assert "SANDBOX_DATA_DIR=/data" in " ".join(_instructions("ENV"))
    assert _instructions("VOLUME") == ['["/data"]']


def test_public_url_gives_each_process_its_public_base() -> None:
    assert public_base_urls("https://sb.example/") == {
        "gateway": "https://sb.example",
        "identity": "https://sb.example/vneid/v1",
        "dossier": "https://sb.example/dvcqg/v1",
        "payment": "https://sb.example/paygov/v1",
        "console": "https://sb.example",
    }


def test_postgres_url_gives_each_process_its_own_database() -> None:
    urls = database_urls("postgresql://u:pw@db:5432", prefix="team_")
    assert urls["dossier"] == "postgresql://u:pw@db:5432/team_dossier"
    assert set(urls) == {"gateway", "identity", "dossier", "payment"}


def test_a_variable_set_for_one_process_wins_over_the_derived_one() -> None:
    env = {"SANDBOX_POSTGRES_URL": "postgresql://u@db", "DOSSIER_DATABASE_URL": "postgresql://u@other/mine"}
    derived = derived_env(env)
    assert "DOSSIER_DATABASE_URL" not in derived
    assert derived["PAYMENT_DATABASE_URL"] == "postgresql://u@db/vnsb_payment"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SANDBOX_PUBLIC_URL", "sandbox.example"),
        ("SANDBOX_POSTGRES_URL", "mysql://u@db"),
        ("SANDBOX_POSTGRES_PREFIX", "1x"),
    ],
)
def test_unusable_shared_variables_are_refused_naming_the_variable(variable: str, value: str) -> None:
    env = {"SANDBOX_POSTGRES_URL": "postgresql://u@db", variable: value}
    with pytest.raises(SharedSetupError, match=variable):
        derived_env(env)


def test_up_refuses_an_unusable_postgres_url_with_a_one_line_reason(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vnsandbox", "up", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "SANDBOX_POSTGRES_URL": "mysql://u:secret-pw@db"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SANDBOX_POSTGRES_URL must be a PostgreSQL server URL" in result.stderr
    assert "secret-pw" not in result.stderr


@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
def test_up_on_every_interface_links_over_loopback_and_names_localhost(tmp_path: Path) -> None:
    procs = SandboxProcesses(data_dir=tmp_path, up_args=["--host", "0.0.0.0"]).start()
    try:
        banner = "".join(procs.output)
        assert f"gateway      http://localhost:{procs.ports['gateway']}" in banner
        assert "0.0.0.0" not in banner
        with urllib.request.urlopen(procs.gateway + "/_sandbox/ready", timeout=30) as reply:
            assert reply.status == 200  # the gateway reached every service
    finally:
        procs.stop()


@pytest.mark.postgres
@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
def test_one_container_runs_the_shared_mode_on_postgres(tmp_path: Path, postgres: object) -> None:
    import os

    server = os.environ["VNSB_TEST_POSTGRES_URL"]
    prefix = "img_" + tmp_path.name[-8:].lower().replace("-", "_") + "_"
    public = "http://sandbox.test:8443"
    env = {
        "SANDBOX_MODE": "shared",
        "SANDBOX_GATEWAY_SECRET": "a-long-random-secret-for-the-image-check",
        "GATEWAY_ADMIN_KEY": "an-admin-key-for-the-image-check",
        "SANDBOX_PUBLIC_URL": public,
        "SANDBOX_POSTGRES_URL": server.rsplit("/", 1)[0],
        "SANDBOX_POSTGRES_PREFIX": prefix,
    }
    procs = SandboxProcesses(data_dir=tmp_path, env=env).start()
    try:
        banner = "".join(procs.output)
        assert "is up (shared mode, PostgreSQL)" in banner
        assert f"gateway      {public}" in banner
        with urllib.request.urlopen(procs.url("identity") + "/.well-known/openid-configuration", timeout=30) as r:
            assert json.loads(r.read())["issuer"] == public + "/vneid/v1"
    finally:
        procs.stop()
        with psycopg.connect(server, autocommit=True) as conn:
            names = [
                r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",))
            ]
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert sorted(names) == sorted(prefix + p for p in ("gateway", "identity", "dossier", "payment"))
