"""End to end: one real Airflow stack for the module, driven only through its REST API."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from airflow_provider_cx.demo.__main__ import approve_until_done
from airflow_provider_cx.demo.api import AirflowAPIClient, AirflowAPIError
from airflow_provider_cx.demo.stack import COMPONENTS, STARTUP_TIMEOUT, AirflowStack, ComponentDiedError

# The first test also starts the module's stack (up to STARTUP_TIMEOUT on a loaded machine).
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(int(STARTUP_TIMEOUT) + 240)]

DAGS = Path(__file__).parent / "dags"
DAG_ID = "cx_stack_probe"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStack]:
    with AirflowStack(
        DAGS,
        tmp_path_factory.mktemp("airflow-home"),
        env={"CX_STACK_PROBE": "from-the-launcher"},
        connections={"cx_probe": {"conn_type": "generic", "host": "probe.example"}},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def client(stack: AirflowStack) -> AirflowAPIClient:
    api = stack.client()
    api.wait_for_dag(DAG_ID, timeout=60)
    return api


def test_every_component_reports_healthy_on_ports_of_its_own(stack: AirflowStack, client: AirflowAPIClient) -> None:
    health = client.health()
    assert {health[key]["status"] for key in ("metadatabase", "scheduler", "triggerer", "dag_processor")} == {"healthy"}
    assert stack.ports is not None
    assert stack.ports.api not in (8080, 8793, 8794)
    assert len({stack.pid(name) for name in COMPONENTS}) == len(COMPONENTS)


def test_the_cli_sees_the_stacks_database(stack: AirflowStack, client: AirflowAPIClient) -> None:
    listed = stack.run_cli("dags", "list", "--output", "json")

    assert listed.returncode == 0, listed.stderr
    listed_json = listed.stdout.strip().splitlines()[-1]  # log lines go to stdout too; the JSON comes last
    assert DAG_ID in {dag["dag_id"] for dag in json.loads(listed_json)}


def test_approved_run_defers_waits_for_input_and_succeeds_in_forked_tasks(
    stack: AirflowStack, client: AirflowAPIClient
) -> None:
    run = client.trigger(DAG_ID, conf={"wait_seconds": 6})

    deferred = client.wait_for_task_state(DAG_ID, run.run_id, "wait_deferred", {"deferred"}, timeout=90)
    assert deferred.state == "deferred"
    request = client.wait_for_hitl(DAG_ID, run.run_id, task_id="approval", timeout=90)
    assert request.task_state == "awaiting_input"
    assert request.options == ("Approve", "Reject")
    assert client.task_states(DAG_ID, run.run_id)["after_approval"] is None

    answer = client.approve(request)
    assert answer["chosen_options"] == ["Approve"]
    finished = client.wait_for_run(DAG_ID, run.run_id, timeout=90)

    assert finished.state == "success", client.task_states(DAG_ID, run.run_id)
    assert set(client.task_states(DAG_ID, run.run_id).values()) == {"success"}
    assert client.xcom(DAG_ID, run.run_id, "wait_deferred") == "resumed on a worker"
    assert client.xcom(DAG_ID, run.run_id, "after_approval") == "approved"
    assert client.hitl_requests(DAG_ID, run.run_id) == []
    (answered,) = client.hitl_requests(DAG_ID, run.run_id, pending_only=False)
    assert answered.chosen_options == ("Approve",)

    probe = client.xcom(DAG_ID, run.run_id, "record_pids")
    scheduler = stack.pid("scheduler")
    assert probe["pid"] != scheduler
    assert probe["ppid"] != scheduler  # the task's parent is the supervisor, a LocalExecutor worker...
    assert probe["parent_ppid"] == scheduler  # ...which the scheduler forked
    assert "LocalExecutor" in probe["parent_cmdline"]
    assert probe["probe_env"] == "from-the-launcher"
    assert probe["probe_conn_host"] == "probe.example"


def test_rejected_run_skips_what_follows_the_approval(client: AirflowAPIClient) -> None:
    run = client.trigger(DAG_ID, conf={"wait_seconds": 2})
    request = client.wait_for_hitl(DAG_ID, run.run_id, timeout=90)

    with pytest.raises(ValueError, match="Maybe"):
        client.respond(request, ["Maybe"])
    client.reject(request)
    with pytest.raises(AirflowAPIError) as second_answer:
        client.approve(request)
    finished = client.wait_for_run(DAG_ID, run.run_id, timeout=90)

    assert second_answer.value.status == 409
    assert finished.state == "success"
    states = client.task_states(DAG_ID, run.run_id)
    assert states["approval"] == "success"
    assert states["after_approval"] == "skipped"


def test_the_demo_loop_answers_every_step_until_the_run_ends(client: AirflowAPIClient) -> None:
    run = client.trigger(DAG_ID, conf={"wait_seconds": 1})

    finished = approve_until_done(client, run, timeout=90)

    assert finished.state == "success"
    assert client.task_states(DAG_ID, run.run_id)["after_approval"] == "success"


def test_a_dead_component_is_reported_and_stop_leaves_no_process_behind(
    stack: AirflowStack, client: AirflowAPIClient
) -> None:
    run = client.trigger(DAG_ID, conf={"hold_seconds": 300})
    task = client.wait_for_task_state(DAG_ID, run.run_id, "record_pids", {"running"}, timeout=90)
    assert task.pid is not None
    running_task = psutil.Process(task.pid)
    assert os.getpgid(task.pid) != os.getpgid(stack.pid("scheduler"))  # out of reach of a group kill
    processes = [psutil.Process(pid) for pid in stack.stack_processes()]
    assert len(processes) > len(COMPONENTS)  # components plus their children (log servers, workers, ...)

    os.kill(stack.pid("triggerer"), signal.SIGKILL)
    # A wait that cannot succeed: only the dead triggerer can end it before its timeout.
    with pytest.raises(ComponentDiedError, match=r"Airflow triggerer exited with code -9 \(log: .*triggerer\.log\)"):
        stack.client().wait_for_dag("no_such_dag", timeout=30)

    stack.stop()
    assert not running_task.is_running()
    assert [proc.pid for proc in processes if proc.is_running()] == []
    assert stack.stack_processes() == []
