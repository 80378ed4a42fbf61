"""The v3beta1 surface: the same servicers and store behind google.cloud.dialogflow.cx.v3 and v3beta1."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx
from google.cloud import dialogflowcx_v3beta1 as beta
from google.protobuf import field_mask_pb2

from airflow_provider_cx.emulator.testing import TEST_PARENT as PARENT
from airflow_provider_cx.emulator.testing import create_test_agent
from airflow_provider_cx.emulator.testing import unique_name as unique


@pytest.fixture
def agents(cx_client):
    return cx_client(cx.AgentsClient)


@pytest.fixture
def beta_agents(cx_client):
    return cx_client(beta.AgentsClient)


def _agent_json(content: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return json.loads(archive.read("agent.json"))


def test_a_v3_client_and_a_v3beta1_client_see_the_same_agent(agents, beta_agents):
    created = create_test_agent(agents, unique("both"))
    seen = beta_agents.get_agent(name=created.name)
    assert (seen.name, seen.display_name, seen.start_flow) == (created.name, created.display_name, created.start_flow)
    assert created.name in [a.name for a in beta_agents.list_agents(parent=PARENT)]

    made_by_beta = beta_agents.create_agent(
        parent=PARENT, agent=beta.Agent(display_name=unique("beta"), default_language_code="en", time_zone="UTC")
    )
    assert agents.get_agent(name=made_by_beta.name).display_name == made_by_beta.display_name


def test_resources_cross_versions_with_renames_and_errors(cx_client, agents):
    agent = create_test_agent(agents, unique("flows"))
    beta_flows, flows = cx_client(beta.FlowsClient), cx_client(cx.FlowsClient)
    made = beta_flows.create_flow(parent=agent.name, flow=beta.Flow(display_name="Billing", description="d"))
    assert flows.get_flow(name=made.name).description == "d"
    flows.update_flow(flow=cx.Flow(name=made.name, display_name="Payments"), update_mask={"paths": ["display_name"]})
    assert beta_flows.get_flow(name=made.name).display_name == "Payments"
    assert {f.display_name for f in beta_flows.list_flows(parent=agent.name)} == {"Default Start Flow", "Payments"}
    with pytest.raises(exceptions.NotFound, match="flows/nope"):
        beta_flows.get_flow(name=f"{agent.name}/flows/nope")


def test_v3beta1_only_fields_round_trip_into_the_package(agents, beta_agents):
    created = beta_agents.create_agent(
        parent=PARENT,
        agent=beta.Agent(
            display_name=unique("bq"),
            default_language_code="en",
            time_zone="UTC",
            bigquery_export_settings=beta.BigQueryExportSettings(enabled=True, bigquery_table="p.d.t"),
        ),
    )
    assert created.bigquery_export_settings.bigquery_table == "p.d.t"
    assert beta_agents.get_agent(name=created.name).bigquery_export_settings.enabled is True

    # The v3 view has no such field; an update through v3 keeps what it cannot see.
    agents.update_agent(
        agent=cx.Agent(name=created.name, description="v3 edit"),
        update_mask=field_mask_pb2.FieldMask(paths=["description"]),
    )
    after = beta_agents.get_agent(name=created.name)
    assert (after.description, after.bigquery_export_settings.bigquery_table) == ("v3 edit", "p.d.t")

    # An update mask may name a v3beta1-only field when the caller speaks v3beta1 ...
    beta_agents.update_agent(
        agent=beta.Agent(
            name=created.name, bigquery_export_settings=beta.BigQueryExportSettings(bigquery_table="x.y.z")
        ),
        update_mask=field_mask_pb2.FieldMask(paths=["bigquery_export_settings.bigquery_table"]),
    )
    exported = agents.export_agent(
        request=cx.ExportAgentRequest(name=created.name, data_format=cx.ExportAgentRequest.DataFormat.JSON_PACKAGE)
    ).result(timeout=10)
    assert _agent_json(exported.agent_content)["bigqueryExportSettings"] == {"enabled": True, "bigqueryTable": "x.y.z"}
    # ... but not when it speaks v3.
    with pytest.raises(exceptions.InvalidArgument, match="bigquery_export_settings"):
        agents.update_agent(
            agent=cx.Agent(name=created.name), update_mask=field_mask_pb2.FieldMask(paths=["bigquery_export_settings"])
        )


def test_operations_carry_type_urls_of_the_callers_version(cx_emulator, agents, beta_agents):
    agent = create_test_agent(agents, unique("lro"))
    beta_op = beta_agents.export_agent(request={"name": agent.name})
    v3_op = agents.export_agent(request={"name": agent.name})
    assert beta_op.result(timeout=10).agent_content  # the api_core future unpacks the v3beta1 type
    assert v3_op.result(timeout=10).agent_content
    assert (
        beta_op.operation.response.type_url
        == "type.googleapis.com/google.cloud.dialogflow.cx.v3beta1.ExportAgentResponse"
    )
    assert v3_op.operation.response.type_url == "type.googleapis.com/google.cloud.dialogflow.cx.v3.ExportAgentResponse"

    # Restoring through v3beta1 what v3 exported: one store behind both.
    content = v3_op.result().agent_content
    other = create_test_agent(agents, unique("lro-target"))
    beta_agents.restore_agent(request={"name": other.name, "agent_content": content}).result(timeout=10)
    assert beta_agents.get_agent(name=other.name).start_flow.startswith(other.name)


def test_calls_are_recorded_under_the_version_called(cx_emulator, beta_agents):
    beta_agents.list_agents(parent=PARENT)
    assert cx_emulator.admin().counts().get("/google.cloud.dialogflow.cx.v3beta1.Agents/ListAgents", 0) >= 1


def test_v3beta1_only_fields_of_a_package_resource_round_trip(cx_client, agents):
    agent = create_test_agent(agents, unique("pb-beta"))
    beta_playbooks, playbooks = cx_client(beta.PlaybooksClient), cx_client(cx.PlaybooksClient)
    made = beta_playbooks.create_playbook(
        parent=agent.name,
        playbook=beta.Playbook(
            display_name="Voice",
            goal="Talk.",
            speech_settings=beta.AdvancedSettings.SpeechSettings(endpointer_sensitivity=40, no_speech_timeout="5s"),
        ),
    )
    assert made.speech_settings.endpointer_sensitivity == 40
    # A v3 update cannot see the field and keeps it.
    playbooks.update_playbook(playbook=cx.Playbook(name=made.name, goal="Talk more."), update_mask={"paths": ["goal"]})
    seen = beta_playbooks.get_playbook(name=made.name)
    assert (seen.goal, seen.speech_settings.endpointer_sensitivity) == ("Talk more.", 40)
    assert seen.speech_settings.no_speech_timeout.total_seconds() == 5
    exported = agents.export_agent(
        request=cx.ExportAgentRequest(name=agent.name, data_format=cx.ExportAgentRequest.DataFormat.JSON_PACKAGE)
    ).result(timeout=10)
    with zipfile.ZipFile(io.BytesIO(exported.agent_content)) as archive:
        body = json.loads(archive.read("playbooks/Voice/Voice.json"))
    # Durations are kept in the package's {"seconds": n} form, like every other duration of an export.
    assert body["speechSettings"] == {"endpointerSensitivity": 40, "noSpeechTimeout": {"seconds": 5}}
