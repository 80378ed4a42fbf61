"""The import graph of a package, read from source with ``ast``, and the cycles in it.

Used by tests/test_import_cycles.py (the whole package, deferred imports included, ``if
TYPE_CHECKING:`` blocks left out) and by the emulator's structure test (TYPE_CHECKING imports too).
``from pkg import name`` points at the submodule ``pkg.name`` when there is one, else at ``pkg``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

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


def _import_nodes(tree: ast.AST, type_checking: bool = False) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements anywhere in ``tree``; the body of ``if TYPE_CHECKING:`` only with ``type_checking``."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        if not type_checking and isinstance(node, ast.If) and _is_type_checking(node.test):
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


def imports_of(module: str, path: Path, known: Mapping[str, Path], type_checking: bool = False) -> set[str]:
    """The modules of ``known`` that ``module`` (at ``path``) imports (``if TYPE_CHECKING:`` blocks too
    only with ``type_checking``)."""
    targets: set[str] = set()
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in _import_nodes(tree, type_checking):
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


def import_graph(package: Path, type_checking: bool = False) -> Graph:
    known = module_names(package)
    return {module: imports_of(module, path, known, type_checking) for module, path in known.items()}


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
