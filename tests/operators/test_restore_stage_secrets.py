"""A stage package's secrets: markers in storage, values only in the agent (emulator over gRPC).

CXStagePackageOperator writes prod's package with the sample prod profile, whose webhook sends an
API key from an Airflow connection; CXRestoreAgentOperator with ``stage_profile`` restores it into
an agent of the emulator. The agent gets the key; the stored package, the backup, the change list,
every XCom, rendered field and log line do not.
"""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path
from typing import Any

import pytest
import structlog
from operator_harness import CONN_ID, FAST, export_files, make_context, render, run_deferred

from airflow_provider_cx.emulator.testing import zip_files_as_json
from airflow_provider_cx.operators.errors import CXInvalidInputError
from airflow_provider_cx.operators.restore_agent import CXRestoreAgentOperator
from airflow_provider_cx.operators.stage_package import CXStagePackageOperator
from airflow_provider_cx.package import read_package, write_zip
from airflow_provider_cx.sample_agent import sample_agent_path, sample_profile_path

PROD_AGENT = "projects/acme-bank-prod/locations/us-central1/agents/00000000-0000-4000-8000-00000000000p"
MARKER = "${secret:conn:acme_branch_api}"
WEBHOOK = "webhooks/Branch Locator.json"


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The prod profile's ``conn:acme_branch_api``, defined as Airflow reads it from the environment."""
    key = secrets.token_hex(16)
    monkeypatch.setenv("AIRFLOW_CONN_ACME_BRANCH_API", json.dumps({"conn_type": "http", "password": key}))
    return key


def stage_package(tmp_path: Path) -> dict[str, Any]:
    task = CXStagePackageOperator(
        task_id="stage_package_prod",
        source=str(sample_agent_path()),
        target_agent=PROD_AGENT,
        destination=str(tmp_path / "release" / "stages" / "prod.zip"),
        profile=str(sample_profile_path("prod")),
    )
    result: dict[str, Any] = task.execute(make_context())
    return result


def restore_task(agent: str, source: Any, **kwargs: Any) -> CXRestoreAgentOperator:
    return CXRestoreAgentOperator(
        task_id="restore_prod", agent=agent, source=source, gcp_conn_id=CONN_ID, **{**FAST, **kwargs}
    )


def folder_text(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` as text, zips unpacked (a compressed secret would not show in the bytes)."""
    texts = {}
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            text = data.decode(errors="replace")
            if path.suffix == ".zip":
                text += json.dumps(zip_files_as_json(data))
            texts[str(path)] = text
    return texts


def test_the_restored_agent_has_the_secret_and_nothing_stored_or_reported_does(
    sample_agent: str,
    cx_connection: Any,
    tmp_path: Path,
    api_key: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as structured:
        staged = stage_package(tmp_path)
        task = restore_task(
            sample_agent,
            "{{ ti.xcom_pull(task_ids='stage_package_prod')['uri'] }}",
            stage_profile="{{ params.profile }}",
            backup_to=str(tmp_path / "release" / "backups" / "prod-before.zip"),
            deferrable=True,  # the secrets are put in again in the process that resumes
        )
        context = make_context(task, params={"profile": str(sample_profile_path("prod"))})
        context["ti"].upstream[("stage_package_prod", "return_value")] = staged
        render(task, context)
        result, _ = run_deferred(task, context)
    captured = capsys.readouterr()

    webhook = export_files(cx_connection, sample_agent)[WEBHOOK]["genericWebService"]
    assert webhook["requestHeaders"] == [{"key": "X-Api-Key", "value": api_key}]
    assert webhook["uri"] == "https://branches.prod.acmebank.example/cx/v1/nearest"
    stored = zip_files_as_json((tmp_path / "release" / "stages" / "prod.zip").read_bytes())
    assert stored[WEBHOOK]["genericWebService"]["requestHeaders"] == [{"key": "X-Api-Key", "value": MARKER}]
    assert result["source"] == staged["uri"]
    assert result["source_sha256"] == staged["sha256"]  # the stored package's bytes, as staged
    outputs = {
        **folder_text(tmp_path / "release"),
        "rendered fields": repr({name: getattr(task, name) for name in task.template_fields}),
        "XCom": json.dumps(context["ti"].xcom, default=str),
        "return value": json.dumps(result),
        "structlog events": "\n".join(repr(event) for event in structured),
        "stdlib log records": "\n".join(r.getMessage() for r in caplog.records),
        "stdout and stderr": captured.out + captured.err,
    }
    assert len(outputs) >= 9  # the stage zip, its change lists and the backup are there
    assert [where for where, text in outputs.items() if api_key in text] == []


def test_a_stage_package_is_refused_without_its_profile_and_nothing_changes(
    sample_agent: str, cx_connection: Any, tmp_path: Path, api_key: str
) -> None:
    staged = stage_package(tmp_path)
    before = export_files(cx_connection, sample_agent)
    backup = tmp_path / "backup.zip"

    with pytest.raises(
        CXInvalidInputError, match=r"1 unresolved secret marker.*requestHeaders\[0\]\.value.*pass stage_profile="
    ):
        restore_task(sample_agent, staged["uri"], backup_to=str(backup)).execute(make_context())

    assert export_files(cx_connection, sample_agent) == before
    assert not backup.exists()  # refused before the backup, before anything changed


def test_a_marker_the_profile_does_not_set_is_refused_and_nothing_changes(
    sample_agent: str, cx_connection: Any, tmp_path: Path, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package cannot make the restore send another connection's password to its own backend."""
    other = secrets.token_hex(16)
    monkeypatch.setenv("AIRFLOW_CONN_METADATA_DB", json.dumps({"conn_type": "postgres", "password": other}))
    package = read_package(Path(stage_package(tmp_path)["uri"].removeprefix("file://")).read_bytes())
    package.webhooks[0].data["genericWebService"]["requestHeaders"].append(
        {"key": "X-Leak", "value": "${secret:conn:metadata_db}"}
    )
    planted = tmp_path / "planted.zip"
    planted.write_bytes(write_zip(package))
    before = export_files(cx_connection, sample_agent)

    task = restore_task(sample_agent, str(planted), stage_profile=str(sample_profile_path("prod")))
    with pytest.raises(CXInvalidInputError) as refused:
        task.execute(make_context())

    assert "requestHeaders" in str(refused.value)
    assert other not in str(refused.value)
    assert api_key not in str(refused.value)
    assert export_files(cx_connection, sample_agent) == before


def test_a_missing_secret_at_the_restore_is_named_and_nothing_changes(
    sample_agent: str, cx_connection: Any, tmp_path: Path, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = stage_package(tmp_path)
    monkeypatch.delenv("AIRFLOW_CONN_ACME_BRANCH_API")
    before = export_files(cx_connection, sample_agent)

    task = restore_task(sample_agent, staged["uri"], stage_profile=str(sample_profile_path("prod")))
    with pytest.raises(CXInvalidInputError, match="acme_branch_api"):
        task.execute(make_context())

    assert export_files(cx_connection, sample_agent) == before


def test_with_a_profile_only_that_profiles_output_is_restored(
    sample_agent: str, cx_connection: Any, tmp_path: Path
) -> None:
    """Putting the secrets in changes nothing else: a package the profile would change is refused."""
    plain = tmp_path / "plain.zip"
    plain.write_bytes(write_zip(read_package(sample_agent_path())))
    staging = str(sample_profile_path("staging"))
    before = export_files(cx_connection, sample_agent)

    with pytest.raises(CXInvalidInputError, match=r"not written with this stage profile.*genericWebService\.uri"):
        restore_task(sample_agent, str(plain), stage_profile=staging).execute(make_context())
    assert export_files(cx_connection, sample_agent) == before

    staged = CXStagePackageOperator(
        task_id="stage_package_staging",
        source=str(plain),
        target_agent="projects/acme-bank-staging/locations/us-central1/agents/s",
        destination=str(tmp_path / "staging.zip"),
        profile=staging,
    ).execute(make_context())
    restore_task(sample_agent, staged["uri"], stage_profile=staging).execute(make_context())

    uri = export_files(cx_connection, sample_agent)[WEBHOOK]["genericWebService"]["uri"]
    assert uri == "https://branches.staging.acmebank.example/cx/v1/nearest"
