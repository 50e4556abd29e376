"""The schemathesis pass: every service's OpenAPI, directly and through the gateway.

Real processes on loopback (``vnsandbox up`` on SQLite) are tested by the schemathesis CLI
with tests/contract/schemathesis.toml and the hooks of tests/contract/hooks.py (DVCQG
login, PayGov signatures, the known findings). The run fails on any 5xx and on any reply
that does not follow the schema: undeclared status code, undeclared content type, a body
or headers not matching the schema, a 405 without the right ``Allow``. It is bounded
(max examples per operation, a fixed seed, deterministic generation, no deadlines) so it
adds a few minutes to ``./sandbox test``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, SandboxProcesses

pytestmark = [pytest.mark.multiprocess, pytest.mark.xdist_group("schemathesis")]

CONFIG = ROOT / "tests" / "contract" / "schemathesis.toml"
PREFIXES = {"identity": "/vneid/v1", "dossier": "/dvcqg/v1", "payment": "/paygov/v1"}
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcesses]:
    procs = SandboxProcesses(tmp_path_factory.mktemp("schemathesis"), env={"SANDBOX_LOG_LEVEL": "WARNING"}).start()
    try:
        yield procs
    finally:
        procs.stop()


def run_schemathesis(schema_url: str, tmp_path: Path, *extra: str) -> None:
    findings = tmp_path / "known-findings.ndjson"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VNSB_CONTRACT_FINDINGS": str(findings), "NO_COLOR": "1"}
    proc = subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", schema_url, "--output-truncate", "true", *extra],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if findings.exists():
        known = sorted({line for line in findings.read_text(encoding="utf-8").splitlines()})
        print("known findings excluded:\n" + "\n".join(json.loads(k)["operation"] + ": " + k for k in known))
    assert proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-5000:]


@pytest.mark.parametrize("service", sorted(PREFIXES))
def test_service_schema_holds_directly(service: str, sandbox: SandboxProcesses, tmp_path: Path) -> None:
    run_schemathesis(sandbox.url(service) + "/openapi.json", tmp_path)


@pytest.mark.parametrize("service", sorted(PREFIXES))
def test_service_schema_holds_through_the_gateway(service: str, sandbox: SandboxProcesses, tmp_path: Path) -> None:
    # Coverage and fuzzing (every boundary, random inputs) run directly; through the gateway
    # the examples and the stateful phase (login, then the real operations) check that the
    # relay keeps the contract, within the time budget of `./sandbox test`.
    run_schemathesis(sandbox.gateway + PREFIXES[service] + "/openapi.json", tmp_path, "--phases", "examples,stateful")


def test_gateway_control_schema_holds(sandbox: SandboxProcesses, tmp_path: Path) -> None:
    # The gateway's own control plane (tenants, consumers, faults, journal, clock, audit):
    # last in this module, since it resets and moves the clock of the open ``default`` tenant.
    # Few examples per operation: it has many operations, each a fan-out to every service.
    run_schemathesis(sandbox.gateway + "/_sandbox/openapi.json", tmp_path, "--max-examples", "3")
