"""The repository's DAGs under CeleryExecutor: two workers that share nothing but Cloud Storage (the emulator).

Driven through Airflow's REST API, the CX emulator's admin interface, the storage emulator's API and the
task log files. Proves: the three pipelines succeed with ``gs://`` artifacts, the approval is given
through the REST API, deferred tasks resume, tasks ran on both workers, every CX call came from a task
process under a worker or from the triggerer, and injected faults are retried through.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from airflow_provider_cx import storage
from airflow_provider_cx.demo.__main__ import approve_until_done
from airflow_provider_cx.emulator.testing import zip_files_as_json

from .conftest import ARTIFACTS_BASE, BUCKET, WORKERS, CeleryWorld

pytestmark = [pytest.mark.e2e, pytest.mark.celery, pytest.mark.timeout(600)]

RELEASE, VALIDATION, BACKUP = "cx_release_promotion", "cx_scheduled_validation", "cx_agent_backup"
CLIENT_PID = re.compile(r"\bairflow-provider-cx/\S+ pid/(\d+)\b")
RETRY_LINE = re.compile(r"failed with (UNAVAILABLE|RESOURCE_EXHAUSTED) \(attempt \d+ of \d+\)")
FAULTS = {"seed": 20261205, "methods": {"*": {"error_rate": 0.3, "codes": ["UNAVAILABLE"], "latency_ms": 10}}}


def calls_by_pid(world: CeleryWorld) -> dict[int, set[str]]:
    """The CX methods called since the last reset, by the pid the provider's user agent names."""
    found: dict[int, set[str]] = {}
    for call in world.agents.admin().stats()["callers"]:
        match = CLIENT_PID.search(call.get("x-goog-api-client", ""))
        assert match, f"a CX call without the provider's user agent: {call}"
        found.setdefault(int(match.group(1)), set()).add(call["method"].rsplit("/", 1)[-1])
    return found


def task_events(world: CeleryWorld, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[str]:
    """The events of a task's first try, the triggerer's part included (the log files share the home)."""
    folder = world.stack.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    if map_index >= 0:
        folder /= f"map_index={map_index}"
    return [
        str(json.loads(line).get("event", "")).strip()
        for path in sorted(folder.glob("attempt=1.log*"))
        for line in path.read_text().splitlines()
        if line.startswith("{")
    ]


def assert_calls_came_from_workers_or_the_triggerer(world: CeleryWorld) -> dict[str, set[str]]:
    by_owner: dict[str, set[str]] = {}
    for pid, methods in calls_by_pid(world).items():
        owner = world.sampler.owner(pid)
        assert owner in (*WORKERS, "triggerer"), f"pid {pid} ({methods}) ran under {owner}, not a worker"
        by_owner.setdefault(owner, set()).update(methods)
    return by_owner


def worker_of_each_task(world: CeleryWorld, dag_id: str, run_id: str) -> dict[str, str | None]:
    return {
        f"{ti.task_id}[{ti.map_index}]": world.sampler.owner(ti.pid)
        for ti in world.client.task_instances(dag_id, run_id)
        if ti.pid and ti.state == "success"
    }


def local_artifact_files(world: CeleryWorld) -> list[Path]:
    """Files an artifacts folder on local disk would hold (there must be none: artifacts are in gs://)."""
    return [path for path in world.stack.home.rglob("*") if path.suffix in (".zip", ".md") and "logs" not in path.parts]


def test_release_is_promoted_with_gs_artifacts_on_celery_workers(world: CeleryWorld) -> None:
    world.agents.admin().reset_stats()
    run = world.client.trigger(RELEASE)
    deferred = world.client.wait_for_task_state(RELEASE, run.run_id, "test_staging", {"deferred"}, timeout=240)
    finished = approve_until_done(world.client, run, timeout=300)  # approvals through the REST API

    states = world.client.task_states(RELEASE, run.run_id)
    assert finished.state == "success", states
    assert deferred.state == "deferred"
    assert (states["approve_prod"], states["deploy_prod"]) == ("success", "success")
    folder = world.client.xcom(RELEASE, run.run_id, "prepare_release", key="folder")
    assert folder.startswith(f"{ARTIFACTS_BASE}/releases/")
    summary = json.loads(storage.read_bytes(storage.join(folder, "summary.json")))
    assert summary["outcome"] == "released"
    names = {blob.name for blob in world.storage_client().list_blobs(BUCKET, prefix=folder.split("/", 3)[3])}
    assert {"summary.json", "summary.md"} <= {name.rsplit("/", 1)[-1] for name in names}
    assert local_artifact_files(world) == []

    # The deferred test run resumed on a worker after the triggerer fired.
    events = task_events(world, RELEASE, run.run_id, "test_staging")
    assert "Pausing task as DEFERRED." in events
    assert "Trigger fired event" in events
    assert states["test_staging"] == "success"
    by_owner = assert_calls_came_from_workers_or_the_triggerer(world)
    assert by_owner.get("triggerer") == {"GetOperation"}  # the deferred waits only poll
    assert set(worker_of_each_task(world, RELEASE, run.run_id).values()) <= set(WORKERS)
    world.runs.append((RELEASE, run.run_id))


def test_validation_and_backup_succeed_and_tasks_ran_on_both_workers(world: CeleryWorld) -> None:
    world.agents.admin().reset_stats()
    validation = world.client.trigger(VALIDATION)
    backup = world.client.trigger(BACKUP)
    finished = [world.client.wait_for_run(run.dag_id, run.run_id, timeout=300) for run in (validation, backup)]

    assert [run.state for run in finished] == ["success", "success"], [
        world.client.task_states(run.dag_id, run.run_id) for run in finished
    ]
    assert_calls_came_from_workers_or_the_triggerer(world)  # before this test makes CX calls of its own
    rows = json.loads(
        storage.read_bytes(world.client.xcom(VALIDATION, validation.run_id, "summarize_validation")["summary"])
    )["rows"]
    assert len(rows) == 4
    assert {(row["passed"], row["validation_failed"]) for row in rows} == {(11, False)}
    prod_draft = world.client.xcom(BACKUP, backup.run_id, "export_prod_draft")
    assert prod_draft["uri"].startswith(f"{ARTIFACTS_BASE}/backups/prod/")
    assert zip_files_as_json(storage.read_bytes(prod_draft["uri"])) == zip_files_as_json(
        world.agents.export(world.stages["prod"].agent)
    )
    assert local_artifact_files(world) == []
    world.runs += [(VALIDATION, validation.run_id), (BACKUP, backup.run_id)]

    placement: dict[str, str | None] = {}
    for dag_id, run_id in world.runs:
        placement |= {f"{dag_id}.{task}": owner for task, owner in worker_of_each_task(world, dag_id, run_id).items()}
    assert set(placement.values()) == set(WORKERS), placement  # both workers ran tasks, and only they did


def test_a_backup_with_injected_faults_still_succeeds(world: CeleryWorld) -> None:
    admin = world.agents.admin()
    admin.set_faults(FAULTS)
    try:
        run = world.client.trigger(BACKUP)
        finished = world.client.wait_for_run(BACKUP, run.run_id, timeout=300)
    finally:
        admin.set_faults(None)

    assert finished.state == "success", world.client.task_states(BACKUP, run.run_id)
    retried = [
        event
        for ti in world.client.task_instances(BACKUP, run.run_id)
        if ti.task_id.startswith("export_")
        for event in task_events(world, BACKUP, run.run_id, ti.task_id)
        if RETRY_LINE.search(event)
    ]
    assert retried, "the faults never reached the hook"
    assert all(ti.try_number == 1 for ti in world.client.task_instances(BACKUP, run.run_id)), "Airflow retried a task"
