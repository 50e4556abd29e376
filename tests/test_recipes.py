"""The CI recipes of examples/ci and examples/java: valid for their CI system, consistent with
the image, and their commands work against a running sandbox (Docker itself is not run here).

The province's own test command in each recipe is a placeholder (``./gradlew contractTest``,
``./mvnw verify``) and is skipped; every other command runs, with ``VNSB_URL`` pointing at a
sandbox on this machine instead of the service container's address.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from launcher.cli import port_free
from launcher.topology import GATEWAY, STARTED
from tests.support import ROOT, SandboxProcesses, free_port, wait_for

CI = ROOT / "examples" / "ci"
JAVA = ROOT / "examples" / "java"
GITHUB = yaml.safe_load((CI / "github-actions.yml").read_text())
GITLAB = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
PROVINCE_STEP = "Run the province's tests"
#: The placeholder commands standing for the province's own test suite.
PROVINCE_COMMANDS = ("./gradlew", "./mvnw")


def _schema_check(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(tool), "--builtin-schema", schema, str(path)], capture_output=True, text=True, timeout=120
    )


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _steps(job: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = GITHUB["jobs"][job]["steps"]
    return steps


def _run_steps(job: str, cwd: Path, env: dict[str, str]) -> list[str]:
    """Run the job's ``run:`` steps in order (all but the province's own tests); their names."""
    ran = []
    for step in _steps(job):
        if "run" not in step or step.get("name") == PROVINCE_STEP:
            continue
        result = _bash(step["run"], cwd, env)
        assert result.returncode == 0, f"{step['name']}: {result.stderr}"
        ran.append(step["name"])
    return ran


def test_github_recipe_is_a_valid_workflow() -> None:
    result = _schema_check("vendor.github-workflows", CI / "github-actions.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_gitlab_recipe_is_a_valid_pipeline() -> None:
    result = _schema_check("vendor.gitlab-ci", CI / "gitlab-ci.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_github_service_container_is_probed_where_the_image_is() -> None:
    service = GITHUB["jobs"]["with-service-container"]["services"]["vnsandbox"]
    assert service["ports"] == ["8000:8000"]
    assert f"127.0.0.1:{GATEWAY.default_port}{GATEWAY.ready_path}" in service["options"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"127.0.0.1:{GATEWAY.default_port}{GATEWAY.ready_path}" in dockerfile
    assert re.search(rf"^EXPOSE .*\b{GATEWAY.default_port}\b", dockerfile, re.M)


@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
def test_github_service_container_steps_run_against_a_sandbox(sandbox: SandboxProcesses, tmp_path: Path) -> None:
    github_env = tmp_path / "github-env"
    env = {"VNSB_URL": sandbox.gateway, "GITHUB_ENV": str(github_env)}
    assert _run_steps("with-service-container", tmp_path, env) == [
        "Wait for the sandbox",
        "Point the province's system at the sandbox",
        "Keep the sandbox's journal as an artefact",
    ]
    assert f"VNEID_ISSUER={sandbox.gateway}/vneid/v1" in github_env.read_text().splitlines()
    assert isinstance(yaml.safe_load((tmp_path / "sandbox-journal.json").read_text()), dict)


@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
def test_github_checkout_steps_start_wait_for_and_stop_the_sandbox(tmp_path: Path) -> None:
    (tmp_path / "vnsandbox").symlink_to(ROOT)  # what the second actions/checkout puts there
    # Every process `up` starts on a free port, so a sandbox already running here is no obstacle.
    ports = {p.env_prefix.rstrip("_"): free_port() for p in STARTED}
    env = {f"{p}_PORT": str(port) for p, port in ports.items()}
    github_env = tmp_path / "github-env"
    env |= {"VNSB_URL": f"http://127.0.0.1:{ports['GATEWAY']}", "SANDBOX_DATA_DIR": str(tmp_path / "data")}
    # The suite's own environment is in use: the step's ./sandbox must not re-sync it under the running tests.
    env |= {"GITHUB_ENV": str(github_env), "SANDBOX_SKIP_SYNC": "1"}
    try:
        names = _run_steps("with-checkout", tmp_path, env)
    finally:
        if (tmp_path / "sandbox.pid").exists():
            subprocess.run(["kill", (tmp_path / "sandbox.pid").read_text().strip()], check=False)
    assert names == ["Start the sandbox", "Wait for the sandbox", "A throwaway tenant for this job", "Stop the sandbox"]
    exported = dict(line.split("=", 1) for line in github_env.read_text().splitlines())
    assert exported["VNSB_TENANT"].startswith("t-") and exported["VNSB_API_KEY"]
    wait_for(lambda: port_free("127.0.0.1", ports["GATEWAY"]), timeout=60, what="the sandbox to stop")


@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
def test_gitlab_script_runs_against_a_sandbox(sandbox: SandboxProcesses, tmp_path: Path) -> None:
    job = GITLAB["contract-tests"]
    lines = [line for line in job["script"] if not line.startswith(PROVINCE_COMMANDS)]
    assert len(lines) == len(job["script"]) - 1, "exactly one line is the province's own test command"
    env = {"VNSB_URL": sandbox.gateway}
    result = _bash("\n".join([*lines, *job["after_script"]]), tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "sandbox-journal.json").stat().st_size > 0


def test_gitlab_service_alias_is_the_host_the_job_calls() -> None:
    job = GITLAB["contract-tests"]
    assert job["services"][0]["alias"] == "vnsandbox"
    assert job["variables"]["VNSB_URL"] == f"http://vnsandbox:{GATEWAY.default_port}"


def test_testcontainers_snippet_waits_on_the_images_readiness_port_and_path() -> None:
    source = (JAVA / "SandboxContainerTest.java").read_text()
    assert f".withExposedPorts({GATEWAY.default_port})" in source
    assert f'Wait.forHttp("{GATEWAY.ready_path}").forPort({GATEWAY.default_port})' in source
    assert "getMappedPort(8000)" in source


@pytest.mark.multiprocess
@pytest.mark.xdist_group("multiprocess")
@pytest.mark.skipif(shutil.which("java") is None, reason="no JDK on this machine")
def test_plain_jdk_example_logs_discovery_and_verifies_it_in_the_journal(sandbox: SandboxProcesses) -> None:
    result = subprocess.run(
        ["java", str(JAVA / "SandboxSmoke.java"), sandbox.gateway],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"issuer {sandbox.gateway}/vneid/v1" in result.stdout
    assert "discovery call(s) recorded" in result.stdout
