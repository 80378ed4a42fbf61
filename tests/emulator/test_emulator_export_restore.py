"""ExportAgent / RestoreAgent: lossless round trips of every shared agent, BLOBs, gs:// and options."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.emulator.testing import create_test_agent as create_agent
from airflow_provider_cx.emulator.testing import package_bytes as source_bytes
from airflow_provider_cx.emulator.testing import wait_for, zip_files_as_json
from airflow_provider_cx.package import read_package, write_zip

JSON_PACKAGE = cx.ExportAgentRequest.DataFormat.JSON_PACKAGE
BLOB = cx.ExportAgentRequest.DataFormat.BLOB


@pytest.fixture
def agents(cx_client):
    return cx_client(cx.AgentsClient)


def _export(agents, name, **kwargs):
    return wait_for(agents.export_agent(request=cx.ExportAgentRequest(name=name, **kwargs)))


def _restore(agents, name, **kwargs):
    return wait_for(agents.restore_agent(request=cx.RestoreAgentRequest(name=name, **kwargs)))


def test_every_shared_agent_restores_and_exports_file_by_file(agents, shared_agents):
    assert len(shared_agents) >= 5
    for source in shared_agents:
        content = source_bytes(source)
        agent = create_agent(agents)
        _restore(agents, agent.name, agent_content=content)
        exported = _export(agents, agent.name, data_format=JSON_PACKAGE).agent_content
        assert zip_files_as_json(exported) == zip_files_as_json(content), source.name
        assert agents.get_agent(name=agent.name).start_flow.startswith(f"{agent.name}/flows/")


def test_blob_round_trip_and_foreign_blob(agents, shared_agents):
    agent = create_agent(agents)
    _restore(agents, agent.name, agent_content=source_bytes(shared_agents[0]))
    blob = _export(agents, agent.name, data_format=BLOB).agent_content
    json_export = _export(agents, agent.name, data_format=JSON_PACKAGE).agent_content
    assert not blob.startswith(b"PK")
    target = create_agent(agents)
    _restore(agents, target.name, agent_content=blob)
    assert _export(agents, target.name, data_format=JSON_PACKAGE).agent_content == json_export
    for bad, reason in ((b"\x00garbage from the real service", "neither"), (blob[:-10], "corrupt")):
        with pytest.raises(exceptions.InvalidArgument, match=reason):
            agents.restore_agent(request=cx.RestoreAgentRequest(name=target.name, agent_content=bad))
    assert _export(agents, target.name, data_format=JSON_PACKAGE).agent_content == json_export


def test_default_format_is_blob(agents):
    agent = create_agent(agents)
    assert _export(agents, agent.name).agent_content.startswith(b"CXEMU-BLOB")


def test_export_to_gcs_and_restore_from_gcs(agents, shared_agents, cx_emulator):
    agent = create_agent(agents)
    _restore(agents, agent.name, agent_content=source_bytes(shared_agents[-1]))
    uri = f"gs://bucket/exports/{agent.name.rsplit('/', 1)[-1]}.zip"
    response = _export(agents, agent.name, agent_uri=uri, data_format=JSON_PACKAGE)
    assert response.agent_uri == uri
    assert not response.agent_content
    stored = cx_emulator.backend.gcs.path_of(uri)
    assert stored.is_file()
    target = create_agent(agents)
    _restore(agents, target.name, agent_uri=uri)
    assert _export(agents, target.name, data_format=JSON_PACKAGE).agent_content == stored.read_bytes()
    with pytest.raises(exceptions.NotFound, match=r"gs://bucket/missing\.zip"):
        agents.restore_agent(request=cx.RestoreAgentRequest(name=target.name, agent_uri="gs://bucket/missing.zip"))
    with pytest.raises(exceptions.InvalidArgument, match="gs://"):
        agents.export_agent(request=cx.ExportAgentRequest(name=target.name, agent_uri="s3://x/y"))


def test_restore_keep_refuses_unsupported_settings_and_fallback_drops_them(agents, shared_agents):
    package = read_package(source_bytes(shared_agents[0]))
    package.agent["advancedSettings"] = {"speechSettings": {"endpointerSensitivity": "very"}}
    content = write_zip(package)
    agent = create_agent(agents)
    before = _export(agents, agent.name, data_format=JSON_PACKAGE).agent_content
    keep = cx.RestoreAgentRequest.RestoreOption.KEEP
    with pytest.raises(exceptions.InvalidArgument, match="advancedSettings"):
        agents.restore_agent(
            request=cx.RestoreAgentRequest(name=agent.name, agent_content=content, restore_option=keep)
        )
    assert _export(agents, agent.name, data_format=JSON_PACKAGE).agent_content == before
    fallback = cx.RestoreAgentRequest.RestoreOption.FALLBACK
    _restore(agents, agent.name, agent_content=content, restore_option=fallback)
    restored = zip_files_as_json(_export(agents, agent.name, data_format=JSON_PACKAGE).agent_content)
    assert "advancedSettings" not in restored["agent.json"]
    assert restored["agent.json"]["timeZone"] == package.agent["timeZone"]


def test_restore_keeps_agent_identity(agents, shared_agents):
    agent = create_agent(agents)
    _restore(agents, agent.name, agent_content=source_bytes(shared_agents[0]))
    after = agents.get_agent(name=agent.name)
    assert (after.name, after.display_name) == (agent.name, agent.display_name)


def test_restore_of_a_zip_without_agent_json_is_refused(agents):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("flows/x/x.json", json.dumps({"displayName": "x"}))
    agent = create_agent(agents)
    with pytest.raises(exceptions.InvalidArgument, match=r"agent\.json"):
        agents.restore_agent(request=cx.RestoreAgentRequest(name=agent.name, agent_content=buffer.getvalue()))


def test_export_of_unknown_agent_or_environment(agents):
    agent = create_agent(agents)
    with pytest.raises(exceptions.NotFound, match="agents/nope"):
        agents.export_agent(request=cx.ExportAgentRequest(name=agent.name.rsplit("/", 1)[0] + "/nope"))
    with pytest.raises(exceptions.NotFound, match="environments/prod"):
        agents.export_agent(
            request=cx.ExportAgentRequest(name=agent.name, environment=f"{agent.name}/environments/prod")
        )


def test_environment_export_uses_the_registered_resolver(agents, cx_emulator_factory, shared_agents):
    server = cx_emulator_factory()
    client = server.client(cx.AgentsClient)
    agent = create_agent(client)
    snapshot = read_package(source_bytes(shared_agents[0]))
    seen = []

    def resolver(record, environment):
        seen.append((record.name, environment))
        return snapshot

    server.backend.register_environment_resolver(resolver)
    env = f"{agent.name}/environments/prod"
    exported = _export(client, agent.name, environment=env, data_format=JSON_PACKAGE).agent_content
    assert exported == write_zip(snapshot)
    assert (agent.name, env) in seen
