"""CXRestoreAgentOperator against the emulator over gRPC."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from faulty_emulator import fast_retries
from operator_harness import (
    CONN_ID,
    FAST,
    connect,
    export_bytes,
    export_files,
    make_context,
    new_agent,
    render,
    run_deferred,
)

from airflow_provider_cx.emulator.testing import zip_files_as_json
from airflow_provider_cx.hooks.errors import CXOperationFailedError
from airflow_provider_cx.links import CXAgentLink
from airflow_provider_cx.operators.errors import CXInvalidInputError, CXResourceNotFoundError
from airflow_provider_cx.operators.restore_agent import BACKUP_URI_KEY, CXRestoreAgentOperator
from airflow_provider_cx.package import read_package, write_zip
from airflow_provider_cx.sample_agent import sample_agent_path


def restore_task(agent: str, source: Any, **kwargs: Any) -> CXRestoreAgentOperator:
    return CXRestoreAgentOperator(
        task_id="restore", agent=agent, source=source, gcp_conn_id=CONN_ID, **{**FAST, **kwargs}
    )


def changed_package(tmp_path: Path, description: str = "restored by the operator", **agent_settings: Any) -> Path:
    """The sample agent with a different description (and any agent settings given), as a zip file."""
    package = read_package(sample_agent_path())
    package.agent["description"] = description
    package.agent.update(agent_settings)
    path = tmp_path / "release.zip"
    path.write_bytes(write_zip(package))
    return path


def test_restore_replaces_the_draft_and_records_its_source(sample_agent: str, cx_connection: Any, tmp_path) -> None:
    source = changed_package(tmp_path)
    context = make_context()

    result = restore_task(sample_agent, str(source)).execute(context)

    assert export_files(cx_connection, sample_agent)["agent.json"]["description"] == "restored by the operator"
    assert result == {
        "agent": sample_agent,
        "source": source.as_uri(),
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "restore_option": "KEEP",
        "backup_uri": None,
        "backup_sha256": None,
    }
    assert BACKUP_URI_KEY not in context["ti"].xcom
    assert context["ti"].xcom[CXAgentLink.key].endswith(sample_agent)


def test_backup_holds_the_agent_as_it_was(sample_agent: str, cx_connection: Any, tmp_path: Path) -> None:
    before = export_files(cx_connection, sample_agent)
    backup = tmp_path / "backups" / "before.zip"
    context = make_context()

    result = restore_task(sample_agent, changed_package(tmp_path), backup_to=backup).execute(context)

    assert zip_files_as_json(backup.read_bytes()) == before
    assert result["backup_uri"] == backup.as_uri() == context["ti"].xcom[BACKUP_URI_KEY]
    assert result["backup_sha256"] == hashlib.sha256(backup.read_bytes()).hexdigest()
    # the backup restores the original agent
    restore_task(sample_agent, result["backup_uri"]).execute(make_context())
    assert export_files(cx_connection, sample_agent) == before


def test_gcs_source_and_backup_go_through_the_api(sample_agent: str, cx_connection: Any, tmp_path: Path) -> None:
    gcs = cx_connection.backend.gcs
    source_uri = f"gs://releases/{sample_agent.rsplit('/', 1)[-1]}/release.zip"
    gcs.write(source_uri, changed_package(tmp_path, "from gcs").read_bytes())
    before = export_bytes(cx_connection, sample_agent)
    backup_uri = source_uri.replace("release.zip", "backup.zip")

    result = restore_task(sample_agent, source_uri, backup_to=backup_uri).execute(make_context())

    assert export_files(cx_connection, sample_agent)["agent.json"]["description"] == "from gcs"
    assert zip_files_as_json(gcs.read(backup_uri)) == zip_files_as_json(before)
    assert (result["source_sha256"], result["backup_sha256"], result["backup_uri"]) == (None, None, backup_uri)


def test_keep_refuses_unsupported_settings_and_fallback_drops_them(
    sample_agent: str, cx_connection: Any, tmp_path: Path
) -> None:
    source = changed_package(tmp_path, "fallback", advancedSettings={"speechSettings": {"endpointerSensitivity": "x"}})
    before = export_files(cx_connection, sample_agent)
    with pytest.raises(CXInvalidInputError, match="advancedSettings"):
        restore_task(sample_agent, source, restore_option="KEEP").execute(make_context())
    assert export_files(cx_connection, sample_agent) == before

    restore_task(sample_agent, source, restore_option="FALLBACK").execute(make_context())
    after = export_files(cx_connection, sample_agent)["agent.json"]
    assert after["description"] == "fallback"
    assert "advancedSettings" not in after


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04 not really a zip", "not a readable agent package"),
        (b"just some text", "neither a JSON package"),
        (b"", "is empty"),
    ],
)
def test_malformed_source_changes_nothing(
    sample_agent: str, cx_connection: Any, tmp_path: Path, content: bytes, message: str
) -> None:
    source = tmp_path / "bad.zip"
    source.write_bytes(content)
    before = export_files(cx_connection, sample_agent)
    with pytest.raises(CXInvalidInputError, match=message):
        restore_task(sample_agent, source, backup_to=tmp_path / "backup.zip").execute(make_context())
    assert export_files(cx_connection, sample_agent) == before


def test_missing_source_and_bad_option(sample_agent: str, tmp_path: Path) -> None:
    with pytest.raises(CXInvalidInputError, match=r"missing\.zip does not exist"):
        restore_task(sample_agent, tmp_path / "missing.zip").execute(make_context())
    with pytest.raises(CXInvalidInputError, match="restore_option 'MERGE'"):
        restore_task(sample_agent, changed_package(tmp_path), restore_option="MERGE").execute(make_context())


def test_unknown_agent_changes_nothing_and_writes_no_backup(cx_connection: Any, tmp_path: Path) -> None:
    agent = "projects/test-project/locations/global/agents/no-such-agent"
    with pytest.raises(CXResourceNotFoundError, match="no-such-agent"):
        restore_task(agent, changed_package(tmp_path), backup_to=tmp_path / "b.zip").execute(make_context())
    assert not (tmp_path / "b.zip").exists()


def test_failed_restore_leaves_the_agent_and_records_the_backup(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any, tmp_path: Path
) -> None:
    server = cx_emulator_factory()
    connect(monkeypatch, server)
    agent = new_agent(server)
    server.admin().set_faults({"methods": {"Agents/RestoreAgent": {"operation_failure_rate": 1.0}}})
    before = export_files(server, agent)
    context = make_context()
    with pytest.raises(CXOperationFailedError, match="INTERNAL"):
        restore_task(agent, changed_package(tmp_path), backup_to=tmp_path / "b.zip").execute(context)
    assert export_files(server, agent) == before
    assert context["ti"].xcom[BACKUP_URI_KEY] == (tmp_path / "b.zip").as_uri()


def test_restore_call_is_retried_by_the_hooks_policy(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any, tmp_path: Path
) -> None:
    """The hook's restore_agent sends the package again on a retry."""
    server = cx_emulator_factory()
    connect(monkeypatch, server)
    fast_retries(monkeypatch)
    agent = new_agent(server)
    restore_method = "/google.cloud.dialogflow.cx.v3.Agents/RestoreAgent"
    before = server.admin().counts()[restore_method]
    # seeded: the first RestoreAgent of the task fails with UNAVAILABLE
    server.admin().set_faults({"seed": 1, "methods": {"Agents/RestoreAgent": {"error_rate": 0.5}}})

    result = restore_task(agent, changed_package(tmp_path)).execute(make_context())

    assert server.admin().counts()[restore_method] - before >= 2
    assert export_files(server, agent)["agent.json"]["description"] == "restored by the operator"
    assert result["source_sha256"] == hashlib.sha256(changed_package(tmp_path).read_bytes()).hexdigest()


def test_deferred_backup_and_restore(sample_agent: str, cx_connection: Any, tmp_path: Path) -> None:
    before = export_files(cx_connection, sample_agent)
    task = restore_task(sample_agent, changed_package(tmp_path), backup_to=tmp_path / "b.zip", deferrable=True)

    result, _ = run_deferred(task, make_context())

    assert [event["status"] for event in task.deferral_events] == ["success", "success"]
    assert zip_files_as_json((tmp_path / "b.zip").read_bytes()) == before
    assert result["backup_uri"] == (tmp_path / "b.zip").as_uri()
    assert export_files(cx_connection, sample_agent)["agent.json"]["description"] == "restored by the operator"


def test_templated_fields_render(tmp_path: Path) -> None:
    task = restore_task(
        "projects/p/locations/global/agents/{{ params.agent_id }}",
        "{{ ti.xcom_pull(task_ids='export')['uri'] }}",
        backup_to=f"{tmp_path}/{{{{ run_id }}}}/backup.zip",
        restore_option="{{ params.option }}",
    )
    context = make_context(task, params={"agent_id": "a1", "option": "FALLBACK"})
    context["ti"].upstream[("export", "return_value")] = {"uri": "file:///releases/r1.zip"}
    render(task, context)
    assert task.agent == "projects/p/locations/global/agents/a1"
    assert task.source == "file:///releases/r1.zip"
    assert task.backup_to == f"{tmp_path}/manual__test/backup.zip"
    assert task.restore_option == "FALLBACK"
