"""The package layout of docs/architecture.md, enforced: the import graph has floors.

- ``vnsandbox`` (the foundation, ``vnsandbox.vn`` included) imports nothing of the project;
- each service (``services.identity``, ``services.dossier``, ``services.payment``) and the
  ``gateway`` import the foundation and themselves only, never each other;
- ``launcher`` (the command line) is the top floor and may import everything; nothing else
  imports it, except the ``vnsandbox/__main__.py`` entry script;
- inside a service, only the HTTP edge (``app``, ``router``, ``control``) imports a web framework.

Every ``import`` counts, also those inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("vnsandbox", "services", "gateway", "launcher")
#: Entry scripts: run, never imported.
ENTRY_SCRIPTS = {"vnsandbox/__main__.py"}
#: Modules of a service that may speak HTTP (FastAPI/Starlette types).
HTTP_EDGE = {"app", "router", "control"}
WEB_FRAMEWORKS = ("fastapi", "starlette")


def component(module: str) -> str:
    """``services.dossier.rules`` → ``services.dossier``; ``gateway.proxy`` → ``gateway``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "services" and len(parts) > 1 else parts[0]


def project_modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT)
            name = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
            out[name] = path
    return out


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def allowed(importer: str, imported: str) -> bool:
    source, target = component(importer), component(imported)
    if source == target or target == "vnsandbox":
        return True
    return source == "launcher"


MODULES = project_modules()


def violations() -> list[str]:
    out = []
    for name, path in sorted(MODULES.items()):
        if str(path.relative_to(ROOT)) in ENTRY_SCRIPTS:
            continue
        for imported in sorted(imports_of(path)):
            if imported.split(".")[0] in PACKAGES and not allowed(name, imported):
                out.append(f"{name} imports {imported}")
    return out


def test_the_project_has_the_packages_the_layout_names() -> None:
    assert {component(m) for m in MODULES} >= {
        "vnsandbox",
        "services.identity",
        "services.dossier",
        "services.payment",
        "gateway",
        "launcher",
    }


def test_the_import_graph_keeps_its_floors() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    "importer, imported",
    [
        ("services.dossier.rules", "services.identity.cccd"),
        ("vnsandbox.cli", "services.identity.app"),
        ("gateway.proxy", "services.payment.protocol"),
        ("services.payment.service", "gateway.auth"),
        ("vnsandbox.outbox", "launcher.cli"),
    ],
)
def test_a_forbidden_import_is_caught(importer: str, imported: str) -> None:
    assert not allowed(importer, imported)


@pytest.mark.parametrize(
    "importer, imported",
    [
        ("services.dossier.rules", "vnsandbox.vn.cccd"),
        ("launcher.cli", "services.identity.app"),
        ("gateway.proxy", "vnsandbox.signing"),
    ],
)
def test_an_allowed_import_passes(importer: str, imported: str) -> None:
    assert allowed(importer, imported)


def test_only_the_http_edge_of_a_service_imports_a_web_framework() -> None:
    offenders = []
    for name, path in sorted(MODULES.items()):
        parts = name.split(".")
        if parts[0] != "services" or len(parts) < 3 or parts[2] == "migrations" or parts[2] in HTTP_EDGE:
            continue
        bad = [i for i in imports_of(path) if i.split(".")[0] in WEB_FRAMEWORKS]
        if bad:
            offenders.append(f"{name}: {', '.join(sorted(bad))}")
    assert offenders == []


def test_the_foundation_imports_nothing_of_the_project() -> None:
    offenders = [
        f"{name} imports {imported}"
        for name, path in MODULES.items()
        if component(name) == "vnsandbox" and str(path.relative_to(ROOT)) not in ENTRY_SCRIPTS
        for imported in imports_of(path)
        if imported.split(".")[0] in PACKAGES and component(imported) != "vnsandbox"
    ]
    assert offenders == []
