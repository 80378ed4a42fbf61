"""The emulator's shape: no import circles, services split the moto way, nothing from the Airflow side."""

from __future__ import annotations

import ast
from pathlib import Path

import airflow_provider_cx.emulator as emulator_package
from tests.import_graph import import_graph, strongly_connected

ROOT = Path(emulator_package.__file__).parent


EMULATOR = "airflow_provider_cx.emulator"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    return [sorted(component) for component in strongly_connected(graph)]


def emulator_graph() -> dict[str, set[str]]:
    """The emulator's modules and the emulator modules each imports, ``if TYPE_CHECKING:`` blocks included."""
    whole = import_graph(ROOT.parent, type_checking=True)
    inside = {module for module in whole if module.startswith(EMULATOR)}
    return {module: whole[module] & inside for module in inside}


def test_the_emulator_has_no_import_circle() -> None:
    """Stricter than tests/test_import_cycles.py: imports under ``if TYPE_CHECKING:`` count too."""
    graph = emulator_graph()
    assert "airflow_provider_cx.emulator.backend" in graph["airflow_provider_cx.emulator.rpc"]  # read, not empty
    assert cycles(graph) == []


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
