"""No import circle in airflow_provider_cx: its import graph, read from source, has no cycle.

Every ``import`` and ``from ... import`` counts, at module level and inside functions (a deferred
import still ties the two modules together: neither can be understood, moved or tested alone), except
those under ``if TYPE_CHECKING:``, which never run. ``from pkg import name`` points at the submodule
``pkg.name`` when there is one, else at ``pkg``. Parent packages are not implied edges: importing
``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``, but a package that re-exports its modules is a
cycle only if its ``__init__`` is part of one through explicit imports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "airflow_provider_cx"

Graph = dict[str, set[str]]


def module_names(package: Path) -> dict[str, Path]:
    """Every module of ``package`` by dotted name (``pkg/sub/__init__.py`` is ``pkg.sub``)."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements anywhere in ``tree`` except the body of ``if TYPE_CHECKING:`` (its else runs)."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))


def _resolve_from(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a ``from`` import names (relative levels resolved against ``module``)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The modules of ``known`` that ``module`` (at ``path``) imports, outside ``if TYPE_CHECKING:``."""
    targets: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(_innermost_known(alias.name, known) for alias in node.names)
            continue
        source = _resolve_from(module, is_package, node)
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            targets.add(submodule if submodule in known else _innermost_known(source, known))
    targets.discard("")
    targets.discard(module)
    return targets


def _innermost_known(name: str, known: Mapping[str, Path]) -> str:
    """``name`` or its nearest enclosing module in ``known`` (``""`` for modules outside the package)."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in known:
            return ".".join(parts)
        parts.pop()
    return ""


def import_graph(package: Path) -> Graph:
    known = module_names(package)
    return {module: imports_of(module, path, known) for module, path in known.items()}


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's components with more than one module (iterative: the graph may be deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
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
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def shortest_cycle(graph: Graph, start: str, within: set[str]) -> list[str]:
    """The shortest import path from ``start`` back to itself inside one component (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & within):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"{start} is in a component but on no cycle")  # Tarjan guarantees one


def import_cycles(package: Path) -> list[list[str]]:
    """One shortest cycle per circle of modules (a component may hold several; fixing one shows the next)."""
    graph = import_graph(package)
    return [shortest_cycle(graph, component[0], set(component)) for component in strongly_connected(graph)]


def describe(cycles: list[list[str]]) -> str:
    return "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph(PACKAGE)
    components = strongly_connected(graph)
    cycles = [shortest_cycle(graph, component[0], set(component)) for component in components]
    for component, cycle in zip(components, cycles, strict=True):
        print(f"import circle of {len(component)} modules: {', '.join(component)}\n  e.g. {' -> '.join(cycle)}")

    assert len(graph) > 50, "the package's modules were not found"
    assert not cycles, f"import cycles in airflow_provider_cx:\n{describe(cycles)}"


# --- the checker itself, on a planted package ----------------------------------------------------


def plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "planted"


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    package = plant(
        tmp_path,
        {
            "planted/__init__.py": "",
            "planted/a.py": "from planted import b\n",
            "planted/b.py": "from .sub.c import helper\n",
            "planted/sub/__init__.py": "",
            "planted/sub/c.py": "def helper():\n    import planted.a\n",
            "planted/d.py": "import os\nimport planted.a\n",
        },
    )

    assert import_cycles(package) == [["planted.a", "planted.b", "planted.sub.c", "planted.a"]]


def test_type_checking_imports_and_acyclic_packages_pass(tmp_path: Path) -> None:
    package = plant(
        tmp_path,
        {
            "planted/__init__.py": "from planted.a import thing\n",
            "planted/a.py": "from planted.base import Base\nthing = 1\n",
            "planted/base.py": (
                "from typing import TYPE_CHECKING\nimport typing\n"
                "if TYPE_CHECKING:\n    from planted.a import thing\n"
                "if typing.TYPE_CHECKING:\n    import planted.a\nelse:\n    import planted.leaf\n"
            ),
            "planted/leaf.py": "from .. import outside\nfrom . import base\n",
        },
    )

    graph = import_graph(package)

    assert graph["planted.base"] == {"planted.leaf"}  # the else branch counts, TYPE_CHECKING does not
    assert import_cycles(package) == [["planted.base", "planted.leaf", "planted.base"]]


@pytest.mark.parametrize(
    ("files", "edges"),
    [
        ({"planted/x/y.py": "from . import z\n", "planted/x/z.py": ""}, {"planted.x.z"}),
        ({"planted/x/y.py": "from .z import name\n", "planted/x/z.py": ""}, {"planted.x.z"}),
        ({"planted/x/y.py": "from ..w import name\n", "planted/w.py": ""}, {"planted.w"}),
        ({"planted/x/y.py": "import planted.x.z.deep\n", "planted/x/z.py": ""}, {"planted.x.z"}),
        ({"planted/x/y.py": "from planted.x import nothing_here\n"}, {"planted.x"}),
    ],
)
def test_import_forms_resolve_to_the_module_they_load(tmp_path: Path, files: dict[str, str], edges: set[str]) -> None:
    package = plant(tmp_path, {"planted/__init__.py": "", "planted/x/__init__.py": "", **files})

    assert import_graph(package)["planted.x.y"] == edges
