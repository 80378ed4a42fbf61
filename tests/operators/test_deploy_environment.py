"""CXDeployEnvironmentOperator against the emulator: both methods, creation, gates, failures, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from agent_changes import CONFIRMING_TRANSFER_TESTS, break_transfers, cases_by_name, environment_pins
from faulty_emulator import fast_retries, lossy_emulator
from google.cloud import dialogflowcx_v3 as cx
from operator_harness import (
    CONN_ID,
    FAST,
    connect,
    flow_versions,
    make_context,
    new_agent,
    new_environment,
    render,
    run_deferred,
)

from airflow_provider_cx.emulator.testing import unique_name, wait_for
from airflow_provider_cx.hooks.errors import CXOperationFailedError
from airflow_provider_cx.links import CXEnvironmentLink
from airflow_provider_cx.operators.create_versions import CXCreateVersionsOperator
from airflow_provider_cx.operators.deploy_environment import CXDeployEnvironmentOperator
from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError, CXResourceNotFoundError
from airflow_provider_cx.operators.rollback_environment import CXRollbackEnvironmentOperator


def operator(agent: str, environment: str, versions: Any, **kwargs: Any) -> CXDeployEnvironmentOperator:
    kwargs.setdefault("deferrable", False)
    return CXDeployEnvironmentOperator(
        task_id="deploy", agent=agent, environment=environment, versions=versions, gcp_conn_id=CONN_ID, **FAST, **kwargs
    )


def release(agent: str, release_id: str = "r2") -> dict[str, str]:
    task = CXCreateVersionsOperator(task_id="versions", agent=agent, release_id=release_id, gcp_conn_id=CONN_ID, **FAST)
    return task.execute(make_context())


def display_name_of(server: Any, environment: str) -> str:
    return server.client(cx.EnvironmentsClient).get_environment(name=environment).display_name


def description_of(server: Any, environment: str) -> str:
    return server.client(cx.EnvironmentsClient).get_environment(name=environment).description


def history_length(server: Any, environment: str) -> int:
    return len(list(server.client(cx.EnvironmentsClient).lookup_environment_history(name=environment)))


def roll_back(agent: str, recorded: Any, **kwargs: Any) -> dict[str, Any]:
    task = CXRollbackEnvironmentOperator(
        task_id="rollback", agent=agent, previous_configuration=recorded, gcp_conn_id=CONN_ID, deferrable=False, **FAST
    )
    for name, value in kwargs.items():
        setattr(task, name, value)
    return task.execute(make_context())


def test_update_environment_points_it_at_the_release_and_records_the_previous_pins(sample_agent, cx_connection):
    environment = new_environment(cx_connection, sample_agent)
    before = environment_pins(cx_connection, environment)
    versions = release(sample_agent)
    display = display_name_of(cx_connection, environment)
    context = make_context()

    result = operator(sample_agent, display, versions).execute(context)

    assert environment_pins(cx_connection, environment) == sorted(versions.values())
    assert sorted(result.pop("previous_version_configs")) == before
    assert sorted(result.pop("version_configs")) == sorted(versions.values())
    assert result == {
        "environment": environment,
        "display_name": display,
        "created": False,
        "changed": True,
        "deployments": [],
    }
    assert context["ti"].xcom["cx_environment_before"] == {
        "environment": environment,
        "display_name": display,
        "created": False,
        "version_configs": context["ti"].xcom["cx_environment_before"]["version_configs"],
    }
    assert sorted(context["ti"].xcom["cx_environment_before"]["version_configs"]) == before
    assert context["ti"].xcom[CXEnvironmentLink.key].endswith(f"{sample_agent}/environments")


def test_deploy_flow_deferred_deploys_each_flow_through_the_trigger(sample_agent, cx_connection):
    environment = new_environment(cx_connection, sample_agent)
    versions = release(sample_agent)
    op = operator(sample_agent, environment, list(versions.values()), method="deploy_flow", deferrable=True)

    result, _last_event = run_deferred(op, make_context())

    assert [event["status"] for event in op.deferral_events] == ["success"] * 4
    assert environment_pins(cx_connection, environment) == sorted(versions.values())
    assert len(result["deployments"]) == 4
    deployments = cx_connection.client(cx.DeploymentsClient)
    assert {deployments.get_deployment(name=d).flow_version for d in result["deployments"]} == set(versions.values())


def test_a_partial_release_keeps_the_other_flows_pins(sample_agent, cx_connection):
    environment = new_environment(cx_connection, sample_agent)
    before = environment_pins(cx_connection, environment)
    versions = release(sample_agent)
    result = operator(sample_agent, environment, {"Transfers": versions["Transfers"]}).execute(make_context())
    after = environment_pins(cx_connection, environment)
    assert set(after) - set(before) == {versions["Transfers"]}
    assert len(after) == len(before)
    assert sorted(result["version_configs"]) == after


def test_already_deployed_changes_nothing(sample_agent, cx_connection):
    environment = new_environment(cx_connection, sample_agent)
    pins = environment_pins(cx_connection, environment)
    history = cx_connection.client(cx.EnvironmentsClient).lookup_environment_history(name=environment)
    result = operator(sample_agent, environment, pins).execute(make_context())
    assert result["changed"] is False
    assert result["previous_version_configs"] == result["version_configs"]
    again = cx_connection.client(cx.EnvironmentsClient).lookup_environment_history(name=environment)
    assert len(list(again)) == len(list(history))


@pytest.mark.parametrize("method", ["update_environment", "deploy_flow"])
def test_a_rerun_of_the_same_release_reports_what_came_before_it_and_rollback_restores_that(
    sample_agent, cx_connection, method
):
    environment = new_environment(cx_connection, sample_agent)
    before = environment_pins(cx_connection, environment)
    versions = release(sample_agent, "r2")
    first = operator(sample_agent, environment, versions, release_id="r2", method=method).execute(make_context())
    assert sorted(first["previous_version_configs"]) == before
    assert description_of(cx_connection, environment).splitlines()[-1] == "[airflow-cx release: r2]"
    entries = history_length(cx_connection, environment)

    context = make_context()
    again = operator(sample_agent, environment, versions, release_id="r2", method=method).execute(context)

    assert again["changed"] is False
    assert sorted(again["previous_version_configs"]) == before  # not the release's own versions
    assert sorted(again["version_configs"]) == sorted(versions.values())
    assert sorted(context["ti"].xcom["cx_environment_before"]["version_configs"]) == before
    assert history_length(cx_connection, environment) == entries  # the rerun changed nothing
    rolled_back = roll_back(sample_agent, context["ti"].xcom["cx_environment_before"])
    assert rolled_back["environment_action"] == "updated"
    assert environment_pins(cx_connection, environment) == before


def test_a_rerun_after_a_partly_applied_release_finishes_it_and_still_reports_what_came_before(
    sample_agent, cx_connection
):
    environment = new_environment(cx_connection, sample_agent)
    before = environment_pins(cx_connection, environment)
    versions = release(sample_agent, "r2")
    # The first try deployed one flow and died.
    operator(sample_agent, environment, {"Transfers": versions["Transfers"]}, release_id="r2").execute(make_context())

    result = operator(sample_agent, environment, versions, release_id="r2", method="deploy_flow").execute(
        make_context()
    )

    assert result["changed"] is True
    assert sorted(result["previous_version_configs"]) == before
    assert environment_pins(cx_connection, environment) == sorted(versions.values())
    roll_back(sample_agent, result)
    assert environment_pins(cx_connection, environment) == before


def test_the_next_release_replaces_the_release_line_and_keeps_the_rest_of_the_description(sample_agent, cx_connection):
    environment = new_environment(cx_connection, sample_agent)
    client = cx_connection.client(cx.EnvironmentsClient)
    described = cx.Environment(name=environment, description="Production.\nOwner: platform team")
    wait_for(client.update_environment(environment=described, update_mask={"paths": ["description"]}))
    r2 = release(sample_agent, "r2")
    operator(sample_agent, environment, r2, release_id="r2").execute(make_context())
    r3 = release(sample_agent, "r3")

    result = operator(sample_agent, environment, r3, release_id="r3").execute(make_context())

    assert sorted(result["previous_version_configs"]) == sorted(r2.values())
    assert description_of(cx_connection, environment) == "Production.\nOwner: platform team\n[airflow-cx release: r3]"
    again = operator(sample_agent, environment, r3, release_id="r3").execute(make_context())
    assert sorted(again["previous_version_configs"]) == sorted(r2.values())
    operator(sample_agent, environment, r2).execute(make_context())  # no release id: the stale line goes
    assert description_of(cx_connection, environment) == "Production.\nOwner: platform team"


def test_a_rerun_of_the_release_that_created_the_environment_reports_it_as_created(sample_agent, cx_connection):
    versions = release(sample_agent)
    name = unique_name("staging")
    created = operator(sample_agent, name, versions, create_if_missing=True, release_id="r2").execute(make_context())
    context = make_context()

    again = operator(sample_agent, name, versions, create_if_missing=True, release_id="r2").execute(context)

    assert (again["created"], again["changed"], again["previous_version_configs"]) == (True, False, [])
    assert context["ti"].xcom["cx_environment_before"]["created"] is True
    result = roll_back(sample_agent, context["ti"].xcom["cx_environment_before"], delete_created_environment=True)
    assert result["environment_action"] == "deleted"
    listed = cx_connection.client(cx.EnvironmentsClient).list_environments(parent=sample_agent)
    assert created["environment"] not in [e.name for e in listed]


def test_create_if_missing_creates_once_and_a_rerun_adopts(sample_agent, cx_connection):
    versions = release(sample_agent)
    name = unique_name("staging")
    context = make_context()
    created = operator(sample_agent, name, versions, create_if_missing=True, environment_description="d").execute(
        context
    )
    assert created["created"] is True
    assert created["previous_version_configs"] == []
    assert context["ti"].xcom["cx_environment_before"]["created"] is True
    assert environment_pins(cx_connection, created["environment"]) == sorted(versions.values())

    again = operator(sample_agent, name, versions, create_if_missing=True).execute(make_context())
    assert (again["environment"], again["created"], again["changed"]) == (created["environment"], False, False)
    listed = cx_connection.client(cx.EnvironmentsClient).list_environments(parent=sample_agent)
    assert [e.display_name for e in listed].count(name) == 1


def test_create_if_missing_defers_while_the_environment_is_created(sample_agent, cx_connection):
    versions = release(sample_agent)
    name = unique_name("staging")
    context = make_context()
    op = operator(sample_agent, name, versions, create_if_missing=True, release_id="r2", deferrable=True)

    result, event = run_deferred(op, context)

    assert [e["status"] for e in op.deferral_events] == ["success"]  # the create; nothing left to deploy
    assert event["resume"]["then"] == "after_create"
    assert (result["created"], result["changed"], result["previous_version_configs"]) == (True, True, [])
    assert environment_pins(cx_connection, result["environment"]) == sorted(versions.values())
    assert context["ti"].xcom["cx_environment_before"]["created"] is True
    assert context["ti"].xcom[CXEnvironmentLink.key].endswith(f"{sample_agent}/environments")
    listed = cx_connection.client(cx.EnvironmentsClient).list_environments(parent=sample_agent)
    assert [e.display_name for e in listed].count(name) == 1


def test_a_lost_create_environment_response_is_adopted(monkeypatch):
    fast_retries(monkeypatch)
    server, budget = lossy_emulator(lose={"CreateEnvironment": 1})
    try:
        connect(monkeypatch, server)
        agent = new_agent(server)
        versions = flow_versions(server, agent)
        result = operator(agent, "prod", versions, create_if_missing=True).execute(make_context())
        listed = list(server.client(cx.EnvironmentsClient).list_environments(parent=agent))
    finally:
        server.stop(grace=None)
    assert len(budget.lost) == 1
    assert [e.name for e in listed] == [result["environment"]]
    assert result["created"] is False  # the lost create made it; this run found and adopted it


def test_a_deferred_repeat_of_a_lost_create_adopts_the_first_requests_environment(monkeypatch):
    """The lost create is still running when the repeat starts and defers; the repeat then ends
    ALREADY_EXISTS, and the task adopts what the first request made."""
    fast_retries(monkeypatch)
    server, budget = lossy_emulator(lose={"CreateEnvironment": 1}, operation_delay=0.6)
    try:
        connect(monkeypatch, server)
        agent = new_agent(server)
        versions = flow_versions(server, agent)
        op = operator(agent, "prod", versions, create_if_missing=True, deferrable=True)
        result, event = run_deferred(op, make_context())
        listed = list(server.client(cx.EnvironmentsClient).list_environments(parent=agent))
    finally:
        server.stop(grace=None)
    assert (event["status"], event["code"], event["resume"]["then"]) == ("error", "ALREADY_EXISTS", "after_create")
    assert len(budget.lost) == 1
    assert [e.name for e in listed] == [result["environment"]]
    assert (result["created"], result["changed"]) == (False, False)
    assert sorted(result["version_configs"]) == sorted(versions)


def test_failing_pre_deployment_tests_stop_the_deployment(sample_agent, cx_connection):
    environment = new_environment(cx_connection, sample_agent)
    tests = cases_by_name(cx_connection, sample_agent)
    client = cx_connection.client(cx.EnvironmentsClient)
    config = cx.Environment(
        name=environment,
        test_cases_config=cx.Environment.TestCasesConfig(
            test_cases=[tests[name] for name in sorted(CONFIRMING_TRANSFER_TESTS)], enable_predeployment_run=True
        ),
    )
    wait_for(client.update_environment(environment=config, update_mask={"paths": ["test_cases_config"]}))
    before = environment_pins(cx_connection, environment)
    break_transfers(cx_connection, sample_agent)
    versions = release(sample_agent, "broken")
    context = make_context()

    with pytest.raises(CXGateFailedError, match="pre-deployment test case run"):
        operator(sample_agent, environment, {"Transfers": versions["Transfers"]}, method="deploy_flow").execute(context)
    assert environment_pins(cx_connection, environment) == before
    assert sorted(context["ti"].xcom["cx_environment_before"]["version_configs"]) == before


@pytest.mark.parametrize("deferrable", [False, True])
def test_a_failed_operation_fails_the_task_and_changes_nothing(monkeypatch, cx_emulator_factory, deferrable):
    server = cx_emulator_factory()
    connect(monkeypatch, server)
    agent = new_agent(server)
    environment = new_environment(server, agent)
    before = environment_pins(server, environment)
    versions = flow_versions(server, agent, "v2")
    server.admin().set_faults({"methods": {"Environments/UpdateEnvironment": {"operation_failure_rate": 1.0}}})
    op = operator(agent, environment, versions, deferrable=deferrable)
    with pytest.raises(CXOperationFailedError, match="INTERNAL"):
        run_deferred(op, make_context()) if deferrable else op.execute(make_context())
    assert environment_pins(server, environment) == before


def test_bad_input_is_refused_with_a_clear_error_and_no_change(sample_agent, cx_connection):
    environment = new_environment(cx_connection, sample_agent)
    before = environment_pins(cx_connection, environment)
    other = flow_versions(cx_connection, new_agent(cx_connection))
    flow = before[0].rsplit("/versions/", 1)[0]
    cases = [
        (CXResourceNotFoundError, "create_if_missing=True", {"environment": "nope"}),
        (CXInvalidInputError, "not a flow version of agent", {"versions": other}),
        (CXInvalidInputError, "two versions of flow", {"versions": [before[0], f"{flow}/versions/99"]}),
        (CXInvalidInputError, "versions is empty", {"versions": {}}),
        (CXInvalidInputError, "mapping or a list", {"versions": "{'Transfers': 'x'}"}),
        (CXInvalidInputError, "method must be one of", {"method": "replace"}),
        (CXInvalidInputError, "release_id 'r2]' must be one line without", {"release_id": "r2]"}),
        (CXInvalidInputError, "release_id must be a non-empty string", {"release_id": " "}),
        (CXResourceNotFoundError, "versions/99", {"versions": [f"{flow}/versions/99"]}),
        (
            CXInvalidInputError,
            "cannot be created under a chosen resource name",
            {"environment": f"{sample_agent}/environments/x", "create_if_missing": True},
        ),
    ]
    for error, message, change in cases:
        arguments = {"environment": environment, "versions": before, **change}
        with pytest.raises(error, match=message):
            operator(sample_agent, **arguments).execute(make_context())
    assert environment_pins(cx_connection, environment) == before
    names = [e.display_name for e in cx_connection.client(cx.EnvironmentsClient).list_environments(parent=sample_agent)]
    assert names == [display_name_of(cx_connection, environment)]


def test_templated_fields_render(sample_agent, cx_connection):
    op = operator(
        "{{ params.agent }}",
        "{{ params.environment }}",
        ["{{ params.version }}"],
        environment_description="release {{ ds }}",
        release_id="{{ params.release }}",
    )
    params = {"agent": sample_agent, "environment": "prod", "version": "v", "release": "r9"}
    render(op, make_context(op, params=params))
    assert (op.agent, op.environment, op.versions, op.environment_description, op.release_id) == (
        sample_agent,
        "prod",
        ["v"],
        "release 2024-05-17",
        "r9",
    )
