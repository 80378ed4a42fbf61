"""The CX emulator's gs:// URIs: through a Cloud Storage API when STORAGE_EMULATOR_HOST is set, else confined files.

Over gRPC with the stock client, as every emulator test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.demo.services import StorageEmulator
from airflow_provider_cx.emulator.testing import create_test_agent, wait_for, zip_files_as_json

from .conftest import BUCKET, gcs_client, sample_zip

JSON_PACKAGE = cx.ExportAgentRequest.DataFormat.JSON_PACKAGE


def test_restore_from_and_export_to_objects_that_exist_only_in_the_storage_emulator(
    gcs_env: StorageEmulator, cx_emulator_factory, tmp_path: Path
) -> None:
    server = cx_emulator_factory(data_dir=tmp_path / "data")
    agents = server.client(cx.AgentsClient)
    bucket = gcs_client(gcs_env).bucket(BUCKET)
    source = sample_zip(tmp_path)
    bucket.blob("emulator/in/agent.zip").upload_from_string(source)
    agent = create_test_agent(agents)

    wait_for(
        agents.restore_agent(
            request=cx.RestoreAgentRequest(name=agent.name, agent_uri=f"gs://{BUCKET}/emulator/in/agent.zip")
        )
    )
    out = f"gs://{BUCKET}/emulator/out/agent.zip"
    response = wait_for(
        agents.export_agent(request=cx.ExportAgentRequest(name=agent.name, agent_uri=out, data_format=JSON_PACKAGE))
    )

    assert response.agent_uri == out
    exported = bucket.blob("emulator/out/agent.zip").download_as_bytes()
    assert zip_files_as_json(exported) == zip_files_as_json(source)
    assert not (tmp_path / "data" / "gcs").exists()  # nothing went to the data dir
    with pytest.raises(exceptions.NotFound, match=rf"gs://{BUCKET}/emulator/missing\.zip does not exist"):
        agents.restore_agent(
            request=cx.RestoreAgentRequest(name=agent.name, agent_uri=f"gs://{BUCKET}/emulator/missing.zip")
        )
    failed = agents.export_agent(request=cx.ExportAgentRequest(name=agent.name, agent_uri="gs://no-such-bucket/a.zip"))
    with pytest.raises(exceptions.NotFound, match="no-such-bucket"):
        wait_for(failed)


@pytest.fixture
def local_agents(cx_emulator_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    server = cx_emulator_factory(data_dir=tmp_path / "data")
    agents = server.client(cx.AgentsClient)
    return agents, create_test_agent(agents)


@pytest.mark.parametrize(
    "make_uri",
    [
        pytest.param(lambda outside: f"gs://b/{outside}/out.zip", id="double-slash-absolute"),
        pytest.param(lambda outside: f"gs://b/x/../../..{outside}/out.zip", id="dot-dot"),
        pytest.param(lambda outside: f"gs://b/./{outside.name}/out.zip", id="dot"),
        pytest.param(lambda outside: "gs://b/a\x00/out.zip", id="nul"),
    ],
)
def test_export_to_an_object_name_that_leaves_the_bucket_is_refused_and_writes_nothing(
    local_agents, tmp_path: Path, make_uri
) -> None:
    agents, agent = local_agents
    outside = tmp_path / "outside"
    uri = make_uri(outside)
    with pytest.raises(exceptions.InvalidArgument, match="not a valid object URI"):
        agents.export_agent(request=cx.ExportAgentRequest(name=agent.name, agent_uri=uri))
    assert not outside.exists()
    assert not (tmp_path / "data" / "gcs").exists()


def test_restore_from_an_absolute_object_name_does_not_reveal_whether_the_file_exists(
    local_agents, tmp_path: Path
) -> None:
    agents, agent = local_agents
    present = tmp_path / "secret.zip"
    present.write_bytes(b"PK")
    answers = []
    for target in (present, tmp_path / "absent.zip"):
        uri = f"gs://b/{target}"
        with pytest.raises(exceptions.InvalidArgument) as refused:
            agents.restore_agent(request=cx.RestoreAgentRequest(name=agent.name, agent_uri=uri))
        answers.append(refused.value.message.replace(str(target), "<path>"))
    assert answers[0] == answers[1]
    assert "empty, '.' and '..' path segments are not allowed" in answers[0]


def test_a_symlink_in_the_data_dir_does_not_lead_out_of_the_bucket(local_agents, tmp_path: Path) -> None:
    agents, agent = local_agents
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "agent.zip").write_bytes(sample_zip(tmp_path))
    bucket_dir = tmp_path / "data" / "gcs" / "b"
    bucket_dir.mkdir(parents=True)
    (bucket_dir / "link").symlink_to(outside)
    with pytest.raises(exceptions.InvalidArgument, match="leads outside its bucket"):
        agents.restore_agent(request=cx.RestoreAgentRequest(name=agent.name, agent_uri="gs://b/link/agent.zip"))
    with pytest.raises(exceptions.InvalidArgument, match="leads outside its bucket"):
        agents.export_agent(request=cx.ExportAgentRequest(name=agent.name, agent_uri="gs://b/link/new.zip"))
    assert sorted(p.name for p in outside.iterdir()) == ["agent.zip"]


def test_the_storage_endpoint_without_google_cloud_storage_is_an_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sys

    from airflow_provider_cx.emulator.gcs import ApiGcs, LocalGcs, open_gcs

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:1")
    assert isinstance(open_gcs(tmp_path), ApiGcs)
    monkeypatch.setitem(sys.modules, "google.cloud.storage", None)
    with pytest.raises(RuntimeError, match=r"pip install 'airflow-provider-cx\[gcs\]'"):
        open_gcs(tmp_path)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    assert isinstance(open_gcs(tmp_path), LocalGcs)
