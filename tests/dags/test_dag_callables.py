"""The Python pieces of the DAG files, called directly: approval text, rollback planning, backup retention."""

from __future__ import annotations

import importlib.util
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import jinja2
import pytest
from airflow.sdk.exceptions import AirflowSkipException

DAGS = Path(__file__).resolve().parents[2] / "dags"


def load_dag_module(
    name: str, monkeypatch: pytest.MonkeyPatch, config: dict[str, Any] | None, tmp_path: Path
) -> ModuleType:
    """A fresh import of ``dags/<name>.py`` reading ``config`` (default: the shipped one)."""
    if config is not None:
        path = tmp_path / f"{name}-config.json"
        path.write_text(json.dumps(config))
        monkeypatch.setenv("CX_PIPELINE_CONFIG", str(path))
    else:
        monkeypatch.delenv("CX_PIPELINE_CONFIG", raising=False)
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", DAGS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeTaskInstance:
    """``ti.xcom_pull`` answered from a dict keyed by (task id, key)."""

    def __init__(self, xcoms: dict[tuple[str, str], Any]) -> None:
        self.xcoms = xcoms

    def xcom_pull(self, task_ids: str, key: str = "return_value", **_: Any) -> Any:
        return self.xcoms.get((task_ids, key))


@pytest.fixture
def release(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    return load_dag_module("cx_release_promotion", monkeypatch, None, tmp_path)


def render_approval(release: ModuleType, ti: FakeTaskInstance, params: dict[str, str]) -> str:
    """The approval body as Airflow renders it: with the DAG's own Jinja filters."""
    assert release.dag.user_defined_filters == release.TEMPLATE_FILTERS
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.filters.update(release.TEMPLATE_FILTERS)
    return environment.from_string(release.APPROVAL_BODY).render(ti=ti, params=params)


def test_the_approval_request_says_what_passed_and_what_changes(release: ModuleType) -> None:
    ti = FakeTaskInstance(
        {
            ("prepare_release", "release_id"): "rel-7",
            ("test_staging", "cx_test_run"): {"passed": 11, "total": 11},
            ("diff_release", "return_value"): {
                "summary": {"intent": {"changed": 1}, "trainingPhrase": {"added": 1}},
                "reports": {"markdown": "file:///r/release-notes.md"},
            },
            ("stage_package_staging", "return_value"): {
                "changes": 2,
                "change_list": {"markdown": "file:///r/stages/staging.changes.md"},
            },
            ("version_staging", "cx_versions"): {
                "only_changed": True,
                "impacted": ["Transfers", "Default Start Flow"],
                "unchanged": {"Branch Finder": "projects/s/locations/l/agents/a/flows/b/versions/3"},
            },
        }
    )
    params = {
        "staging_agent": "projects/s/locations/l/agents/a",
        "staging_environment": "staging",
        "prod_agent": "projects/p/locations/l/agents/b",
        "prod_environment": "production",
    }

    body = render_approval(release, ti, params)

    assert "Release **rel-7** passed staging" in body
    assert "11 of 11 test cases passed" in body
    assert "- intent: 0 added, 0 removed, 1 changed" in body
    assert "- trainingPhrase: 1 added, 0 removed, 0 changed" in body
    assert "Release notes: file:///r/release-notes.md" in body
    assert "with 2 substitution(s) from its stage profile" in body
    assert "masked): file:///r/stages/staging.changes.md." in body
    assert "`projects/p/locations/l/agents/b`, environment production" in body
    assert "Flows this release changed (versioned in staging): Transfers, Default Start Flow;" in body
    assert "unchanged, keeping their version: Branch Finder." in body


def test_the_approval_request_escapes_every_value_a_user_or_an_agent_controls(release: ModuleType) -> None:
    hostile = "x)\n# Approved by security\n[click](https://evil.example) <b>|"
    ti = FakeTaskInstance(
        {
            ("prepare_release", "release_id"): "rel-*7*",
            ("test_staging", "cx_test_run"): {"passed": "11<script>", "total": 11},
            ("diff_release", "return_value"): {
                "summary": {"[intent](https://evil.example)": {"changed": 1}},
                "reports": {"markdown": "file:///r/notes.md)\n# injected"},
            },
            ("stage_package_staging", "return_value"): {
                "changes": 2,
                "change_list": {"markdown": "file:///r/c.md <img src=x>"},
            },
        }
    )
    params = {
        "staging_agent": "projects/s/locations/l/agents/a`) **approved**",
        "staging_environment": hostile,
        "prod_agent": "projects/p/locations/l/agents/b",
        "prod_environment": hostile,
    }

    body = render_approval(release, ti, params)

    assert "\n# " not in body  # no value starts a heading
    assert not re.search(r"(?<!\\)\]\(", body)  # nor makes a link: every "](" is escaped
    assert not re.search(r"(?<!\\)<", body)  # nor HTML: every "<" is escaped
    assert "script" not in body
    assert "Release **rel-\\*7\\*** passed staging" in body
    assert "0 of 11 test cases passed" in body  # a count that is not a number shows as 0
    assert "``projects/s/locations/l/agents/a`) **approved**``" in body
    assert "- \\[intent\\](https://evil.example): 0 added, 0 removed, 1 changed" in body  # escaped, inert


def test_nothing_is_rolled_back_when_the_stage_was_never_restored(release: ModuleType) -> None:
    with pytest.raises(AirflowSkipException, match="prod was never restored"):
        release.plan_rollback.function("prod", ti=FakeTaskInstance({}))


def test_a_restored_stage_rolls_back_to_its_backup_and_recorded_environment(release: ModuleType) -> None:
    before = {"environment": "projects/p/locations/l/agents/a/environments/e", "version_configs": [], "created": False}
    ti = FakeTaskInstance(
        {
            ("restore_staging", "backup_uri"): "file:///r/backups/staging-before.zip",
            ("deploy_staging", "cx_environment_before"): before,
        }
    )

    plan = release.plan_rollback.function("staging", ti=ti)

    assert plan == {"restore_from": "file:///r/backups/staging-before.zip", "previous_configuration": before}


def test_a_failure_before_the_deploy_restores_the_agent_and_leaves_the_environment(release: ModuleType) -> None:
    ti = FakeTaskInstance({("restore_prod", "backup_uri"): "file:///r/backups/prod-before.zip"})

    assert release.plan_rollback.function("prod", ti=ti)["previous_configuration"] is None


def test_retention_deletes_the_oldest_backups_of_each_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = json.loads((DAGS / "cx_config.json").read_text())
    config["artifacts_base"] = (tmp_path / "artifacts").as_uri()
    backup = load_dag_module("cx_agent_backup", monkeypatch, config, tmp_path)
    folder = Path(backup.CONFIG.backup_folder("prod", "production").removeprefix("file://"))
    for run in ("20250101T020000", "20250102T020000", "20250103T020000"):
        (folder / run).mkdir(parents=True)
        (folder / run / "agent.zip").write_bytes(b"zip")

    pruned = backup.prune_backups.function(2)

    assert sorted(path.name for path in folder.iterdir()) == ["20250102T020000", "20250103T020000"]
    assert list(pruned.values()) == [["20250101T020000"]]


class FakeDagRun:
    run_after = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def release_params(tmp_path: Path, **overrides: str) -> dict[str, str]:
    params = {
        "dev_agent": "projects/d/locations/global/agents/a",
        "staging_agent": "projects/s/locations/global/agents/a",
        "prod_agent": "projects/p/locations/global/agents/a",
        "release_id": "",
        "artifacts_base": (tmp_path / "artifacts").as_uri(),
    }
    return {**params, **overrides}


def test_a_release_gets_an_id_and_a_folder_under_the_artifacts_base(release: ModuleType, tmp_path: Path) -> None:
    prepared = release.prepare_release.function(
        params=release_params(tmp_path), run_id="manual__1", dag_run=FakeDagRun()
    )

    assert prepared["release_id"].startswith("rel-20250304-050607-")
    assert prepared["folder"] == f"{(tmp_path / 'artifacts').as_uri()}/releases/{prepared['release_id']}"


def test_a_release_id_given_as_a_param_is_used(release: ModuleType, tmp_path: Path) -> None:
    params = release_params(tmp_path, release_id="2025.03-hotfix")

    prepared = release.prepare_release.function(params=params, run_id="manual__1", dag_run=FakeDagRun())

    assert prepared["release_id"] == "2025.03-hotfix"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"prod_agent": "projects/s/locations/global/agents/a"}, "three different agents"),
        ({"release_id": "release 1"}, "release_id 'release 1' must be"),
        ({"release_id": ".."}, "params.release_id '..' must be"),
        ({"release_id": "."}, "params.release_id '.' must be"),
        ({"release_id": "../../etc"}, "params.release_id '../../etc' must be"),
        ({"release_id": "-rf"}, "params.release_id '-rf' must be"),
        ({"release_id": "rel\x1b[2J"}, "params.release_id"),
        ({"artifacts_base": "ARTIFACTS/../escape"}, "params.artifacts_base .* '..' segment"),
        ({"artifacts_base": "relative/artifacts"}, "params.artifacts_base 'relative/artifacts' must be an absolute"),
    ],
)
def test_a_release_with_bad_params_stops_before_anything_changes(
    release: ModuleType, tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    overrides = {key: value.replace("ARTIFACTS", (tmp_path / "artifacts").as_uri()) for key, value in overrides.items()}
    with pytest.raises(ValueError, match=message):
        release.prepare_release.function(params=release_params(tmp_path, **overrides), run_id="r", dag_run=FakeDagRun())
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_the_release_id_param_form_refuses_what_the_first_task_would(release: ModuleType) -> None:
    """The trigger form validates against the Param's pattern; an empty id (generate one) stays valid."""
    from airflow.sdk.definitions.param import ParamValidationError

    param = release.dag.params.get_param("release_id")
    assert param.resolve("") == ""
    assert param.resolve("2025.03-hotfix") == "2025.03-hotfix"
    for bad in ("..", ".", "-rf", "a/b", "a" * 65):
        with pytest.raises(ParamValidationError):
            param.resolve(bad)


@pytest.fixture
def validation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    return load_dag_module("cx_scheduled_validation", monkeypatch, None, tmp_path)


def validation_params(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    targets = [{"key": "prod", "agent": "projects/p/locations/global/agents/a", "environments": ["production"]}]
    return {"targets": targets, "artifacts_base": (tmp_path / "artifacts").as_uri(), **overrides}


def test_scheduled_validation_plans_reports_under_the_artifacts_base(validation: ModuleType, tmp_path: Path) -> None:
    planned = validation.plan(validation_params(tmp_path, artifacts_base=f"{tmp_path}/artifacts/"), FakeDagRun())

    assert planned["folder"] == f"{(tmp_path / 'artifacts').as_uri()}/validation/20250304T050607"
    assert planned["tests"][0]["report_destination"] == f"{planned['folder']}/prod/production"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"artifacts_base": "file:///srv/cx/../../etc"}, "params.artifacts_base .* '..' segment"),
        ({"artifacts_base": "gs://bucket//tmp"}, "params.artifacts_base .* empty"),
        (
            {"targets": [{"key": "prod", "agent": "projects/p/locations/global/agents/a", "enviroments": ["x"]}]},
            r"unknown key 'enviroments' at targets\[0\].enviroments; did you mean environments\?",
        ),
    ],
)
def test_scheduled_validation_refuses_bad_params_in_its_first_tasks(
    validation: ModuleType, tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    params = validation_params(tmp_path, **overrides)
    with pytest.raises(ValueError, match=message):
        validation.plan_checks.function("validate", params=params, dag_run=FakeDagRun())
    assert sorted(path.name for path in tmp_path.iterdir()) == []


class SummaryTaskInstance(FakeTaskInstance):
    """What summarize_release asks of its ti: XComs (recorded), task states and Airflow's breadcrumbs."""

    def __init__(self, xcoms: dict[tuple[str, str], Any], states: dict[str, str]) -> None:
        super().__init__(xcoms)
        self.states = states
        self.pulled: list[tuple[str, str]] = []

    def xcom_pull(self, task_ids: str, key: str = "return_value", **_: Any) -> Any:
        self.pulled.append((task_ids, key))
        return super().xcom_pull(task_ids, key)

    def get_task_states(self, dag_id: str, run_ids: list[str]) -> dict[str, dict[str, str]]:
        return {run_ids[0]: self.states}

    def get_task_breadcrumbs(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return [{"task_id": "approve_prod", "map_index": -1, "duration": 30.0}]


def test_a_rejected_release_is_summarized_without_asking_for_xcoms_of_skipped_gates(
    release: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = "projects/p/locations/l/agents/prod"
    served = [f"{agent}/flows/start/versions/3"]
    monkeypatch.setattr(
        release, "served_versions", lambda stage, params: (served, {f"{agent}/flows/start": "Default Start Flow"}, "")
    )
    states = {task: "success" for task, _ in release.GATES}
    for task, _ in release.GATES:
        if (task.endswith("_prod") and task != "approve_prod") or task.startswith("rollback"):
            states[task] = "skipped"
    ti = SummaryTaskInstance(
        {
            ("prepare_release", "folder"): tmp_path.as_uri(),
            ("prepare_release", "release_id"): "rel-9",
            ("approve_prod", "cx_approval"): {"choice": "Reject", "by": "bob", "at": "2026-01-01T00:02:00+00:00"},
            ("approve_prod", "cx_started"): "2026-01-01T00:01:00+00:00",
            ("export_dev", "return_value"): {"uri": (tmp_path / "dev-export.zip").as_uri(), "sha256": "ab" * 32},
            ("deploy_staging", "cx_environment_before"): {"version_configs": []},
        },
        states,
    )
    dag_run = type("Run", (), {"dag_id": "d", "run_id": "manual__9", "start_date": datetime(2026, 1, 1, tzinfo=UTC)})
    params = {
        f"{stage}_{field}": f"{stage}-{field}"
        for stage in ("dev", "staging", "prod")
        for field in ("agent", "environment")
    }

    result = release.summarize_release.function(params=params, dag_run=dag_run, ti=ti)

    assert result["outcome"] == "rejected"
    skipped = {task for task, state in states.items() if state == "skipped"}
    assert not [pull for pull in ti.pulled if pull[0] in skipped]  # no "XCom not found" for skipped gates
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["run_id"] == "manual__9"
    assert summary["start"] == "2026-01-01T00:00:00+00:00"
    assert summary["approval"] == {"choice": "Reject", "by": "bob", "at": "2026-01-01T00:02:00+00:00"}
    gates = {row["task"]: row for row in summary["gates"]}
    assert gates["approve_prod"]["end"] == "2026-01-01T00:01:30+00:00"
    assert summary["package"]["uri"] == "dev-export.zip"
    assert summary["environments"]["prod"]["versions_before"] == {"Default Start Flow": served[0]}
    assert summary["environments"]["prod"]["versions_after"] == {"Default Start Flow": served[0]}
    assert summary["environments"]["staging"]["versions_before"] == {}
    assert "# Release rel-9: rejected" in (tmp_path / "summary.md").read_text()


def test_every_task_records_when_it_started(release: ModuleType) -> None:
    ti = mock.Mock(start_date=datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC))
    release.record_start({"ti": ti})
    ti.xcom_push.assert_called_once_with(key=release.STARTED_XCOM_KEY, value="2026-01-01T00:00:05+00:00")
    assert release.dag.default_args["on_execute_callback"] is release.record_start


def test_an_environment_that_cannot_be_read_is_recorded_with_the_reason(
    release: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_cx.hooks import dialogflow_cx
    from airflow_provider_cx.hooks.errors import CXHookError

    class UnreachableHook:
        def __init__(self, **_: Any) -> None:
            pass

        def list_flows(self, agent: str) -> list[Any]:
            raise CXHookError(f"UNAVAILABLE: cannot reach CX for {agent}")

    monkeypatch.setattr(dialogflow_cx, "DialogflowCXHook", UnreachableHook)
    params = {"prod_agent": "projects/p/locations/l/agents/a", "prod_environment": "production"}

    now, flows, error = release.served_versions("prod", params)

    assert (now, flows) == (None, {})
    assert error == "CXHookError: UNAVAILABLE: cannot reach CX for projects/p/locations/l/agents/a"
    record = release.environment_record("prod", params, FakeTaskInstance({}), {"deploy_prod": "skipped"})
    assert record["versions_after"] is None
    assert record["note"].endswith(
        "could not be read: CXHookError: UNAVAILABLE: cannot reach CX for " + params["prod_agent"]
    )
