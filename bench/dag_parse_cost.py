"""DAG parse cost: dags/ with the provider's operators vs. the same DAG shapes built from EmptyOperator.

Run: ``.venv/bin/python bench/dag_parse_cost.py [--repeat 30]``

Each repetition parses the whole dags/ folder with Airflow's ``DagBag`` in a freshly forked child of a
parent that has imported Airflow (and EmptyOperator) but none of the provider's operators, as Airflow's DAG
processor forks a parser per file from an Airflow-loaded parent (it pre-imports there only the ``airflow.*``
modules a DAG file imports, so a provider outside that namespace is imported again by every parse). The
provider is byte-compiled first, as installing its wheel does. Three variants alternate, so drift on a busy
machine hits all alike:

- ``provider``: the DAG files as they are.
- ``empty``: every ``airflow_provider_cx.operators.<module>`` the DAG files import is replaced, before
  parsing, by an in-memory stand-in module whose classes are EmptyOperators: they keep the task ids, the
  BaseOperator arguments and the dependencies the operator's XComArg arguments create, and drop everything
  else. The same DAG files, unedited, give the same DAGs, tasks and edges (checked: the bench stops if any
  shape differs).
- ``modules``: the same stand-ins, but as byte-compiled files, one per provider module: what any provider
  that keeps one operator per module pays at least, in this process model.

Prints per variant the mean, median and min parse time; the ratios provider/empty (target <= 1.05),
modules/empty (the floor) and provider/modules (the provider's own cost above it); which heavy modules
(grpc, google.cloud.dialogflowcx_v3) a parse imported; and what each provider module costs to import.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DAGS = REPO / "dags"
HEAVY_MODULES = ("grpc", "google.cloud.dialogflowcx_v3", "google.api_core")
TARGET_RATIO = 1.05


def provider_operator_imports(folder: Path) -> dict[str, dict[str, set[str]]]:
    """``{"airflow_provider_cx.operators.x": {"CXFooOperator": {keyword names the DAGs pass}}}``.

    Read from the DAG files' syntax (nothing is imported); the keywords let a stand-in's ``partial()``
    accept what the provider's class accepts.
    """
    classes: dict[str, dict[str, set[str]]] = {}
    trees = [ast.parse(path.read_text(), str(path)) for path in sorted(folder.glob("*.py"))]
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("airflow_provider_cx.operators"):
                for alias in node.names:
                    classes.setdefault(node.module, {}).setdefault(alias.name, set())
    keywords = {name: names for by_class in classes.values() for name, names in by_class.items()}
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.value if isinstance(node.func, ast.Attribute) else node.func
            if isinstance(func, ast.Name) and func.id in keywords:
                keywords[func.id].update(keyword.arg for keyword in node.keywords if keyword.arg)
    return classes


def airflow_imports(folder: Path) -> list[str]:
    """The ``airflow.*`` modules the DAG files import at their top level."""
    found = set()
    for path in sorted(folder.glob("*.py")):
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "airflow":
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "airflow")
    return sorted(found)


STAND_IN_MODULE = """\
from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk.definitions.xcom_arg import XComArg

_BASE_ARGUMENTS = frozenset({base!r})
"""

# An EmptyOperator named like the provider's class: same task and edges, none of its own work. Keywords
# that are not BaseOperator's are dropped, but the XComArgs in them still make the upstream edges the
# provider's operator would have through its templates. ``__param_names`` is what Airflow's partial()
# checks keywords against (it reads them from __init__'s signature).
STAND_IN_CLASS = """

class {name}(EmptyOperator):
    template_fields = ()

    def __init__(self, **kwargs: Any) -> None:
        EmptyOperator.__init__(self, **{{k: v for k, v in kwargs.items() if k in _BASE_ARGUMENTS}})
        for key, value in kwargs.items():
            if key not in _BASE_ARGUMENTS:
                for operator, _ in XComArg.iter_xcom_references(value):
                    operator.set_downstream(self)


{name}.__init__._BaseOperatorMeta__param_names = frozenset({keywords!r})
"""


def stand_in_sources(imports: dict[str, dict[str, set[str]]]) -> dict[str, str]:
    """``{provider module name: source of its stand-in module}``."""
    import inspect

    from airflow.sdk import BaseOperator

    base = sorted(set(inspect.signature(BaseOperator.__init__).parameters) - {"self", "kwargs"})
    sources = {}
    for module_name, classes in imports.items():
        source = STAND_IN_MODULE.format(base=base)
        for class_name, keywords in sorted(classes.items()):
            source += STAND_IN_CLASS.format(name=class_name, keywords=sorted(keywords - set(base)))
        sources[module_name] = source
    return sources


class StandIns:
    """The stand-in modules, compiled in the parent: in memory ("empty") or as .py/.pyc files ("modules").

    Both variants run the same code objects' worth of work; "modules" adds only what loading a module
    from disk costs (finding it, reading and unmarshalling its .pyc).
    """

    def __init__(self, imports: dict[str, dict[str, set[str]]]) -> None:
        import compileall

        sources = stand_in_sources(imports)
        self.code = {name: compile(source, f"<stand-in {name}>", "exec") for name, source in sources.items()}
        folder = Path(tempfile.mkdtemp(prefix="dag-parse-stand-ins-"))
        self.files = {name: folder / f"{name.rsplit('.', 1)[-1]}.py" for name in sources}
        for name, source in sources.items():
            self.files[name].write_text(source)
        if not compileall.compile_dir(folder, quiet=1):
            raise SystemExit("byte-compiling the stand-in modules failed")

    def install_in_memory(self) -> None:
        for name, code in self.code.items():
            module = types.ModuleType(name)
            exec(code, module.__dict__)
            sys.modules[name] = module

    def install_as_files(self) -> None:
        sys.meta_path.insert(0, self)

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        """Meta path finder: the provider's operator modules come from the stand-in files."""
        import importlib.util

        if name not in self.files:
            return None
        return importlib.util.spec_from_file_location(name, self.files[name])


def parse_once(variant: str, stand_ins: StandIns) -> dict[str, Any]:
    """In the forked child: parse dags/ and report the time, the DAG shapes and what got imported."""
    from airflow.dag_processing.dagbag import DagBag

    if variant == "empty":
        stand_ins.install_in_memory()
    elif variant == "modules":
        stand_ins.install_as_files()
    started = time.perf_counter()
    bag = DagBag(dag_folder=str(DAGS))
    seconds = time.perf_counter() - started
    shapes = {
        dag_id: {task.task_id: sorted(task.downstream_task_ids) for task in dag.tasks}
        for dag_id, dag in sorted(bag.dags.items())
    }
    return {
        "seconds": seconds,
        "shapes": shapes,
        "import_errors": {str(k): str(v)[-300:] for k, v in bag.import_errors.items()},
        "heavy": sorted(name for name in HEAVY_MODULES if name in sys.modules),
        "provider_modules": [name for name in sys.modules if name.startswith("airflow_provider_cx")],
    }


def in_fork(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``work()`` in a fresh fork of this process, its output silenced; its JSON result, or ``{"error": ...}``."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: work, write the JSON result, exit without running the parent's atexit hooks
        os.close(read_end)
        quiet = os.open(os.devnull, os.O_WRONLY)  # DagBag logs every fill; the figures are what matter
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        try:
            payload = json.dumps(work()).encode()
        except BaseException as error:  # report anything, so the parent can name it
            payload = json.dumps({"error": repr(error)}).encode()
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        result = json.loads(pipe.read() or b'{"error": "the child wrote nothing"}')
    os.waitpid(pid, 0)
    return result


def in_forked_child(variant: str, stand_ins: StandIns) -> dict[str, Any]:
    result = in_fork(lambda: parse_once(variant, stand_ins))
    if "error" in result:
        raise SystemExit(f"{variant} parse failed: {result['error']}")
    if result["import_errors"]:
        raise SystemExit(f"{variant} parse had import errors: {result['import_errors']}")
    return result


def compile_provider() -> None:
    """Byte-compile the provider, as ``pip install`` of its wheel does.

    A checkout installed in editable mode has no ``.pyc`` files, and with ``PYTHONDONTWRITEBYTECODE``
    set (as on the CI machine) every parse would compile the provider's sources again (~35 ms), while
    Airflow's own modules come compiled from their wheels. The comparison is about a deployed provider.
    """
    import compileall

    if not compileall.compile_dir(REPO / "airflow_provider_cx", quiet=1):
        raise SystemExit("byte-compiling airflow_provider_cx failed")


def prepare_parent() -> None:
    """What every parse child inherits: Airflow and EmptyOperator, none of the provider's operators."""
    compile_provider()
    home = Path(tempfile.mkdtemp(prefix="dag-parse-cost-"))
    os.environ.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
    )
    sys.path[:0] = [str(REPO), str(DAGS)]  # Airflow puts the DAGs folder on the path; the DAGs share helpers
    import importlib

    # Airflow's DAG processor pre-imports the airflow.* modules a DAG file imports before it parses the
    # file ([dag_processor] parsing_pre_import_modules); do the same once, for both variants.
    for module_name in (
        "airflow.dag_processing.dagbag",
        "airflow.providers.standard.operators.empty",
        *airflow_imports(DAGS),
    ):
        importlib.import_module(module_name)

    # Airflow's provider discovery loads the package's provider info (as in any Airflow process); the
    # operators, which are what this bench compares, must still be unloaded.
    loaded = [name for name in sys.modules if name.startswith("airflow_provider_cx.operators")]
    if loaded:
        raise SystemExit(f"the parent must not import the provider's operators before forking, but has {loaded}")


def dependencies_first(modules: list[str]) -> list[str]:
    """``modules`` ordered so that each comes after the provider modules it imports at its top level."""
    import importlib.util

    def top_level_imports(name: str) -> list[str]:
        origin = importlib.util.find_spec(name).origin
        found = []
        for node in ast.parse(Path(origin).read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module:
                candidates = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
                found += [candidate for candidate in candidates if candidate in modules]
        return found

    ordered: list[str] = []

    def visit(name: str) -> None:
        if name not in ordered:
            for dependency in top_level_imports(name):
                visit(dependency)
            ordered.append(name)

    for name in modules:
        visit(name)
    return ordered


def module_costs(modules: list[str], preload: list[str], repeat: int) -> list[tuple[float, str]]:
    """(median ms, module) of importing each provider module in a fresh fork, its own imports loaded first.

    ``preload`` (what the empty variant loads too, e.g. through the DAGs' helper modules) is imported
    first and not counted.
    """
    import importlib

    modules = dependencies_first(modules)
    runs: dict[str, list[float]] = {name: [] for name in modules}

    def timed_imports() -> dict[str, float]:
        for name in preload:
            importlib.import_module(name)
        costs = {}
        for name in modules:
            started = time.perf_counter()
            importlib.import_module(name)
            costs[name] = (time.perf_counter() - started) * 1000
        return costs

    for _ in range(repeat):
        costs = in_fork(timed_imports)
        if "error" in costs:
            raise SystemExit(f"importing the provider modules failed: {costs['error']}")
        for name, ms in costs.items():
            runs[name].append(ms)
    return sorted(((statistics.median(ms), name) for name, ms in runs.items()), reverse=True)


def summary(times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return f"mean {statistics.mean(ms):7.1f} ms  median {statistics.median(ms):7.1f} ms  min {min(ms):7.1f} ms"


def ratio_line(times: dict[str, list[float]], over: str, under: str, target: float | None = None) -> str:
    mean_ratio = statistics.mean(times[over]) / statistics.mean(times[under])
    median_ratio = statistics.median(times[over]) / statistics.median(times[under])
    line = f"ratio {over}/{under}: mean {mean_ratio:.3f}, median {median_ratio:.3f}"
    if target is not None:
        line += f" ({'meets' if median_ratio <= target else 'misses'} target <= {target})"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="parses per variant (default 30)")
    parser.add_argument("--slowest", type=int, default=10, help="list the N costliest provider modules (default 10)")
    args = parser.parse_args()

    prepare_parent()
    imports = provider_operator_imports(DAGS)
    stand_ins = StandIns(imports)
    variants = ("provider", "modules", "empty")
    times: dict[str, list[float]] = {variant: [] for variant in variants}
    last: dict[str, dict[str, Any]] = {}
    for round_ in range(args.repeat + 1):
        for variant in variants if round_ % 2 else variants[::-1]:
            result = in_forked_child(variant, stand_ins)
            if round_:  # round 0 warms the page cache for all
                times[variant].append(result["seconds"])
            last[variant] = result
    for variant in ("modules", "empty"):
        if last["provider"]["shapes"] != last[variant]["shapes"]:
            raise SystemExit(f"the {variant} stand-in DAGs differ in shape from the provider's: the comparison is void")

    shapes = last["provider"]["shapes"]
    tasks = sum(len(tasks) for tasks in shapes.values())
    classes = sum(len(names) for names in imports.values())
    print(f"dags/: {len(shapes)} DAGs, {tasks} tasks; {classes} provider operator classes from {len(imports)} modules")
    print(f"{args.repeat} parses per variant, each in a fresh fork of an Airflow-loaded parent (DagBag of dags/)")
    print("  provider: the provider's operators; modules: EmptyOperator stand-ins, one byte-compiled file per")
    print("  provider module; empty: the same stand-ins as in-memory modules (no import cost at all)")
    for variant in variants:
        heavy = ", ".join(last[variant]["heavy"]) or "none"
        print(
            f"  {variant:8} {summary(times[variant])}   "
            f"provider modules loaded: {len(last[variant]['provider_modules']):3}   heavy modules: {heavy}"
        )
    print(ratio_line(times, "provider", "empty", TARGET_RATIO))
    print(ratio_line(times, "modules", "empty") + "   (the floor of one module per operator)")
    print(ratio_line(times, "provider", "modules") + "   (the provider's own cost above that floor)")
    if args.slowest:
        print("costliest provider modules to import in a fresh parse process (median ms, own imports loaded first):")
        common = set(last["empty"]["provider_modules"]) - set(imports)
        own = [name for name in last["provider"]["provider_modules"] if name not in common]
        preload = [name for name in last["empty"]["provider_modules"] if name in common]
        for ms, module in module_costs(own, preload, repeat=10)[: args.slowest]:
            print(f"  {ms:6.2f} ms  {module}")


if __name__ == "__main__":
    main()
