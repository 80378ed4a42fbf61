"""CXRunContinuousTestOperator against the emulator: passing and failing runs, deferral, failures, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from agent_changes import CONFIRMING_TRANSFER_TESTS, break_transfers, cases_by_name
from google.cloud import dialogflowcx_v3 as cx
from operator_harness import CONN_ID, FAST, connect, make_context, new_agent, new_environment, render, run_deferred

from airflow_provider_cx.emulator.testing import wait_for
from airflow_provider_cx.hooks.errors import CXOperationFailedError
from airflow_provider_cx.links import CXEnvironmentLink, CXTestResultsLink
from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError, CXResourceNotFoundError
from airflow_provider_cx.operators.run_continuous_test import CXRunContinuousTestOperator


def operator(agent: str, environment: str, **kwargs: Any) -> CXRunContinuousTestOperator:
    kwargs.setdefault("deferrable", False)
    return CXRunContinuousTestOperator(
        task_id="continuous_test", agent=agent, environment=environment, gcp_conn_id=CONN_ID, **FAST, **kwargs
    )


def environment_testing(server: Any, agent: str, test_cases: set[str]) -> str:
    """A new environment (serving versions of the current draft) whose continuous tests are ``test_cases``."""
    environment = new_environment(server, agent)
    names = cases_by_name(server, agent)
    config = cx.Environment(
        name=environment,
        test_cases_config=cx.Environment.TestCasesConfig(test_cases=[names[n] for n in sorted(test_cases)]),
    )
    client = server.client(cx.EnvironmentsClient)
    wait_for(client.update_environment(environment=config, update_mask={"paths": ["test_cases_config"]}))
    return environment


def continuous_results(server: Any, environment: str) -> list[Any]:
    return list(server.client(cx.EnvironmentsClient).list_continuous_test_results(parent=environment))


def test_a_passing_run_reports_its_counts(sample_agent, cx_connection):
    environment = environment_testing(cx_connection, sample_agent, CONFIRMING_TRANSFER_TESTS)
    context = make_context()
    result = operator(sample_agent, environment).execute(context)
    (stored,) = continuous_results(cx_connection, environment)
    assert result == {
        "environment": environment,
        "continuous_test_result": stored.name,
        "result": "PASSED",
        "total": 3,
        "passed": 3,
        "failed": 0,
        "failing": [],
    }
    assert context["ti"].xcom["cx_continuous_test"] == result
    assert context["ti"].xcom[CXEnvironmentLink.key].endswith("/environments")
    assert context["ti"].xcom[CXTestResultsLink.key].endswith("/testCases")


def test_an_environment_serving_a_broken_flow_fails_the_gate(sample_agent, cx_connection):
    break_transfers(cx_connection, sample_agent)
    environment = environment_testing(
        cx_connection, sample_agent, {*CONFIRMING_TRANSFER_TESTS, "Greeting balance and goodbye"}
    )
    context = make_context()
    with pytest.raises(CXGateFailedError, match="ended FAILED: 3 of 4 test case"):
        operator(sample_agent, environment).execute(context)
    summary = context["ti"].xcom["cx_continuous_test"]
    assert {entry["test_case"] for entry in summary["failing"]} == CONFIRMING_TRANSFER_TESTS
    assert all(entry["first_difference"].startswith("turn ") for entry in summary["failing"])
    assert (summary["result"], summary["passed"]) == ("FAILED", 1)


def test_deferred_run_round_trips_through_the_trigger(sample_agent, cx_connection):
    environment = environment_testing(cx_connection, sample_agent, {"Greeting balance and goodbye"})
    display = cx_connection.client(cx.EnvironmentsClient).get_environment(name=environment).display_name
    result, event = run_deferred(operator(sample_agent, display, deferrable=True), make_context())
    assert event["status"] == "success"
    assert (result["result"], result["total"]) == ("PASSED", 1)


@pytest.mark.parametrize("deferrable", [False, True])
def test_a_failed_operation_fails_the_task(monkeypatch, cx_emulator_factory, deferrable):
    server = cx_emulator_factory()
    connect(monkeypatch, server)
    agent = new_agent(server)
    environment = environment_testing(server, agent, {"Greeting balance and goodbye"})
    server.admin().set_faults({"methods": {"Environments/RunContinuousTest": {"operation_failure_rate": 1.0}}})
    op = operator(agent, environment, deferrable=deferrable)
    with pytest.raises(CXOperationFailedError, match="INTERNAL"):
        run_deferred(op, make_context()) if deferrable else op.execute(make_context())
    assert continuous_results(server, environment) == []


def test_bad_input_is_a_clear_error_and_runs_nothing(sample_agent, cx_connection):
    bare = new_environment(cx_connection, sample_agent)
    with pytest.raises(CXInvalidInputError, match="lists no test cases in its test_cases_config"):
        operator(sample_agent, bare).execute(make_context())
    with pytest.raises(CXResourceNotFoundError, match="'nightly' not found"):
        operator(sample_agent, "nightly").execute(make_context())
    with pytest.raises(CXInvalidInputError, match="environment must be"):
        operator(sample_agent, " ").execute(make_context())
    assert continuous_results(cx_connection, bare) == []


def test_environment_is_templated(sample_agent):
    op = operator("{{ params.agent }}", "{{ params.environment }}")
    render(op, make_context(op, params={"agent": sample_agent, "environment": "prod"}))
    assert (op.agent, op.environment) == (sample_agent, "prod")
