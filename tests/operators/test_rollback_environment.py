"""CXRollbackEnvironmentOperator against the emulator over gRPC."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.cloud import dialogflowcx_v3 as cx
from operator_harness import (
    CONN_ID,
    FAST,
    connect,
    export_bytes,
    export_files,
    make_context,
    new_agent,
    new_environment,
    redeploy,
    render,
    run_deferred,
)

from airflow_provider_cx.emulator.testing import zip_files_as_json
from airflow_provider_cx.hooks.errors import CXOperationFailedError
from airflow_provider_cx.links import CXEnvironmentLink
from airflow_provider_cx.operators.errors import CXInvalidInputError, CXResourceNotFoundError
from airflow_provider_cx.operators.rollback_environment import (
    CXRollbackEnvironmentOperator,
    parse_recorded_configuration,
)
from airflow_provider_cx.package import read_package, write_zip


def rollback_task(agent: str, **kwargs: Any) -> CXRollbackEnvironmentOperator:
    return CXRollbackEnvironmentOperator(task_id="rollback", agent=agent, gcp_conn_id=CONN_ID, **{**FAST, **kwargs})


def served(server: Any, environment: str) -> list[str]:
    return [c.version for c in server.client(cx.EnvironmentsClient).get_environment(name=environment).version_configs]


def change_draft(server: Any, agent: str, description: str) -> None:
    package = read_package(export_bytes(server, agent))
    package.agent["description"] = description
    client = server.client(cx.AgentsClient)
    from airflow_provider_cx.emulator.testing import wait_for

    wait_for(client.restore_agent(request={"name": agent, "agent_content": write_zip(package)}))


@pytest.fixture
def deployed(cx_connection: Any, sample_agent: str) -> dict[str, Any]:
    """An environment that served v1, then was moved to v2, with the record a deploy would have pushed."""
    environment = new_environment(cx_connection, sample_agent, "staging")
    v1 = served(cx_connection, environment)
    v2 = redeploy(cx_connection, environment)
    record = {"environment": environment, "display_name": "staging", "created": False, "version_configs": v1}
    return {"agent": sample_agent, "environment": environment, "v1": v1, "v2": v2, "record": record}


def test_recorded_configuration_is_restored_and_idempotent(cx_connection: Any, deployed: dict) -> None:
    context = make_context()
    result = rollback_task(deployed["agent"], environment="staging", previous_configuration=deployed["record"]).execute(
        context
    )
    assert served(cx_connection, deployed["environment"]) == deployed["v1"]
    assert result == {
        "agent": deployed["agent"],
        "environment": deployed["environment"],
        "environment_action": "updated",
        "configuration_from": "recorded",
        "version_configs": deployed["v1"],
        "restored_from": None,
        "restored_sha256": None,
    }
    assert context["ti"].xcom[CXEnvironmentLink.key].endswith("/environments")
    again = rollback_task(deployed["agent"], previous_configuration=deployed["record"]).execute(make_context())
    assert again["environment_action"] == "unchanged"
    assert served(cx_connection, deployed["environment"]) == deployed["v1"]


def test_history_gives_the_previous_configuration(cx_connection: Any, deployed: dict) -> None:
    result = rollback_task(deployed["agent"], environment=deployed["environment"]).execute(make_context())
    assert result["configuration_from"] == "history"
    assert served(cx_connection, deployed["environment"]) == deployed["v1"]


def test_backup_is_restored_after_the_environment(cx_connection: Any, deployed: dict, tmp_path: Path) -> None:
    agent = deployed["agent"]
    backup = tmp_path / "backup.zip"
    backup.write_bytes(export_bytes(cx_connection, agent))
    change_draft(cx_connection, agent, "a failed release")

    result = rollback_task(
        agent, environment="staging", previous_configuration=deployed["record"], restore_from=str(backup)
    ).execute(make_context())

    assert export_files(cx_connection, agent) == zip_files_as_json(backup.read_bytes())
    assert served(cx_connection, deployed["environment"]) == deployed["v1"]
    assert result["restored_from"] == backup.as_uri()
    assert result["restored_sha256"]


def test_nothing_recorded_and_no_history_restores_only_the_agent(
    cx_connection: Any, sample_agent: str, tmp_path
) -> None:
    backup = tmp_path / "backup.zip"
    backup.write_bytes(export_bytes(cx_connection, sample_agent))
    change_draft(cx_connection, sample_agent, "half a release")
    result = rollback_task(sample_agent, previous_configuration=None, use_history=False, restore_from=backup).execute(
        make_context()
    )
    assert result["environment_action"] == "skipped"
    assert export_files(cx_connection, sample_agent) == zip_files_as_json(backup.read_bytes())


def test_created_environment_is_kept_or_deleted(cx_connection: Any, sample_agent: str) -> None:
    environment = new_environment(cx_connection, sample_agent, "fresh")
    record = {"environment": environment, "created": True, "version_configs": []}
    kept = rollback_task(sample_agent, previous_configuration=record).execute(make_context())
    assert kept["environment_action"] == "kept_created"
    deleted = rollback_task(sample_agent, previous_configuration=record, delete_created_environment=True).execute(
        make_context()
    )
    assert deleted["environment_action"] == "deleted"
    names = [e.name for e in cx_connection.client(cx.EnvironmentsClient).list_environments(parent=sample_agent)]
    assert environment not in names


def test_deferred_rollback_and_restore(cx_connection: Any, deployed: dict, tmp_path: Path) -> None:
    backup = tmp_path / "backup.zip"
    backup.write_bytes(export_bytes(cx_connection, deployed["agent"]))
    change_draft(cx_connection, deployed["agent"], "deferred")
    task = rollback_task(
        deployed["agent"], previous_configuration=deployed["record"], restore_from=backup, deferrable=True
    )
    result, _ = run_deferred(task, make_context())
    assert [event["status"] for event in task.deferral_events] == ["success", "success"]
    assert result["environment_action"] == "updated"
    assert served(cx_connection, deployed["environment"]) == deployed["v1"]
    assert export_files(cx_connection, deployed["agent"]) == zip_files_as_json(backup.read_bytes())


BAD_INPUTS = [
    ({"environment": "prod"}, CXResourceNotFoundError, "environment 'prod' not found"),
    ({"restore_from": "MALFORMED"}, CXInvalidInputError, "does not exist"),
    ({"previous_configuration": {"versions": []}}, CXInvalidInputError, "must hold 'version_configs'"),
    ({"previous_configuration": ["not-a-version"]}, CXInvalidInputError, "not all flow version"),
    ({"restore_option": "MERGE"}, CXInvalidInputError, "restore_option"),
]


def test_bad_input_changes_nothing(cx_connection: Any, deployed: dict) -> None:
    # One deployed agent for every case: none of them may change it.
    before = export_files(cx_connection, deployed["agent"])
    for kwargs, error, message in BAD_INPUTS:
        with pytest.raises(error, match=message):
            rollback_task(deployed["agent"], **{"environment": "staging", **kwargs}).execute(make_context())
        assert served(cx_connection, deployed["environment"]) == deployed["v2"]
        assert export_files(cx_connection, deployed["agent"]) == before


def test_record_of_another_environment_is_refused(cx_connection: Any, deployed: dict) -> None:
    new_environment(cx_connection, deployed["agent"], "prod")
    with pytest.raises(CXInvalidInputError, match="recorded configuration is of"):
        rollback_task(deployed["agent"], environment="prod", previous_configuration=deployed["record"]).execute(
            make_context()
        )


def test_history_without_an_earlier_configuration(cx_connection: Any, sample_agent: str) -> None:
    environment = new_environment(cx_connection, sample_agent, "only-once")
    with pytest.raises(CXResourceNotFoundError, match="no earlier configuration"):
        rollback_task(sample_agent, environment=environment).execute(make_context())


def test_failed_update_leaves_the_agent_alone(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any, tmp_path: Path
) -> None:
    server = cx_emulator_factory()
    connect(monkeypatch, server)
    agent = new_agent(server)
    environment = new_environment(server, agent, "staging")
    v1 = served(server, environment)
    redeploy(server, environment)
    backup = tmp_path / "backup.zip"
    backup.write_bytes(export_bytes(server, agent))
    change_draft(server, agent, "stays")
    server.admin().set_faults({"methods": {"Environments/UpdateEnvironment": {"operation_failure_rate": 1.0}}})
    record = {"environment": environment, "created": False, "version_configs": v1}
    with pytest.raises(CXOperationFailedError):
        rollback_task(agent, previous_configuration=record, restore_from=backup).execute(make_context())
    assert export_files(server, agent)["agent.json"]["description"] == "stays"


def test_recorded_configuration_parsing() -> None:
    version = "projects/p/locations/global/agents/a/flows/f/versions/1"
    deploy_result = {"environment": "e", "previous_version_configs": [version], "version_configs": ["x"]}
    assert parse_recorded_configuration(deploy_result)["version_configs"] == [version]
    assert parse_recorded_configuration(json.dumps([{"version": version}]))["version_configs"] == [version]
    assert parse_recorded_configuration(str({"version_configs": [version], "created": True}))["created"] is True
    assert parse_recorded_configuration("None") is None
    assert parse_recorded_configuration("") is None


def test_templated_fields_render() -> None:
    task = rollback_task(
        "{{ params.agent }}",
        environment="{{ params.env }}",
        previous_configuration="{{ ti.xcom_pull(task_ids='deploy', key='cx_environment_before') }}",
        restore_from="{{ ti.xcom_pull(task_ids='restore', key='backup_uri') }}",
    )
    context = make_context(task, params={"agent": "projects/p/locations/global/agents/a", "env": "staging"})
    recorded = {"environment": "e", "created": False, "version_configs": []}
    context["ti"].upstream[("deploy", "cx_environment_before")] = recorded
    context["ti"].upstream[("restore", "backup_uri")] = "file:///backups/b.zip"
    render(task, context)
    assert task.environment == "staging"
    assert task.restore_from == "file:///backups/b.zip"
    assert parse_recorded_configuration(task.previous_configuration) == recorded
