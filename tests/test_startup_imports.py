"""Start-up stays light: importing a service's app module (what uvicorn does before the service
answers) leaves the heavy modules a service needs only for some calls unimported until that call.

Checked in a fresh interpreter per module, as ``sys.modules`` of the test process has everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import ROOT

#: Imported on first use only: PDF receipts (fpdf), population generation (Faker,
#: vietnam_provinces), PDF reading (pypdf), migrations (Alembic, imported when they run).
HEAVY = ("fpdf", "faker", "vietnam_provinces", "pypdf", "alembic")
#: The outbox's HTTP client, imported with its first delivery (the gateway uses it for every call).
OUTBOX_CLIENT = "aiohttp"


def modules_after_import(module: str) -> set[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("service", ["identity", "dossier", "payment"])
def test_importing_a_service_app_imports_no_heavy_module(service: str) -> None:
    loaded = modules_after_import(f"services.{service}.app")
    assert loaded & {*HEAVY, OUTBOX_CLIENT} == set()


def test_importing_the_gateway_app_imports_no_heavy_module() -> None:
    assert modules_after_import("gateway.app") & set(HEAVY) == set()


def test_importing_the_command_line_imports_no_service() -> None:
    loaded = modules_after_import("launcher.cli")
    assert loaded & {*HEAVY, "fastapi", "sqlalchemy"} == set()


def test_importing_the_console_app_imports_no_heavy_module() -> None:
    """The console draws its PDFs with fpdf2, imported with the first PDF."""
    assert modules_after_import("console.app") & set(HEAVY) == set()
