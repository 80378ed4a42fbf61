"""CXExportAgentOperator against the emulator over gRPC."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import Asset, AssetAlias, ObjectStoragePath
from operator_harness import (
    CONN_ID,
    FAST,
    connect,
    export_bytes,
    make_context,
    new_agent,
    new_environment,
    redeploy,
    render,
    run_deferred,
)

from airflow_provider_cx.hooks.errors import CXOperationFailedError
from airflow_provider_cx.links import CXAgentLink, CXEnvironmentLink
from airflow_provider_cx.operators.errors import CXInvalidInputError, CXResourceNotFoundError
from airflow_provider_cx.operators.export_agent import CXExportAgentOperator
from airflow_provider_cx.package import read_package


def export_task(agent: str, destination: Any, **kwargs: Any) -> CXExportAgentOperator:
    return CXExportAgentOperator(
        task_id="export", agent=agent, destination=destination, gcp_conn_id=CONN_ID, **{**FAST, **kwargs}
    )


def test_draft_export_writes_the_package_and_records_it(sample_agent: str, tmp_path: Path) -> None:
    target = tmp_path / "out" / "agent.zip"
    task = export_task(sample_agent, str(target))
    context = make_context(task)

    result = task.execute(context)

    content = target.read_bytes()
    assert result == {
        "agent": sample_agent,
        "environment": None,
        "uri": target.as_uri(),
        "data_format": "JSON_PACKAGE",
        "sha256": hashlib.sha256(content).hexdigest(),
        "size_bytes": len(content),
    }
    assert read_package(content).display_name
    assert context["ti"].xcom[CXAgentLink.key].endswith(sample_agent)
    assert CXEnvironmentLink.key not in context["ti"].xcom
    asset = Asset(target.as_uri())
    assert task.outlets == [asset]
    assert context["outlet_events"][asset].extra["sha256"] == result["sha256"]


def test_environment_export_is_what_the_environment_serves(
    cx_connection: Any, sample_agent: str, tmp_path: Path
) -> None:
    environment = new_environment(cx_connection, sample_agent, "staging")
    redeploy(cx_connection, environment)  # history: the environment has moved on from its first versions
    context = make_context()

    result = export_task(sample_agent, tmp_path / "env.zip", environment="staging").execute(context)

    assert result["environment"] == environment
    expected = export_bytes(cx_connection, sample_agent, environment)
    assert (tmp_path / "env.zip").read_bytes() == expected
    assert context["ti"].xcom[CXEnvironmentLink.key].endswith(f"{sample_agent}/environments")


def test_blob_export_to_an_object_storage_path(sample_agent: str, tmp_path: Path) -> None:
    target = ObjectStoragePath((tmp_path / "agent.blob").as_uri())
    result = export_task(sample_agent, target, data_format="BLOB").execute(make_context())
    content = (tmp_path / "agent.blob").read_bytes()
    assert result["data_format"] == "BLOB"
    assert result["sha256"] == hashlib.sha256(content).hexdigest()
    assert not content.startswith(b"PK")  # not a zip


def test_gcs_destination_is_written_by_the_api(cx_connection: Any, sample_agent: str) -> None:
    uri = f"gs://backups/{sample_agent.rsplit('/', 1)[-1]}/agent.zip"
    result = export_task(sample_agent, uri).execute(make_context())
    assert result["uri"] == uri
    assert result["sha256"] is None
    assert result["size_bytes"] is None
    assert read_package(cx_connection.backend.gcs.read(uri)).display_name


def test_deferred_export_matches_the_sync_one(sample_agent: str, tmp_path: Path) -> None:
    sync = export_task(sample_agent, tmp_path / "sync.zip", deferrable=False).execute(make_context())
    deferred, event = run_deferred(
        export_task(sample_agent, tmp_path / "deferred.zip", deferrable=True), make_context()
    )
    assert event["status"] == "success"
    assert deferred["sha256"] == sync["sha256"]
    assert (tmp_path / "deferred.zip").read_bytes() == (tmp_path / "sync.zip").read_bytes()


def test_failed_operation_writes_nothing(monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any, tmp_path) -> None:
    server = cx_emulator_factory(faults={"methods": {"Agents/ExportAgent": {"operation_failure_rate": 1.0}}})
    connect(monkeypatch, server)
    agent = new_agent(server)
    with pytest.raises(CXOperationFailedError, match="INTERNAL"):
        export_task(agent, tmp_path / "x.zip").execute(make_context())
    assert not (tmp_path / "x.zip").exists()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"environment": "nope"}, CXResourceNotFoundError, "environment 'nope' not found"),
        ({"data_format": "YAML"}, CXInvalidInputError, "data_format 'YAML'"),
        ({"location": "us-central1"}, CXInvalidInputError, "contradicts agent"),
        ({"destination": "gs://bucket-only/"}, CXInvalidInputError, "destination"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(
    sample_agent: str, tmp_path: Path, kwargs: dict, error: type, message: str
) -> None:
    kwargs.setdefault("destination", tmp_path / "x.zip")
    with pytest.raises(error, match=message):
        export_task(sample_agent, **kwargs).execute(make_context())
    assert not (tmp_path / "x.zip").exists()


def test_unknown_agent(cx_connection: Any, tmp_path: Path) -> None:
    agent = "projects/test-project/locations/global/agents/no-such-agent"
    with pytest.raises(CXResourceNotFoundError, match="no-such-agent"):
        export_task(agent, tmp_path / "x.zip").execute(make_context())


def test_templated_destination_renders_and_reaches_the_asset_alias(sample_agent: str, tmp_path: Path) -> None:
    task = export_task(
        "{{ params.agent }}",
        f"{tmp_path}/{{{{ ds_nodash }}}}/agent.zip",
        environment=None,
        data_format="{{ params.fmt }}",
        asset_alias="cx-backups",
    )
    assert task.outlets == [AssetAlias("cx-backups")]
    context = make_context(task, params={"agent": sample_agent, "fmt": "JSON_PACKAGE"})
    render(task, context)
    assert task.destination == f"{tmp_path}/20240517/agent.zip"
    assert task.agent == sample_agent

    result = task.execute(context)

    events = context["outlet_events"][AssetAlias("cx-backups")].asset_alias_events
    assert [event.dest_asset_key.uri for event in events] == [result["uri"]]
    assert events[0].extra["sha256"] == result["sha256"]


def test_agent_named_in_the_wrong_location_is_not_found(sample_agent: str, tmp_path: Path) -> None:
    elsewhere = sample_agent.replace("/locations/global/", "/locations/europe-west2/")
    with pytest.raises(CXResourceNotFoundError, match="europe-west2"):
        export_task(elsewhere, tmp_path / "x.zip").execute(make_context())
    assert not (tmp_path / "x.zip").exists()
