"""The emulator's shape: no import circles, services split the moto way, nothing from the Airflow side."""

from __future__ import annotations

import ast
from pathlib import Path

import airflow_provider_cx.emulator as emulator_package

ROOT = Path(emulator_package.__file__).parent
PREFIX = "airflow_provider_cx.emulator"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PREFIX, *parts))


def import_graph() -> dict[str, set[str]]:
    """Module -> the emulator modules it imports anywhere (top level, functions, TYPE_CHECKING blocks)."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if full in modules:
                        deps.add(full)
                    elif node.module in modules:
                        deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names if alias.name in modules)
        # A package importing its own submodules is how packages re-export; a cycle needs the reverse too.
        graph[name] = deps - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in graph[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_emulator_has_no_import_circle() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_emulator_imports_nothing_from_the_airflow_side() -> None:
    offenders = []
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                top = node.module.split(".")[:2]
                airflow_side = (["airflow_provider_cx", "hooks"], ["airflow_provider_cx", "operators"])
                if top[0] == "airflow" or top in airflow_side:
                    offenders.append(f"{path.relative_to(ROOT)}: {node.module}")
    assert offenders == []


def test_test_case_helpers_live_with_the_test_cases_service() -> None:
    assert not list(ROOT.glob("test_case_*.py"))
    package = ROOT / "services" / "test_cases"
    assert {p.name for p in package.glob("*.py")} >= {
        "__init__.py",
        "models.py",
        "responses.py",
        "messages.py",
        "filters.py",
        "coverage.py",
    }


def test_test_case_models_speak_no_protos() -> None:
    """The behaviour module works on package JSON: it imports no proto types and no servicer machinery."""
    tree = ast.parse((ROOT / "services" / "test_cases" / "models.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not {m for m in imported if m.startswith(("google.cloud", "google.protobuf", "google.longrunning"))}
    assert "airflow_provider_cx.emulator.rpc" not in imported


def test_service_packages_split_models_from_responses() -> None:
    """Each service package has models.py (behaviour) and responses.py (wire); models never serve RPCs."""
    packages = [p.parent for p in (ROOT / "services").glob("*/__init__.py")]
    assert {p.name for p in packages} >= {"test_cases", "environments"}
    for package in packages:
        assert (package / "models.py").is_file()
        assert (package / "responses.py").is_file()
        tree = ast.parse((package / "models.py").read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert "airflow_provider_cx.emulator.rpc" not in imported, package.name
        assert not any(m.endswith(".responses") for m in imported), package.name
