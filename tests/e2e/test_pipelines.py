"""End to end: the repository's DAGs under a real scheduler (LocalExecutor), against the emulator process.

Driven only through Airflow's REST API, the emulator's admin interface and the files the runs write.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import pytest

from airflow_provider_cx import storage
from airflow_provider_cx.demo.__main__ import approve_until_done, print_report
from airflow_provider_cx.demo.agents import breaking_change, sample_package
from airflow_provider_cx.demo.stack import STARTUP_TIMEOUT
from airflow_provider_cx.emulator.testing import zip_files_as_json

from .conftest import PREVIEW, PipelineWorld, task_log_lines
from .release_record import broken_links, check_record, copied_elsewhere

# The first test also starts the module's stack (up to STARTUP_TIMEOUT on a loaded machine).
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(int(STARTUP_TIMEOUT) + 300)]

RELEASE = "cx_release_promotion"
VALIDATION = "cx_scheduled_validation"
BACKUP = "cx_agent_backup"
#: Tasks of the release pipeline that call Dialogflow CX.
CX_TASKS = (
    "export_dev",
    "export_prod_current",
    *(
        f"{step}_{stage}"
        for stage in ("staging", "prod")
        for step in ("restore", "validate", "test", "version", "deploy")
    ),
    "smoke_test_prod",
    "summarize_release",  # reads what each environment serves for the release record
)
CLIENT_PID = re.compile(r"\bairflow-provider-cx/\S+ pid/(\d+)\b")
CHANNEL_PID = re.compile(r"^opening a gRPC channel to \S+ in process (\d+)$")
TRIGGER_CHANNEL_PID = re.compile(r"^opening an asyncio gRPC channel to \S+ in process (\d+)$")
#: Release tasks that wait for their operations in the triggerer.
DEFERRED_TASKS = ("test_staging", "test_prod", "version_staging", "version_prod")


def calls_by_pid(world: PipelineWorld) -> dict[int, set[str]]:
    """The methods called since the last reset, by the pid that the provider's user agent names."""
    found: dict[int, set[str]] = {}
    for call in world.agents.admin().stats()["callers"]:
        match = CLIENT_PID.search(call.get("x-goog-api-client", ""))
        if match:
            found.setdefault(int(match.group(1)), set()).add(call["method"].rsplit("/", 1)[-1])
    return found


def channel_pids(world: PipelineWorld, run_id: str, task_id: str, pattern: re.Pattern[str] = CHANNEL_PID) -> set[int]:
    """Pids the hook logged when it opened a channel for the task (each process of the task, deferrals too)."""
    lines = task_log_lines(world.stack, RELEASE, run_id, task_id)
    return {int(m.group(1)) for line in lines if (m := pattern.match(str(line.get("event", ""))))}


def airflow_pids(world: PipelineWorld) -> set[int]:
    """Airflow's own processes: the four components and the scheduler's LocalExecutor workers (task supervisors)."""
    components = {world.stack.pid(name) for name in ("scheduler", "dag-processor", "triggerer", "api-server")}
    workers = {child.pid for child in psutil.Process(world.stack.pid("scheduler")).children()}
    return components | workers


def export_json(world: PipelineWorld, agent: str, environment: str | None = None) -> dict[str, Any]:
    return zip_files_as_json(world.agents.export(agent, environment))


def snapshot(world: PipelineWorld, stage: str) -> dict[str, Any]:
    """What a stage's agent is: its draft, what its environment serves, and the versions it serves."""
    agent = world.stages[stage]
    return {
        "draft": export_json(world, agent.agent),
        "environment": export_json(world, agent.agent, agent.environment_name),
        "versions": world.agents.served_versions(agent.environment_name),
    }


def release_summary(world: PipelineWorld, run_id: str) -> dict[str, Any]:
    folder = world.client.xcom(RELEASE, run_id, "prepare_release", key="folder")
    return json.loads(storage.read_bytes(storage.join(folder, "summary.json")))


def test_release_is_promoted_to_prod_with_every_client_built_in_its_task_process(
    world: PipelineWorld, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dev = world.stages["dev"]
    world.agents.admin().reset_stats()
    run = world.client.trigger(RELEASE)

    deferred = world.client.wait_for_task_state(RELEASE, run.run_id, "test_staging", {"deferred"}, timeout=120)
    finished = approve_until_done(world.client, run, timeout=180)

    states = world.client.task_states(RELEASE, run.run_id)
    assert finished.state == "success", states
    assert deferred.state == "deferred"
    assert {states[task] for task in CX_TASKS} == {"success"}
    assert (states["rollback_staging"], states["rollback_prod"]) == ("skipped", "skipped")
    summary = release_summary(world, run.run_id)
    assert summary["outcome"] == "released"
    # prod now serves exactly what dev's environment served, through the versions this release made.
    assert export_json(world, world.stages["prod"].agent, world.stages["prod"].environment_name) == export_json(
        world, dev.agent, dev.environment_name
    )
    assert sorted(summary["deployed"]["prod"].values()) == world.agents.served_versions(
        world.stages["prod"].environment_name
    )
    print_report(world.stack, world.client, finished, elapsed=0)
    out = capsys.readouterr().out
    assert "smoke_test_prod      success" in out
    assert re.search(r"approve_prod +success +Approve by \S+ at ", out), out
    assert f"sha256 {summary['package']['sha256']}" in out

    # The release record: every field, prod's versions before and after, the smoke test's reports.
    check_record(summary, run.run_id, choice="Approve")
    prod = summary["environments"]["prod"]
    assert sorted(prod["versions_after"].values()) == world.agents.served_versions(
        world.stages["prod"].environment_name
    )
    assert prod["versions_after"] != prod["versions_before"]
    smoke = {row["task"]: row for row in summary["gates"]}["smoke_test_prod"]
    assert smoke["report"] == "reports/prod/smoke_test.md"
    folder = storage.local_path(world.client.xcom(RELEASE, run.run_id, "prepare_release", key="folder"))
    junit = (folder / "reports" / "prod" / "smoke_test.junit.xml").read_text()
    assert 'time="0.000"' not in junit
    assert f'name="prod.{world.stages["prod"].agent.rsplit("/", 1)[-1]}.' in junit
    assert "- Tested: staging agent, draft after restore" in (folder / "reports/staging/test_cases.md").read_text()
    # Copied elsewhere (and the original gone), the folder has no broken link.
    copy = copied_elsewhere(folder, tmp_path / "copied-release")
    markdown = (copy / "summary.md").read_text()
    assert "](reports/prod/smoke_test.md)" in markdown
    assert broken_links(copy) == {}
    # No link without a value asked for its XCom: Airflow's client logs that as an error, in the task's
    # log or in the worker's (the LocalExecutor's workers log to the scheduler's log).
    for task in ("export_dev", "export_prod_current", "lint_package", "smoke_test_prod"):
        events = [str(line.get("event")) for line in task_log_lines(world.stack, RELEASE, run.run_id, task)]
        assert "XCom not found" not in events, task
    component_logs = "".join(path.read_text(errors="replace") for path in world.stack.logs_dir.glob("*.log"))
    assert not re.findall(r"XCom not found.*cx_\w+_link", component_logs)
    # ... and the UI shows such a link as absent: the export of prod's draft has no environment.
    links_path = f"/api/v2/dags/{RELEASE}/dagRuns/{quote(run.run_id, safe='')}/taskInstances/export_prod_current/links"
    shown = world.client._request("GET", links_path)["extra_links"]  # the UI's own endpoint; no public helper
    assert shown["Dialogflow CX Environment"] is None, shown
    assert shown["Dialogflow CX Agent"] == f"https://dialogflow.cloud.google.com/cx/{world.stages['prod'].agent}"

    # Every client was built in the process that used it: the task's own, or the triggerer's trigger
    # runner for a deferred wait. The pid in each call's user agent is one that a task's log names for a
    # channel opened there, and a task's last one is the process Airflow records for it.
    per_task = {task: channel_pids(world, run.run_id, task) for task in CX_TASKS}
    assert all(per_task.values()), per_task
    for task in CX_TASKS:
        assert world.client.task_instance(RELEASE, run.run_id, task).pid in per_task[task], task
    triggers = set().union(*(channel_pids(world, run.run_id, task, TRIGGER_CHANNEL_PID) for task in DEFERRED_TASKS))
    calls = calls_by_pid(world)
    assert triggers, "no trigger logged the asyncio channel it opened"
    assert set(calls) == set().union(*per_task.values(), triggers)
    assert set().union(*(calls[pid] for pid in triggers)) == {"GetOperation"}  # the deferred waits only poll
    triggerer = psutil.Process(world.stack.pid("triggerer"))
    assert triggers <= {triggerer.pid} | {child.pid for child in triggerer.children(recursive=True)}
    assert not (set(calls) - triggers) & airflow_pids(world)
    assert len(per_task["test_staging"]) == 2  # one process before the deferral, one after
    for task in ("version_staging", "version_prod"):  # the creates were waited for in the triggerer
        events = [str(line.get("event")).strip() for line in task_log_lines(world.stack, RELEASE, run.run_id, task)]
        assert "Pausing task as DEFERRED." in events, task
        assert "Trigger fired event" in events, task
        assert len(per_task[task]) == 2, task


def test_a_rejected_release_is_recorded_as_rejected_with_nothing_promoted(
    world: PipelineWorld, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    prod_before = snapshot(world, "prod")
    run = world.client.trigger(RELEASE)
    finished = approve_until_done(world.client, run, timeout=180, reject=True)

    states = world.client.task_states(RELEASE, run.run_id)
    assert finished.state == "success", states  # a rejection is an answer, not a failure
    assert states["approve_prod"] == "success"
    assert {states[task] for task in ("restore_prod", "version_prod", "deploy_prod", "smoke_test_prod")} == {"skipped"}
    summary = release_summary(world, run.run_id)
    assert summary["outcome"] == "rejected"
    check_record(summary, run.run_id, choice="Reject")
    assert "prod" not in summary["deployed"]
    prod = summary["environments"]["prod"]
    assert prod["versions_before"] == prod["versions_after"]  # nothing promoted
    assert sorted(prod["versions_after"].values()) == world.agents.served_versions(
        world.stages["prod"].environment_name
    )
    assert snapshot(world, "prod") == prod_before
    print_report(world.stack, world.client, finished, elapsed=0)
    out = capsys.readouterr().out
    assert f"release {summary['release_id']}: rejected" in out
    assert re.search(r"approve_prod +success +Reject by \S+ at ", out), out
    assert "rejected: nothing was promoted to prod" in out
    folder = storage.local_path(world.client.xcom(RELEASE, run.run_id, "prepare_release", key="folder"))
    markdown = (folder / "summary.md").read_text()
    assert "**Rejected**: nothing was promoted to prod." in markdown
    assert broken_links(copied_elsewhere(folder, tmp_path / "copied-release")) == {}


def test_a_failing_test_case_stops_the_release_at_staging_and_rolls_staging_back(world: PipelineWorld) -> None:
    dev = world.stages["dev"]
    world.agents.restore(dev.agent, sample_package([breaking_change()]))
    world.agents.deploy_all_flows(dev.agent, dev.environment, "broken build")
    staging_before, prod_before = snapshot(world, "staging"), snapshot(world, "prod")

    run = world.client.trigger(RELEASE)
    finished = approve_until_done(world.client, run, timeout=180)

    states = world.client.task_states(RELEASE, run.run_id)
    assert finished.state == "failed"
    assert states["restore_staging"] == "success"
    assert states["test_staging"] == "failed"
    assert states["rollback_staging"] == "success"
    assert world.client.hitl_requests(RELEASE, run.run_id, pending_only=False) == []  # nobody was asked
    assert {states[task] for task in ("approve_prod", "restore_prod", "deploy_prod")} == {"upstream_failed"}
    assert states["rollback_prod"] == "skipped"
    tests = world.client.xcom(RELEASE, run.run_id, "test_staging", key="cx_test_run")
    assert [item["test_case"] for item in tests["failing"]] == ["Greeting balance and goodbye"]
    summary = release_summary(world, run.run_id)
    assert (summary["outcome"], summary["rolled_back"]) == ("failed at test_staging", ["rollback_staging"])
    assert snapshot(world, "staging") == staging_before
    assert snapshot(world, "prod") == prod_before


def test_scheduled_validation_defers_its_test_runs_and_covers_two_agents_by_two_environments(
    world: PipelineWorld,
) -> None:
    admin = world.agents.admin()
    admin.set_operation_delay(6.0)  # only the test runs wait on operations here: they stay deferred 6 s
    try:
        run = world.client.trigger(VALIDATION)
        deferred = world.client.wait_for_task_state(
            VALIDATION, run.run_id, "run_test_cases", {"deferred"}, timeout=120, map_index=0
        )
        finished = world.client.wait_for_run(VALIDATION, run.run_id, timeout=180)
    finally:
        admin.set_operation_delay(0.25)

    states = world.client.task_states(VALIDATION, run.run_id)
    assert finished.state == "success", states
    assert deferred.state == "deferred"
    assert sorted(task for task in states if task.startswith("run_test_cases[")) == [
        f"run_test_cases[{index}]" for index in range(4)
    ]
    assert {states[f"{task}[{index}]"] for task in ("validate", "coverage") for index in (0, 1)} == {"success"}
    for index in range(4):  # each run waited in the triggerer and resumed on a worker
        lines = task_log_lines(world.stack, VALIDATION, run.run_id, "run_test_cases", map_index=index)
        events = [str(line.get("event")).strip() for line in lines]
        assert "Pausing task as DEFERRED." in events
        assert "Trigger fired event" in events
    summary = world.client.xcom(VALIDATION, run.run_id, "summarize_validation")
    rows = json.loads(storage.read_bytes(summary["summary"]))["rows"]
    assert sorted((row["key"], row["environment"]) for row in rows) == [
        ("prod", PREVIEW),
        ("prod", "production"),
        ("staging", PREVIEW),
        ("staging", "staging"),
    ]
    assert {(row["passed"], row["total"], row["validation_failed"]) for row in rows} == {(11, 11, False)}


def test_backups_of_every_agent_and_environment_update_their_assets(world: PipelineWorld) -> None:
    run = world.client.trigger(BACKUP)
    finished = world.client.wait_for_run(BACKUP, run.run_id, timeout=120)

    assert finished.state == "success", world.client.task_states(BACKUP, run.run_id)
    events = world.client.asset_events(source_dag_id=BACKUP, source_run_id=run.run_id)
    backups = {f"cx_backup.{key}.{env}" for key in ("staging", "prod") for env in ("draft", PREVIEW)}
    backups |= {"cx_backup.staging.staging", "cx_backup.prod.production"}
    assert {event["name"] for event in events} == backups
    prod_draft = world.client.xcom(BACKUP, run.run_id, "export_prod_draft")
    assert zip_files_as_json(storage.read_bytes(prod_draft["uri"])) == export_json(world, world.stages["prod"].agent)
