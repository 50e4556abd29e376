"""``vnsandbox openapi --out DIR``: the documents written are the ones the running processes
serve, and a mainstream generator (openapi-python-client) makes a working client from them."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from launcher.openapi_export import SERVED_AT
from tests.support import ROOT, SandboxProcesses

pytestmark = pytest.mark.multiprocess

DIRECT = {"gateway.json": "gateway", "identity.json": "identity", "dossier.json": "dossier", "payment.json": "payment"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("openapi")
    run = subprocess.run(
        [sys.executable, "-m", "vnsandbox", "openapi", "--out", str(out)], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    return out


def _served(sandbox: SandboxProcesses, name: str) -> dict:
    path = SERVED_AT[name] if name == "gateway.json" else "/openapi.json"
    with urllib.request.urlopen(sandbox.url(DIRECT[name]) + path, timeout=30) as resp:
        return json.loads(resp.read())


@pytest.mark.parametrize("name", sorted(SERVED_AT))
def test_exported_document_equals_what_the_running_process_serves(
    exported: Path, sandbox: SandboxProcesses, name: str
) -> None:
    assert json.loads((exported / name).read_text(encoding="utf-8")) == _served(sandbox, name)


def test_openapi_without_an_output_directory_exits_2() -> None:
    run = subprocess.run([sys.executable, "-m", "vnsandbox", "openapi"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 2
    assert "--out" in run.stderr


def test_generated_python_client_makes_a_real_call(exported: Path, sandbox: SandboxProcesses, tmp_path: Path) -> None:
    generator = Path(sys.executable).parent / "openapi-python-client"
    gen = subprocess.run(
        [str(generator), "generate", "--path", str(exported / "payment.json"), "--meta", "none",
         "--output-path", str(tmp_path / "paygov_client")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert (tmp_path / "paygov_client" / "client.py").exists(), gen.stdout[-3000:] + gen.stderr[-2000:]
    script = (
        "import sys\n"
        "from paygov_client import Client\n"
        "from paygov_client.api.sandbox_control import partners_list_sandbox_partners_get as op\n"
        "reply = op.sync_detailed(client=Client(base_url=sys.argv[1]))\n"
        "print(reply.status_code.value, [p['code'] for p in reply.parsed.additional_properties['partners']])\n"
    )
    call = subprocess.run(
        [sys.executable, "-c", script, sandbox.gateway + "/paygov/v1"], cwd=tmp_path, capture_output=True, text=True
    )
    assert call.returncode == 0, call.stderr
    assert call.stdout.strip() == "200 ['SANDBOX']"
