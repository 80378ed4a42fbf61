"""Importing the provider and its Airflow-facing modules must not import grpc or the CX client library.

Both cost about a second of DAG parse time, every time a DAG file is parsed. Checked in a fresh
interpreter (pytest's own process has long imported both) by looking at ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import airflow_provider_cx

PACKAGE_ROOT = Path(airflow_provider_cx.__file__).parent
#: Subpackages whose modules DAG files import: checked for grpc and the CX library.
AIRFLOW_FACING = ("hooks", "operators", "triggers", "links", "resource_names")
#: Pure agent-package code: reused by operators, so it must not pull grpc in either.
PURE = ("package", "reports", "flow_reachability")
# emulator/ is a gRPC server and is deliberately not checked; nor is anything else not listed above.

CHECK = r"""
import importlib, json, sys

def heavy():
    return [root for root in ("grpc", "google.cloud.dialogflowcx_v3") if root in sys.modules]

offenders = {}
for module in json.loads(sys.argv[1]):
    importlib.import_module(module)
    if heavy():
        offenders[module] = heavy()
        break  # later modules would only inherit the pollution
print(json.dumps({"offenders": offenders, "checked": len(json.loads(sys.argv[1]))}))
"""


def discover(*subpackages: str) -> list[str]:
    """Module names under the given subpackages (or top-level modules), found without importing them."""
    found = []
    for info in pkgutil.iter_modules([str(PACKAGE_ROOT)]):
        if info.name not in subpackages:
            continue
        name = f"airflow_provider_cx.{info.name}"
        found.append(name)
        if info.ispkg:
            found += _walk(PACKAGE_ROOT / info.name, name)
    return found


def _walk(path: Path, prefix: str) -> list[str]:
    names = []
    for info in pkgutil.iter_modules([str(path)]):
        if info.name == "__main__":  # a CLI entry point, not imported by anything
            continue
        name = f"{prefix}.{info.name}"
        names.append(name)
        if info.ispkg:
            names += _walk(path / info.name, name)
    return names


def run_in_fresh_interpreter(code: str, argument: object) -> object:
    """Run ``code`` with ``argument`` as JSON in ``sys.argv[1]``; the JSON its last output line prints."""
    env = {key: value for key, value in os.environ.items() if key != "GRPC_ENABLE_FORK_SUPPORT"}
    completed = subprocess.run(
        [sys.executable, "-c", code, json.dumps(argument)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def import_in_fresh_interpreter(modules: list[str]) -> dict:
    return run_in_fresh_interpreter(CHECK, modules)


def test_provider_and_airflow_facing_modules_do_not_import_grpc_or_cx():
    modules = ["airflow_provider_cx", *discover(*AIRFLOW_FACING)]
    assert {"airflow_provider_cx.hooks.dialogflow_cx", "airflow_provider_cx.links"} <= set(modules)
    result = import_in_fresh_interpreter(modules)
    assert result["offenders"] == {}
    assert result["checked"] == len(modules)


def test_package_code_does_not_import_grpc_or_cx():
    modules = discover(*PURE)
    assert "airflow_provider_cx.package.model" in modules
    result = import_in_fresh_interpreter(modules)
    assert result["offenders"] == {}


def test_the_check_catches_a_module_that_imports_grpc():
    """A control: a module list that does pull grpc in is reported, so the check above can fail."""
    result = import_in_fresh_interpreter(["airflow_provider_cx.links", "google.cloud.dialogflowcx_v3"])
    assert result["offenders"] == {"google.cloud.dialogflowcx_v3": ["grpc", "google.cloud.dialogflowcx_v3"]}


#: Agent-package analysis code that only runs inside tasks; loading it at DAG parse time more than
#: doubled the parse cost of dags/ (bench/dag_parse_cost.py), so operator modules import it lazily.
EXECUTE_TIME_ONLY = (
    "airflow_provider_cx.package.lint",
    "airflow_provider_cx.package.diff",
    "airflow_provider_cx.package.reports",
)

LOADED_AFTER_IMPORT = r"""
import importlib, json, sys

modules, watched = json.loads(sys.argv[1])
for module in modules:
    importlib.import_module(module)
print(json.dumps(sorted(name for name in sys.modules if name in watched)))
"""


def execute_time_modules_loaded_by(modules: list[str]) -> list[str]:
    """Which of :data:`EXECUTE_TIME_ONLY` a fresh interpreter has loaded after importing ``modules``."""
    return run_in_fresh_interpreter(LOADED_AFTER_IMPORT, [modules, list(EXECUTE_TIME_ONLY)])


def test_operator_trigger_and_link_modules_leave_package_analysis_to_execute_time():
    modules = discover("operators", "triggers", "links", "storage", "reports")
    assert {"airflow_provider_cx.operators.lint_package", "airflow_provider_cx.reports.test_case_report"} <= set(
        modules
    )
    assert execute_time_modules_loaded_by(modules) == []


def test_the_parse_time_check_catches_an_eager_import():
    """A control: importing the reports module is reported, with the lint package it pulls in."""
    loaded = execute_time_modules_loaded_by(["airflow_provider_cx.package.reports"])
    assert loaded == ["airflow_provider_cx.package.lint", "airflow_provider_cx.package.reports"]


#: The operator modules DAG files import (one operator class each) ...
OPERATOR_MODULES = tuple(
    f"airflow_provider_cx.operators.{name}"
    for name in (
        "calculate_coverage",
        "create_versions",
        "deploy_environment",
        "detect_intent",
        "diff_packages",
        "export_agent",
        "lint_package",
        "restore_agent",
        "rollback_environment",
        "run_continuous_test",
        "run_test_cases",
        "validate_agent",
    )
)
#: ... and everything of the provider they may load at DAG parse time. Anything else a task needs
#: (validation findings, environment history, utterance tables, lookups, the hook) is imported when it
#: runs: each module loaded here is paid again by every parse of every DAG file (bench/dag_parse_cost.py).
PARSE_TIME_MODULES = {
    "airflow_provider_cx",
    "airflow_provider_cx.hooks",
    "airflow_provider_cx.hooks.connection_form",
    "airflow_provider_cx.hooks.errors",
    "airflow_provider_cx.hooks.fork_support",
    "airflow_provider_cx.hooks.release_marks",
    "airflow_provider_cx.links",
    "airflow_provider_cx.operators",
    "airflow_provider_cx.operators.base",
    "airflow_provider_cx.operators.errors",
    "airflow_provider_cx.reports",
    "airflow_provider_cx.reports.thresholds",
    "airflow_provider_cx.resource_names",
    "airflow_provider_cx.storage",
    *OPERATOR_MODULES,
}

PROVIDER_MODULES_AFTER_IMPORT = r"""
import importlib, json, sys

for module in json.loads(sys.argv[1]):
    importlib.import_module(module)
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] == "airflow_provider_cx")))
"""


def provider_modules_loaded_by(modules: list[str]) -> set[str]:
    return set(run_in_fresh_interpreter(PROVIDER_MODULES_AFTER_IMPORT, modules))


def test_operator_modules_load_only_the_parse_time_set():
    assert provider_modules_loaded_by(list(OPERATOR_MODULES)) - PARSE_TIME_MODULES == set()


def test_the_parse_time_set_check_catches_an_extra_module():
    """A control: a module outside the set (here the validation findings) is reported."""
    loaded = provider_modules_loaded_by([OPERATOR_MODULES[0], "airflow_provider_cx.reports.validation_findings"])
    assert loaded - PARSE_TIME_MODULES == {"airflow_provider_cx.reports.validation_findings"}
