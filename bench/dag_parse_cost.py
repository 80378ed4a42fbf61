"""DAG parse cost: dags/ with the provider's operators vs. the same DAG shapes built from EmptyOperator.

Run: ``.venv/bin/python bench/dag_parse_cost.py [--repeat 30]``

Each repetition parses the whole dags/ folder with Airflow's ``DagBag`` in a freshly forked child of a
parent that has imported Airflow (and EmptyOperator) but none of the provider's operators, as Airflow's DAG
processor forks a parser per file from an Airflow-loaded parent. In the "empty" variant every
``airflow_provider_cx.operators.<module>`` the DAG files import is replaced, before parsing, by a stand-in
module whose classes are EmptyOperators: they keep the task ids, the BaseOperator arguments and the
dependencies the operator's XComArg arguments create, and drop everything else. So the same DAG files,
unedited, give the same DAGs, tasks and edges (checked: the bench stops if any shape differs), and the
difference in time is what the provider's operator modules and constructors cost. The two variants
alternate, so drift on a busy machine hits both alike.

Prints per variant the mean, median and min parse time, then the ratio provider / empty (target
<= 1.05), and which heavy modules (grpc, google.cloud.dialogflowcx_v3) a parse imported.
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


def empty_stand_in(name: str, keywords: set[str]) -> type:
    """An EmptyOperator named like the provider's class: same task and edges, none of its own work."""
    import inspect

    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import BaseOperator
    from airflow.sdk.definitions.xcom_arg import XComArg

    base_arguments = set(inspect.signature(BaseOperator.__init__).parameters) - {"self", "kwargs"}

    def __init__(self: Any, **kwargs: Any) -> None:
        dropped = {key: value for key, value in kwargs.items() if key not in base_arguments}
        EmptyOperator.__init__(self, **{key: kwargs[key] for key in kwargs.keys() & base_arguments})
        for value in dropped.values():  # the provider's operator would depend on these through its templates
            for operator, _ in XComArg.iter_xcom_references(value):
                operator.set_downstream(self)

    stand_in = type(name, (EmptyOperator,), {"__init__": __init__, "template_fields": ()})
    # What Airflow's partial() checks keywords against (it reads the names from __init__'s signature).
    stand_in.__init__._BaseOperatorMeta__param_names = frozenset(keywords - base_arguments)
    return stand_in


def install_stand_ins(imports: dict[str, dict[str, set[str]]]) -> None:
    for module_name, classes in imports.items():
        module = types.ModuleType(module_name)
        for class_name, keywords in classes.items():
            setattr(module, class_name, empty_stand_in(class_name, keywords))
        sys.modules[module_name] = module


def parse_once(variant: str, imports: dict[str, dict[str, set[str]]]) -> dict[str, Any]:
    """In the forked child: parse dags/ and report the time, the DAG shapes and what got imported."""
    from airflow.dag_processing.dagbag import DagBag

    if variant == "empty":
        install_stand_ins(imports)
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
        "provider_modules": sum(1 for name in sys.modules if name.startswith("airflow_provider_cx")),
    }


def in_forked_child(variant: str, imports: dict[str, dict[str, set[str]]]) -> dict[str, Any]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: parse, write the JSON result, exit without running the parent's atexit hooks
        os.close(read_end)
        quiet = os.open(os.devnull, os.O_WRONLY)  # DagBag logs every fill; the figures are what matter
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        try:
            payload = json.dumps(parse_once(variant, imports)).encode()
        except BaseException as error:  # report anything, so the parent can name it
            payload = json.dumps({"error": repr(error)}).encode()
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        result = json.loads(pipe.read() or b'{"error": "the child wrote nothing"}')
    os.waitpid(pid, 0)
    if "error" in result:
        raise SystemExit(f"{variant} parse failed: {result['error']}")
    if result["import_errors"]:
        raise SystemExit(f"{variant} parse had import errors: {result['import_errors']}")
    return result


def prepare_parent() -> None:
    """What every parse child inherits: Airflow and EmptyOperator, none of the provider's operators."""
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


def slowest_provider_imports(imports: dict[str, dict[str, set[str]]], count: int) -> list[tuple[float, str]]:
    """(cumulative ms, module) of the provider modules that cost most to import after Airflow's own."""
    import subprocess

    code = "\n".join(
        [
            "import importlib, sys",
            f"sys.path[:0] = [{str(REPO)!r}, {str(DAGS)!r}]",
            *(f"importlib.import_module({name!r})" for name in ("airflow.sdk", *airflow_imports(DAGS))),
            "print('--provider--', file=sys.stderr, flush=True)",
            *(f"importlib.import_module({name!r})" for name in imports),
        ]
    )
    stderr = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, env=os.environ, check=True
    ).stderr
    rows = []
    for line in stderr.split("--provider--", 1)[-1].splitlines():
        parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[1].isdigit() and parts[2].startswith("airflow_provider_cx"):
            rows.append((int(parts[1]) / 1000, parts[2]))
    return sorted(rows, reverse=True)[:count]


def summary(times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return f"mean {statistics.mean(ms):7.1f} ms  median {statistics.median(ms):7.1f} ms  min {min(ms):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="parses per variant (default 30)")
    parser.add_argument("--slowest", type=int, default=8, help="list the N slowest provider imports (default 8)")
    args = parser.parse_args()

    prepare_parent()
    imports = provider_operator_imports(DAGS)
    variants = ("provider", "empty")
    times: dict[str, list[float]] = {variant: [] for variant in variants}
    last: dict[str, dict[str, Any]] = {}
    for round_ in range(args.repeat + 1):
        for variant in variants if round_ % 2 else variants[::-1]:
            result = in_forked_child(variant, imports)
            if round_:  # round 0 warms the page cache and .pyc files for both
                times[variant].append(result["seconds"])
            last[variant] = result
    if last["provider"]["shapes"] != last["empty"]["shapes"]:
        raise SystemExit("the EmptyOperator DAGs differ in shape from the provider's: the comparison is void")

    shapes = last["provider"]["shapes"]
    tasks = sum(len(tasks) for tasks in shapes.values())
    classes = sum(len(names) for names in imports.values())
    print(f"dags/: {len(shapes)} DAGs, {tasks} tasks; {classes} provider operator classes from {len(imports)} modules")
    print(f"{args.repeat} parses per variant, each in a fresh fork of an Airflow-loaded parent (DagBag of dags/)")
    for variant in variants:
        heavy = ", ".join(last[variant]["heavy"]) or "none"
        print(
            f"  {variant:8} {summary(times[variant])}   "
            f"provider modules loaded: {last[variant]['provider_modules']:3}   heavy modules: {heavy}"
        )
    mean_ratio = statistics.mean(times["provider"]) / statistics.mean(times["empty"])
    median_ratio = statistics.median(times["provider"]) / statistics.median(times["empty"])
    verdict = "meets" if median_ratio <= TARGET_RATIO else "misses"
    print(
        f"ratio provider/empty: mean {mean_ratio:.3f}, median {median_ratio:.3f} ({verdict} target <= {TARGET_RATIO})"
    )
    if args.slowest:
        print("slowest provider imports after Airflow's (python -X importtime, cumulative ms, one run):")
        for ms, module in slowest_provider_imports(imports, args.slowest):
            print(f"  {ms:7.1f} ms  {module}")


if __name__ == "__main__":
    main()
