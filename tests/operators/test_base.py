"""CXBaseOperator / CXLongRunningOperator against the emulator: input checks, hook, links, waits, deferral."""

from __future__ import annotations

from typing import Any

import pytest
from operator_harness import CONN_ID, FAST, connect, make_context, new_agent, render, run_deferred

from airflow_provider_cx.hooks.errors import CXOperationFailedError
from airflow_provider_cx.links import CXAgentLink
from airflow_provider_cx.operators.base import CXLongRunningOperator, small_xcom
from airflow_provider_cx.operators.errors import (
    CXInvalidInputError,
    CXResourceNotFoundError,
    CXXComTooLargeError,
)


class ExportSizeOperator(CXLongRunningOperator):
    """A minimal LRO operator: export the agent and return the size of the package."""

    def execute(self, context: Any) -> Any:
        self.check_inputs()
        self.persist_agent_link(context)
        client = self.hook.get_agents_client(self.agent_name)
        operation = self.hook.call(client.export_agent, request={"name": self.agent_name})
        from google.cloud import dialogflowcx_v3 as cx

        return self.wait_or_defer(
            context, operation, result_type=cx.ExportAgentResponse, then="finish", state={"label": "x"}
        )

    def finish(self, context: Any, result: Any, label: str) -> dict[str, Any]:
        return {"label": label, "size": len(result.agent_content)}


def operator(agent: str, **kwargs: Any) -> ExportSizeOperator:
    return ExportSizeOperator(task_id="export_size", agent=agent, gcp_conn_id=CONN_ID, **{**FAST, **kwargs})


@pytest.mark.parametrize(
    ("agent", "message"),
    [
        ("agents/a", "not a Dialogflow CX resource name"),
        ("projects/p/locations/global", "not an agent name"),
        ("projects/p/locations/global/agents/a/flows/f", "names a resource inside an agent"),
        ("projects/p/locations/Bad_Loc/agents/a", "not a Dialogflow CX location"),
    ],
)
def test_malformed_agent_is_rejected_before_any_call(agent: str, message: str) -> None:
    with pytest.raises(CXInvalidInputError, match=message):
        operator(agent).check_inputs()


def test_location_contradicting_the_agent_is_rejected() -> None:
    task = operator("projects/p/locations/global/agents/a", location="europe-west2")
    with pytest.raises(CXInvalidInputError, match="contradicts agent"):
        task.check_inputs()


def test_hook_is_not_built_at_init() -> None:
    task = operator("projects/p/locations/global/agents/a")
    assert "hook" not in task.__dict__


def test_sync_wait_runs_the_continuation_and_pushes_the_agent_link(sample_agent: str) -> None:
    context = make_context()
    result = operator(sample_agent, deferrable=False).execute(context)
    assert result["label"] == "x"
    assert result["size"] > 1000
    assert context["ti"].xcom[CXAgentLink.key].endswith(sample_agent)


def test_deferral_round_trip_gives_the_same_result(sample_agent: str) -> None:
    task = operator(sample_agent, deferrable=True)
    result, event = run_deferred(task, make_context())
    assert event["status"] == "success"
    assert result["size"] == operator(sample_agent, deferrable=False).execute(make_context())["size"]


def test_unknown_agent_names_the_agent(cx_connection: Any) -> None:
    agent = "projects/test-project/locations/global/agents/does-not-exist"
    with pytest.raises(CXResourceNotFoundError, match="does-not-exist"):
        operator(agent).get_agent()


def test_failed_operation_raises_in_both_paths(monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any) -> None:
    server = cx_emulator_factory(faults={"methods": {"Agents/ExportAgent": {"operation_failure_rate": 1.0}}})
    connect(monkeypatch, server)
    agent = new_agent(server)
    with pytest.raises(CXOperationFailedError, match="INTERNAL"):
        operator(agent, deferrable=False).execute(make_context())
    with pytest.raises(CXOperationFailedError, match="INTERNAL"):
        run_deferred(operator(agent, deferrable=True), make_context())


def test_agent_is_templated() -> None:
    task = operator("projects/{{ params.project }}/locations/global/agents/a")
    render(task, make_context(task, params={"project": "rendered"}))
    assert task.agent == "projects/rendered/locations/global/agents/a"
    assert {"agent", "gcp_conn_id", "impersonation_chain", "location"} <= set(task.template_fields)


def test_small_xcom_refuses_large_values() -> None:
    assert small_xcom({"a": 1}) == {"a": 1}
    with pytest.raises(CXXComTooLargeError, match="over the"):
        small_xcom({"blob": "x" * 100_000})


# --- API retry and polling limits: connection extras, operator arguments, the deferral ---------------

FAST_RETRY_EXTRAS = {"retry_initial_delay": "0.01", "retry_max_delay": "0.01"}


def get_agent_attempts(server: Any, task: ExportSizeOperator) -> int:
    """GetAgent against a server that always answers UNAVAILABLE: how many attempts the task made."""
    from google.api_core import exceptions

    before = server.admin().counts().get("/google.cloud.dialogflow.cx.v3.Agents/GetAgent", 0)
    with pytest.raises(exceptions.ServiceUnavailable):
        task.get_agent()
    return server.admin().counts()["/google.cloud.dialogflow.cx.v3.Agents/GetAgent"] - before


def test_api_max_attempts_wins_over_the_connection_which_wins_over_the_default(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any
) -> None:
    server = cx_emulator_factory(faults={"methods": {"Agents/GetAgent": {"error_rate": 1.0}}})
    connect(monkeypatch, server, retry_max_attempts="4", retry_deadline="60", **FAST_RETRY_EXTRAS)
    agent = "projects/test-project/locations/global/agents/a"
    assert get_agent_attempts(server, operator(agent)) == 4
    task = operator(agent, api_max_attempts=2, api_retry_policy={"attempt_timeout": 5})
    assert get_agent_attempts(server, task) == 2
    assert (task.hook.retry_policy.deadline, task.hook.retry_policy.attempt_timeout) == (60.0, 5)


def test_a_complete_api_retry_policy_replaces_the_connections(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any
) -> None:
    from airflow_provider_cx.hooks.retry import RetryPolicy

    server = cx_emulator_factory(faults={"methods": {"Agents/GetAgent": {"error_rate": 1.0}}})
    connect(monkeypatch, server, retry_max_attempts="6")
    policy = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.01, jitter=0)
    task = operator("projects/test-project/locations/global/agents/a", api_retry_policy=policy)
    assert get_agent_attempts(server, task) == 3
    assert task.hook.retry_policy == policy


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"api_max_attempts": 0}, "api_max_attempts must be a whole number >= 1, got 0"),
        ({"api_max_attempts": "3"}, "api_max_attempts must be a whole number"),
        ({"api_retry_policy": {"attempts": 3}}, r"api_retry_policy: unknown RetryPolicy field\(s\) \['attempts'\]"),
        ({"api_retry_policy": {"multiplier": 0.5}}, "api_retry_policy: multiplier must be at least 1"),
        ({"api_retry_policy": 3}, "api_retry_policy: expected a RetryPolicy or a mapping"),
        ({"poll_interval": 0}, "poll_interval must be a positive number of seconds or None, got 0"),
        ({"operation_timeout": -1}, "operation_timeout must be a positive number"),
    ],
)
def test_bad_limits_fail_when_the_dag_is_parsed(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(CXInvalidInputError, match=message):
        ExportSizeOperator(task_id="t", agent="projects/p/locations/global/agents/a", **arguments)


def test_the_deferral_carries_the_limits_the_worker_resolved(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any
) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    server = cx_emulator_factory()
    connect(monkeypatch, server, poll_interval="0.05", operation_timeout="25", **FAST_RETRY_EXTRAS)
    agent = new_agent(server)
    task = ExportSizeOperator(task_id="t", agent=agent, gcp_conn_id=CONN_ID, deferrable=True, api_max_attempts=7)
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(make_context())
    _, trigger = deferred.value.trigger.serialize()
    assert (trigger["poll_interval"], trigger["timeout"]) == (0.05, 25.0)
    assert trigger["retry_policy"]["max_attempts"] == 7
    assert trigger["retry_policy"]["initial_delay"] == 0.01
    result, event = run_deferred(task, make_context())
    assert event["status"] == "success"
    assert result["size"] > 1000


def test_operation_timeout_from_the_connection_bounds_the_sync_wait(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any
) -> None:
    from google.cloud import dialogflowcx_v3 as cx

    from airflow_provider_cx.emulator.testing import TEST_PARENT, create_test_agent
    from airflow_provider_cx.hooks.errors import CXOperationTimeoutError

    server = cx_emulator_factory(operation_delay=30)  # the export is still running when the wait gives up
    connect(monkeypatch, server, poll_interval="0.05", operation_timeout="0.5")
    agent = create_test_agent(server.client(cx.AgentsClient), parent=TEST_PARENT).name
    task = ExportSizeOperator(task_id="t", agent=agent, gcp_conn_id=CONN_ID, deferrable=False)
    with pytest.raises(CXOperationTimeoutError, match=r"not done after 0\.5s; cancellation was requested"):
        task.execute(make_context())


@pytest.mark.parametrize("deferrable", [False, True])
def test_a_timed_out_operation_is_cancelled_in_both_paths(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any, deferrable: bool
) -> None:
    from google.cloud import dialogflowcx_v3 as cx

    from airflow_provider_cx.emulator.testing import TEST_PARENT, create_test_agent
    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
    from airflow_provider_cx.hooks.errors import CXOperationTimeoutError

    server = cx_emulator_factory(operation_delay=30)
    connect(monkeypatch, server)
    agent = create_test_agent(server.client(cx.AgentsClient), parent=TEST_PARENT).name
    task = operator(agent, deferrable=deferrable, operation_timeout=0.3)
    with pytest.raises(CXOperationTimeoutError, match="cancellation was requested") as timed_out:
        run_deferred(task, make_context()) if deferrable else task.execute(make_context())
    assert timed_out.value.cancel_requested is True
    operation = DialogflowCXHook(gcp_conn_id=CONN_ID).get_operation(timed_out.value.operation_name)
    assert operation.done
    assert operation.error.code == 1  # CANCELLED: no export lands after the task gave up
