"""A stage package in Cloud Storage: written with markers, read and resolved by the restore task.

The storage emulator holds the release folder; CXStagePackageOperator writes prod's package there
and CXRestoreAgentOperator with ``stage_profile`` reads it back (not the API), puts the key in and
sends the package inline to the CX emulator over gRPC.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx import storage
from airflow_provider_cx.demo.services import StorageEmulator
from airflow_provider_cx.emulator.testing import create_test_agent, zip_files_as_json
from airflow_provider_cx.operators.restore_agent import CXRestoreAgentOperator
from airflow_provider_cx.operators.stage_package import CXStagePackageOperator
from airflow_provider_cx.sample_agent import sample_agent_path, sample_profile_path

from .conftest import BUCKET, gcs_client

CONN_ID = "cx_gcs_test"
PROD_AGENT = "projects/acme-bank-prod/locations/us-central1/agents/00000000-0000-4000-8000-00000000000p"
WEBHOOK = "webhooks/Branch Locator.json"


@pytest.fixture(autouse=True)
def fresh_filesystems(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage, "_filesystems", {})


def context() -> dict[str, Any]:
    """What these tasks use of a context: an XCom push that refuses what a real backend would."""

    class TaskInstance:
        def xcom_push(self, key: str, value: Any) -> None:
            json.dumps(value)

    return {"ti": TaskInstance()}


def test_a_gs_stage_package_is_resolved_by_the_task_and_sent_inline(
    gcs_env: StorageEmulator, cx_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = secrets.token_hex(16)
    monkeypatch.setenv("AIRFLOW_CONN_ACME_BRANCH_API", json.dumps({"conn_type": "http", "password": key}))
    extra = {"emulator_host": cx_emulator.address, "project": "test-project"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "dialogflow_cx", "extra": extra}))
    agent = create_test_agent(cx_emulator.client(cx.AgentsClient)).name
    destination = f"gs://{BUCKET}/releases/secrets/stages/prod.zip"
    staged = CXStagePackageOperator(
        task_id="stage_package_prod",
        source=str(sample_agent_path()),
        target_agent=PROD_AGENT,
        destination=destination,
        profile=str(sample_profile_path("prod")),
        gcp_conn_id=CONN_ID,
    ).execute(context())
    stored = gcs_client(gcs_env).bucket(BUCKET).blob("releases/secrets/stages/prod.zip").download_as_bytes()
    assert zip_files_as_json(stored)[WEBHOOK]["genericWebService"]["requestHeaders"][0]["value"] == (
        "${secret:conn:acme_branch_api}"
    )

    def restore(**kwargs: Any) -> Any:
        return CXRestoreAgentOperator(
            task_id="restore_prod", agent=agent, source=staged["uri"], gcp_conn_id=CONN_ID, poll_interval=0.05, **kwargs
        ).execute(context())

    result = restore(stage_profile=str(sample_profile_path("prod")))

    exported = cx_emulator.client(cx.AgentsClient).export_agent(request={"name": agent}).result(timeout=30)
    service = zip_files_as_json(exported.agent_content)[WEBHOOK]["genericWebService"]
    assert service["requestHeaders"] == [{"key": "X-Api-Key", "value": key}]
    assert result["source"] == destination
    assert result["source_sha256"] == staged["sha256"]  # read here (the API reads gs:// without a profile)
    assert key not in json.dumps(result)
    # The object in the bucket still holds only the marker.
    assert (
        key.encode()
        not in gcs_client(gcs_env).bucket(BUCKET).blob("releases/secrets/stages/prod.zip").download_as_bytes()
    )
