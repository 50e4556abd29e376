"""The package layout of docs/architecture.md, enforced: the import graph has floors.

- ``vnsandbox`` (the foundation, ``vnsandbox.vn`` included) imports nothing of the project;
- each service (``services.identity``, ``services.dossier``, ``services.payment``), the
  ``gateway``, the ``console`` and the officer's ``desk`` import the foundation and themselves only, never each other;
- ``vnsandbox_pytest`` (the pytest plugin and typed clients a province's suite uses) imports the
  foundation and itself only, and speaks to the sandbox over HTTP: it never imports a service,
  the gateway or the launcher;
- ``launcher`` (the command line) is the top floor and may import everything; nothing else
  imports it, except the ``vnsandbox/__main__.py`` entry script;
- inside a service, only the HTTP edge (``app``, ``router``, ``control``) imports a web framework;
- no module imports itself back through other modules: the import graph has no cycles (the
  state two halves of a package share lives in a module both import).

Every ``import`` counts, also those inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("vnsandbox", "services", "gateway", "console", "launcher", "desk", "vnsandbox_pytest")
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


def import_graph() -> dict[str, set[str]]:
    """Each project module → the project modules it imports (a name imported from a module
    counts as that module; a package counts as its ``__init__``)."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = set()
        for imported in imports_of(path):
            target = imported if imported in MODULES else imported.rpartition(".")[0]
            if target in MODULES and target != name:
                targets.add(target)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: one per strongly connected component of more than one
    module, as the sorted modules of that component (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def test_the_project_has_the_packages_the_layout_names() -> None:
    assert {component(m) for m in MODULES} >= {
        "vnsandbox",
        "services.identity",
        "services.dossier",
        "services.payment",
        "gateway",
        "launcher",
        "console",
        "desk",
        "vnsandbox_pytest",
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
        ("vnsandbox_pytest.platforms", "services.payment.protocol"),
        ("vnsandbox_pytest.plugin", "launcher.cli"),
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
        ("vnsandbox_pytest.receiver", "vnsandbox.standard_webhooks"),
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


def test_no_module_imports_itself_back_through_others() -> None:
    assert cycles(import_graph()) == []


def test_an_import_cycle_is_caught() -> None:
    graph = {
        "gateway.app": {"gateway.proxy", "gateway.state"},
        "gateway.proxy": {"gateway.app"},
        "gateway.state": {"gateway.routes"},
        "gateway.routes": set(),
        "a.one": {"a.two"},
        "a.two": {"a.three"},
        "a.three": {"a.one"},
    }
    assert cycles(graph) == [["a.one", "a.three", "a.two"], ["gateway.app", "gateway.proxy"]]


def test_an_import_under_type_checking_or_in_a_function_counts(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from gateway.app import Gateway\n"
        "def build() -> None:\n    from gateway.control import build_control_app\n",
        encoding="utf-8",
    )
    assert {"gateway.app", "gateway.control"} <= imports_of(module)
