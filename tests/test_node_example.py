"""The Node example (examples/node): a provincial system in JavaScript logs in through VNeID with
PKCE, syncs a dossier and pays, against a running sandbox. ``./sandbox test`` installs Node from
the Debian packages when it is missing."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support import ROOT, SandboxProcesses

pytestmark = pytest.mark.multiprocess

EXAMPLE = ROOT / "examples" / "node"


def test_node_example_logs_in_syncs_a_dossier_and_pays(sandbox: SandboxProcesses) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.skip("node and npm are not installed (./sandbox test installs the Debian packages nodejs and npm)")
    install = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=EXAMPLE, capture_output=True, text=True, timeout=300
    )
    assert install.returncode == 0, install.stderr
    run = subprocess.run(
        [node, "main.mjs"],
        cwd=EXAMPLE,
        env={**os.environ, "VNSB_URL": sandbox.gateway},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["logged in", "dossier synced", "paid"]
    assert "level 2" in lines[0]
