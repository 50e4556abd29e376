"""The ``vnsandbox`` command line: configuration check and clean stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.support import ROOT, SandboxProcesses, pid_alive


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SANDBOX_", "GATEWAY_", "IDENTITY_", "DOSSIER_", "PAYMENT_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "vnsandbox", *args],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_config_accepts_the_embedded_defaults() -> None:
    result = _run("check-config")
    assert result.returncode == 0, result.stderr
    assert "[gateway]" in result.stdout and "[identity]" in result.stdout
    assert "check-config: ok" in result.stderr


def test_check_config_masks_secrets_and_database_passwords() -> None:
    result = _run(
        "check-config",
        "--json",
        DOSSIER_DATABASE_URL="postgresql://sync:pw-9981@db:5432/dossier",
        SANDBOX_GATEWAY_SECRET="very-secret-value-123",
    )
    assert result.returncode == 0, result.stderr
    assert "pw-9981" not in result.stdout and "very-secret-value-123" not in result.stdout
    assert "postgresql://***@db:5432/dossier" in result.stdout


def test_check_config_refuses_development_secret_in_shared_mode() -> None:
    result = _run("check-config", SANDBOX_MODE="shared")
    assert result.returncode == 2
    assert "development secret" in result.stderr


def test_check_config_names_an_invalid_value() -> None:
    result = _run("check-config", PAYMENT_PORT="eighty")
    assert result.returncode == 2
    assert "payment: port" in result.stderr


@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
def test_ctrl_c_stops_every_process(tmp_path) -> None:
    procs = SandboxProcesses(data_dir=tmp_path).start()
    pids = [procs.pid_of(name) for name in ("identity", "dossier", "payment")]
    assert procs.proc is not None
    procs.proc.send_signal(signal.SIGINT)
    assert procs.proc.wait(30) == 0
    procs.stop()
    assert not any(pid_alive(p) for p in pids)
    assert "vnsandbox: stopped" in "".join(procs.output)


@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
def test_up_prints_the_development_accounts(sandbox: SandboxProcesses) -> None:
    banner = "".join(sandbox.output)
    assert "client_id=vnsandbox-dev" in banner and "client_secret=vnsandbox-dev-secret" in banner
    assert "MaDonVi=000.00.01.H22" in banner
    assert "MaDoiTac=SANDBOX" in banner


def test_up_waits_for_the_gateway_to_be_ready_before_its_banner(monkeypatch, tmp_path) -> None:
    from launcher import cli
    from launcher.topology import STARTED

    class Running:
        returncode = None

        def poll(self) -> None:
            return None

    asked: list[str] = []

    def answer(url: str) -> dict[str, str] | None:
        asked.append(url)
        return {"status": "ok"}

    monkeypatch.setattr(cli, "_get_json", answer)
    sup = cli.Supervisor("127.0.0.1", {p.name: p.default_port for p in STARTED}, tmp_path)
    sup.children = {p.name: Running() for p in STARTED}  # type: ignore[misc]
    assert sup.wait_healthy()
    assert "http://127.0.0.1:8000/_sandbox/ready" in asked
    assert "http://127.0.0.1:8000/_sandbox/health" not in asked
    assert "http://127.0.0.1:8001/_sandbox/health" in asked
