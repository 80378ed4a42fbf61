"""No import circle in airflow_provider_cx: its import graph, read from source, has no cycle.

Every ``import`` and ``from ... import`` counts, at module level and inside functions (a deferred
import still ties the two modules together: neither can be understood, moved or tested alone), except
those under ``if TYPE_CHECKING:``, which never run. ``from pkg import name`` points at the submodule
``pkg.name`` when there is one, else at ``pkg``. Parent packages are not implied edges: importing
``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``, but a package that re-exports its modules is a
cycle only if its ``__init__`` is part of one through explicit imports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.import_graph import (
    describe,
    import_cycles,
    import_graph,
    shortest_cycle,
    strongly_connected,
)

PACKAGE = Path(__file__).resolve().parents[1] / "airflow_provider_cx"


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
