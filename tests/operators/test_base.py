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
