"""DAG integrity: dags/ parses without errors or cycles, into the expected graphs, fast, without grpc.

Parsing happens in a fresh interpreter the way the dag-processor does it (``BundleDagBag``, which puts
the folder on ``sys.path`` so the helper modules import), with the repository's ``cx_config.json``.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
EXPECTED_DAGS = {"cx_release_promotion", "cx_scheduled_validation", "cx_agent_backup"}

PARSE = r"""
import json, sys, time
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
folder = Path(sys.argv[1])
started = time.perf_counter()
bag = BundleDagBag(dag_folder=folder, bundle_path=folder, bundle_name="dags-folder")
seconds = time.perf_counter() - started
dags = {}
for dag_id, dag in bag.dags.items():
    dag.check_cycle()
    dags[dag_id] = {
        "schedule": str(getattr(dag.timetable, "expression", None) or type(dag.timetable).__name__),
        "params": sorted(dag.params),
        "tasks": {
            task.task_id: {
                "downstream": sorted(task.downstream_task_ids),
                "trigger_rule": getattr(task.trigger_rule, "value", task.trigger_rule),
                "operator": type(task).__name__,
                "outlets": [getattr(outlet, "name", str(outlet)) for outlet in task.outlets or ()],
                "deferrable": getattr(task, "deferrable", None),
                "profile": getattr(task, "profile", None),
                "only_changed": getattr(task, "only_changed", None),
                "environment": getattr(task, "environment", None),
                "stage_profile": getattr(task, "stage_profile", None),
                "substitutions": getattr(task, "substitutions", None),
            }
            for task in dag.tasks
        },
    }
heavy = [name for name in ("grpc", "google.cloud.dialogflowcx_v3") if name in sys.modules]
per_file = {Path(stat.file).name: stat.duration.total_seconds() for stat in bag.dagbag_stats}
print(json.dumps({"errors": bag.import_errors, "dags": dags, "seconds": seconds, "heavy": heavy,
                  "files": sorted(per_file), "per_file": per_file}))
"""


def parse_dags(tmp_path: Path, config: Path | None = None) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW__")}
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        }
    )
    env.pop("CX_PIPELINE_CONFIG", None)
    if config is not None:
        env["CX_PIPELINE_CONFIG"] = str(config)
    completed = subprocess.run(
        [sys.executable, "-c", PARSE, str(DAGS)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return parse_dags(tmp_path_factory.mktemp("parse"))


def edges(dag: dict[str, Any]) -> set[tuple[str, str]]:
    return {(task_id, down) for task_id, task in dag["tasks"].items() for down in task["downstream"]}


def test_every_dag_parses_without_import_errors_or_cycles(parsed: dict[str, Any]) -> None:
    assert parsed["errors"] == {}
    assert set(parsed["dags"]) == EXPECTED_DAGS


def test_parsing_imports_neither_grpc_nor_the_cx_client_library(parsed: dict[str, Any]) -> None:
    assert parsed["heavy"] == []


def test_helper_modules_are_ignored_by_the_dag_processor(parsed: dict[str, Any]) -> None:
    assert parsed["files"] == sorted(f"{dag_id}.py" for dag_id in EXPECTED_DAGS)


def test_parse_time_is_measured_and_printed(parsed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    # Reported, not held to a budget (timings belong to bench/); it must be a real measurement of each file.
    per_file = parsed["per_file"]
    assert set(per_file) == {f"{dag_id}.py" for dag_id in EXPECTED_DAGS}
    assert all(seconds > 0 for seconds in per_file.values())
    with capsys.disabled():  # shown in every run, not only with -s
        files = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in sorted(per_file.items()))
        print(f"\nDAG parse time: {len(parsed['dags'])} DAGs in {parsed['seconds']:.2f} s ({files})")


def test_release_promotion_runs_the_gates_in_the_order_the_issue_lists(parsed: dict[str, Any]) -> None:
    dag = parsed["dags"]["cx_release_promotion"]
    chain = [
        "prepare_release",
        "export_dev",
        "lint_package",
        "stage_package_staging",
        "restore_staging",
        "validate_staging",
        "test_staging",
        "version_staging",
        "deploy_staging",
        "approve_prod",
        "stage_package_prod",
        "restore_prod",
        "validate_prod",
        "test_prod",
        "version_prod",
        "deploy_prod",
        "smoke_test_prod",
        "summarize_release",
    ]
    assert set(itertools.pairwise(chain)) <= edges(dag)
    assert {("export_dev", "export_prod_current"), ("export_prod_current", "diff_release")} <= edges(dag)
    assert ("diff_release", "approve_prod") in edges(dag)
    assert dag["tasks"]["approve_prod"]["operator"] == "CXReleaseApprovalOperator"  # an ApprovalOperator
    assert dag["tasks"]["smoke_test_prod"]["operator"] == "CXDetectIntentOperator"
    assert {dag["tasks"][f"stage_package_{stage}"]["operator"] for stage in ("staging", "prod")} == {
        "CXStagePackageOperator"
    }
    assert dag["schedule"] == "NullTimetable"
    assert {"dev_agent", "staging_agent", "prod_agent", "release_id", "artifacts_base"} <= set(dag["params"])


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_a_failed_gate_after_a_restore_rolls_that_stage_back(parsed: dict[str, Any], stage: str) -> None:
    dag = parsed["dags"]["cx_release_promotion"]
    gates = {f"{step}_{stage}" for step in ("stage_package", "restore", "validate", "test", "version", "deploy")}
    if stage == "prod":
        gates.add("smoke_test_prod")
    assert {task for task, down in edges(dag) if down == f"plan_rollback_{stage}"} == gates
    assert dag["tasks"][f"plan_rollback_{stage}"]["trigger_rule"] == "one_failed"
    assert dag["tasks"][f"plan_rollback_{stage}"]["downstream"] == [f"rollback_{stage}"]
    assert dag["tasks"][f"rollback_{stage}"]["operator"] == "CXRollbackEnvironmentOperator"
    assert dag["tasks"][f"rollback_{stage}"]["downstream"] == ["summarize_release"]


def test_the_release_summary_is_the_only_leaf_and_runs_whatever_happened(parsed: dict[str, Any]) -> None:
    dag = parsed["dags"]["cx_release_promotion"]
    assert [task for task, spec in dag["tasks"].items() if not spec["downstream"]] == ["summarize_release"]
    assert dag["tasks"]["summarize_release"]["trigger_rule"] == "all_done"


def test_scheduled_validation_maps_its_checks_and_summarizes_them(parsed: dict[str, Any]) -> None:
    dag = parsed["dags"]["cx_scheduled_validation"]
    assert {task["operator"] for task in dag["tasks"].values()} >= {"MappedOperator"}
    assert edges(dag) == {
        ("plan_validation", "validate"),
        ("plan_coverage", "coverage"),
        ("plan_test_runs", "run_test_cases"),
        ("validate", "summarize_validation"),
        ("coverage", "summarize_validation"),
        ("run_test_cases", "summarize_validation"),
    }
    assert dag["tasks"]["summarize_validation"]["trigger_rule"] == "all_done"
    assert dag["schedule"] == "0 6 * * *"
    assert {"targets", "artifacts_base"} <= set(dag["params"])


def test_backup_exports_each_target_draft_and_environment_as_an_asset(parsed: dict[str, Any]) -> None:
    dag = parsed["dags"]["cx_agent_backup"]
    exports = {task_id: spec for task_id, spec in dag["tasks"].items() if task_id.startswith("export_")}
    assert {spec["outlets"][0] for spec in exports.values()} == {
        "cx_backup.staging.draft",
        "cx_backup.staging.staging",
        "cx_backup.prod.draft",
        "cx_backup.prod.production",
    }
    assert all(spec["downstream"] == ["prune_backups"] for spec in exports.values())
    assert dag["tasks"]["prune_backups"]["trigger_rule"] == "all_done"


def test_a_config_file_named_by_the_environment_variable_is_used(tmp_path: Path) -> None:
    config = json.loads((DAGS / "cx_config.json").read_text())
    config["targets"] = [{"key": "eu", "agent": "projects/p/locations/europe-west1/agents/a", "environments": ["x"]}]
    path = tmp_path / "other.json"
    path.write_text(json.dumps(config))

    dag = parse_dags(tmp_path, path)["dags"]["cx_agent_backup"]

    assert set(dag["tasks"]) == {"export_eu_draft", "export_eu_x", "prune_backups"}


def test_each_stage_package_task_gets_its_stage_profile_from_the_config(tmp_path: Path) -> None:
    config = json.loads((DAGS / "cx_config.json").read_text())
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "staging.json").write_text(json.dumps({"stage": "staging"}))
    config["stages"]["staging"]["profile"] = "profiles/staging.json"  # relative to the config file
    config["stages"]["prod"]["profile"] = "gs://acme-release/profiles/prod.json"
    path = tmp_path / "with-profiles.json"
    path.write_text(json.dumps(config))

    tasks = parse_dags(tmp_path, path)["dags"]["cx_release_promotion"]["tasks"]

    assert tasks["stage_package_staging"]["profile"] == str(tmp_path / "profiles" / "staging.json")
    assert tasks["stage_package_prod"]["profile"] == "gs://acme-release/profiles/prod.json"
    # The restore puts in the secrets of the profile that wrote the package (markers in storage).
    assert tasks["restore_staging"]["stage_profile"] == tasks["stage_package_staging"]["profile"]
    assert tasks["restore_prod"]["stage_profile"] == "gs://acme-release/profiles/prod.json"
    # The release notes list staging's substitutions, so the diff waits for staging's package.
    assert tasks["stage_package_staging"]["downstream"] == ["diff_release", "plan_rollback_staging", "restore_staging"]
    assert tasks["diff_release"]["substitutions"] == (
        "{{ ti.xcom_pull(task_ids='stage_package_staging')['change_list']['json'] }}"
    )


def test_the_release_waits_for_test_runs_and_version_creates_in_the_triggerer_as_configured(
    parsed: dict[str, Any], tmp_path: Path
) -> None:
    waits = ("test_staging", "test_prod", "version_staging", "version_prod")
    shipped = parsed["dags"]["cx_release_promotion"]["tasks"]
    assert {task: shipped[task]["deferrable"] for task in waits} == dict.fromkeys(waits, True)

    config = json.loads((DAGS / "cx_config.json").read_text())
    config["deferrable_versions"] = False
    path = tmp_path / "no-deferred-versions.json"
    path.write_text(json.dumps(config))
    tasks = parse_dags(tmp_path, path)["dags"]["cx_release_promotion"]["tasks"]

    assert {task: tasks[task]["deferrable"] for task in waits} == {
        "test_staging": True,
        "test_prod": True,
        "version_staging": False,
        "version_prod": False,
    }


def test_a_broken_config_is_an_import_error_naming_the_key(tmp_path: Path) -> None:
    config = json.loads((DAGS / "cx_config.json").read_text())
    config["stages"]["prod"]["agent"] = "projects/p/agents/no-location"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(config))

    errors = parse_dags(tmp_path, path)["errors"]

    assert {Path(name).name for name in errors} == {f"{dag_id}.py" for dag_id in EXPECTED_DAGS}
    assert all("stages.prod.agent" in trace for trace in errors.values())


def test_the_release_versions_only_the_changed_flows_unless_configured(parsed: dict[str, Any], tmp_path: Path) -> None:
    stages = ("staging", "prod")
    shipped = parsed["dags"]["cx_release_promotion"]["tasks"]
    for stage in stages:
        task = shipped[f"version_{stage}"]
        assert task["only_changed"] is True
        # Compared with the environment the stage's deploy task serves (the same param).
        assert task["environment"] == f"{{{{ params.{stage}_environment }}}}"

    config = json.loads((DAGS / "cx_config.json").read_text())
    config.setdefault("release", {})["version_all_flows"] = True
    path = tmp_path / "version-all-flows.json"
    path.write_text(json.dumps(config))
    tasks = parse_dags(tmp_path, path)["dags"]["cx_release_promotion"]["tasks"]

    assert [tasks[f"version_{stage}"]["only_changed"] for stage in stages] == [False, False]
