"""deploy/k8s (the Kubernetes manifests of a shared sandbox with replicas) stays valid and in
step with the code: every resource validates against the Kubernetes schemas (bundled by
kubernetes-validate, offline), and each Deployment runs the same process, port, probe and
settings as ``vnsandbox up`` and docker-compose.yml's shared mode."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from launcher.cli import _settings_classes
from launcher.topology import ALL, SERVICES, Process, uvicorn_args
from tests.test_compose import _env as compose_env

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text())
DOCS: list[dict[str, Any]] = [
    doc for name in KUSTOMIZATION["resources"] for doc in yaml.safe_load_all((K8S / name).read_text()) if doc
]
#: The Kubernetes version the manifests are checked against (the newest the validator bundles).
K8S_VERSION = kubernetes_validate.utils.latest_version()


def _one(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _container(proc: Process) -> dict[str, Any]:
    containers = _one("Deployment", proc.name)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def _resolved_env(proc: Process) -> dict[str, str]:
    """The container's environment with ConfigMap and Secret references resolved."""
    out: dict[str, str] = {}
    for item in _container(proc)["env"]:
        if "value" in item:
            out[item["name"]] = str(item["value"])
            continue
        ref = item["valueFrom"]
        kind, key_ref = (
            ("ConfigMap", ref["configMapKeyRef"]) if "configMapKeyRef" in ref else ("Secret", ref["secretKeyRef"])
        )
        source = _one(kind, key_ref["name"])
        data = source.get("data") or source.get("stringData") or {}
        assert key_ref["key"] in data, f"{proc.name}: {kind} {key_ref['name']} has no key {key_ref['key']}"
        out[item["name"]] = str(data[key_ref["key"]])
    return out


def test_every_file_of_the_directory_is_a_listed_resource() -> None:
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert files == set(KUSTOMIZATION["resources"])


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_resource_validates_against_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_gateway_and_each_service_run_as_replicated_deployments_behind_services() -> None:
    for proc in ALL:
        deployment = _one("Deployment", proc.name)
        assert deployment["spec"]["replicas"] >= 2
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        service = _one("Service", proc.name)
        assert service["spec"]["selector"].items() <= labels.items()
        assert service["spec"]["ports"] == [
            {"name": "http", "port": proc.default_port, "targetPort": proc.default_port}
        ]


@pytest.mark.parametrize("proc", ALL, ids=lambda p: p.name)
def test_container_runs_the_same_uvicorn_invocation_as_vnsandbox_up(proc: Process) -> None:
    container = _container(proc)
    assert container["command"] == ["python", "-m", "uvicorn", *uvicorn_args(proc, "0.0.0.0", proc.default_port)]
    assert container["ports"] == [{"name": "http", "containerPort": proc.default_port}]


@pytest.mark.parametrize("proc", ALL, ids=lambda p: p.name)
def test_readiness_probe_is_the_topologys_ready_path_on_the_process_port(proc: Process) -> None:
    probe = _container(proc)["readinessProbe"]["httpGet"]
    assert probe == {"path": proc.ready_path, "port": proc.default_port}


@pytest.mark.parametrize("proc", ALL, ids=lambda p: p.name)
def test_container_uses_the_dockerfiles_image_user_and_data_directory(proc: Process) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert version is not None
    spec = _one("Deployment", proc.name)["spec"]["template"]["spec"]
    assert _container(proc)["image"] == f"vnsandbox:{version.group(1)}"
    uid = re.search(r"useradd --system --uid (\d+)", dockerfile)
    assert uid is not None and spec["securityContext"]["runAsUser"] == int(uid.group(1))
    assert str(proc.default_port) in re.search(r"^EXPOSE (.*)$", dockerfile, re.M).group(1)  # type: ignore[union-attr]
    data_dir = _resolved_env(proc)["SANDBOX_DATA_DIR"]
    assert {"name": "data", "mountPath": data_dir} in _container(proc)["volumeMounts"]


@pytest.mark.parametrize("proc", ALL, ids=lambda p: p.name)
def test_container_sets_the_same_variables_as_compose_shared_mode(proc: Process) -> None:
    k8s, compose = _resolved_env(proc), compose_env(proc.name)
    assert set(k8s) == set(compose)
    same = {k for k in compose if not k.endswith(("_SECRET", "_KEY", "_DATABASE_URL", "_PUBLIC_BASE_URL"))}
    assert {k: k8s[k] for k in same} == {k: compose[k] for k in same}


@pytest.mark.parametrize("proc", ALL, ids=lambda p: p.name)
def test_settings_validate_in_shared_mode(proc: Process, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("SANDBOX_", proc.env_prefix)):
            monkeypatch.delenv(key)
    for key, value in _resolved_env(proc).items():
        monkeypatch.setenv(key, value)
    settings = _settings_classes()[proc.name]()
    assert settings.mode == "shared" and settings.require_tenant_signature is True
    assert settings.port == proc.default_port


@pytest.mark.parametrize("proc", (ALL[0], *SERVICES), ids=lambda p: p.name)
def test_each_process_has_its_own_database_on_the_external_postgres(proc: Process) -> None:
    url = _resolved_env(proc)[f"{proc.env_prefix}DATABASE_URL"]
    assert url.startswith("postgresql://") and "@postgres:5432/" in url
    assert f"CREATE DATABASE {url.rsplit('/', 1)[1]};" in (ROOT / "deploy/postgres-init.sql").read_text()
    postgres = _one("Service", "postgres")["spec"]
    assert postgres["type"] == "ExternalName" and postgres["ports"][0]["port"] == 5432


def test_public_urls_are_the_gateways_prefixes() -> None:
    from launcher.topology import GATEWAY_PREFIX

    gateway = _resolved_env(ALL[0])["GATEWAY_PUBLIC_BASE_URL"]
    for proc in SERVICES:
        assert _resolved_env(proc)[f"{proc.env_prefix}PUBLIC_BASE_URL"] == gateway + GATEWAY_PREFIX[proc.name]


def test_the_gateway_shares_its_state_through_postgres_in_the_cluster() -> None:
    from gateway.settings import GatewaySettings

    env = _resolved_env(ALL[0])
    assert "GATEWAY_SHARED_STATE" not in env  # unset: shared because the database is PostgreSQL
    settings = GatewaySettings(database_url=env["GATEWAY_DATABASE_URL"], admin_key=env["GATEWAY_ADMIN_KEY"])
    assert settings.shares_state("postgresql")
