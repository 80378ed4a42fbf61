"""What a CI/CD pipeline does with dfcx-scrapi, against the emulator: every call over v3beta1 gRPC.

The agent is a real export (qatar-airways: test cases, a webhook, entity types); scrapi restores it
from gs://, reads and changes it, versions and deploys it, runs its test cases and talks to it.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from dfcx_scrapi.core import (
    agents,
    conversation,
    entity_types,
    environments,
    flows,
    intents,
    operations,
    pages,
    sessions,
    test_cases,
    transition_route_groups,
    versions,
    webhooks,
)
from google.cloud.dialogflowcx_v3beta1 import EnvironmentsClient, types

from airflow_provider_cx.emulator.testing import package_bytes, unique_name

pytestmark = [pytest.mark.emulator, pytest.mark.scrapi]
PROJECT = "scrapi-project"
BUCKET = "gs://scrapi-bucket"


def _files(content: bytes) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name for name in archive.namelist() if not name.endswith("/")}


@pytest.fixture(scope="module")
def agent(emulator: Any, creds: Any, shared_agents: Any, wait_lro: Any) -> types.Agent:
    """A new agent restored by scrapi from gs:// with the qatar-airways export."""
    (qatar,) = [p for p in shared_agents if p.name == "qatar-airways"]
    emulator.backend.gcs.write(f"{BUCKET}/qatar.zip", package_bytes(qatar))
    made = agents.Agents(creds=creds).create_agent(PROJECT, display_name=unique_name("scrapi"))
    op = agents.Agents(creds=creds).restore_agent(made.name, f"{BUCKET}/qatar.zip")
    wait_lro(operations.Operations(creds=creds), op)
    return made


@pytest.fixture(scope="module")
def start_flow(agent: types.Agent, creds: Any) -> str:
    return agents.Agents(creds=creds).get_agent(agent.name).start_flow


def test_agents_create_get_list_export_validate(emulator, creds, agent, scrapi_channels, wait_lro):
    api = agents.Agents(creds=creds)
    assert api.get_agent(agent.name).display_name == agent.display_name
    assert agent.name in [a.name for a in api.list_agents(PROJECT, "global")]
    assert scrapi_channels
    assert all("dialogflow.googleapis.com" in t for t in scrapi_channels)

    op = api.export_agent(agent.name, f"{BUCKET}/export.zip", data_format="JSON")
    wait_lro(operations.Operations(creds=creds), op)
    exported = emulator.backend.gcs.read(f"{BUCKET}/export.zip")
    source = emulator.backend.gcs.read(f"{BUCKET}/qatar.zip")
    assert _files(exported) == _files(source)

    result = api.validate_agent(agent.name)
    assert result["name"] == f"{agent.name}/validationResult"
    assert api.get_validation_result(agent.name)["name"] == result["name"]


def test_design_time_lists(creds, agent, start_flow):
    flow_list = flows.Flows(creds=creds).list_flows(agent.name)
    assert [f.name for f in flow_list] == [start_flow]
    assert len(pages.Pages(creds=creds).list_pages(start_flow)) == 19
    assert len(intents.Intents(creds=creds).list_intents(agent.name)) == 17
    assert len(entity_types.EntityTypes(creds=creds).list_entity_types(agent.name)) == 8
    assert len(webhooks.Webhooks(creds=creds).list_webhooks(agent.name)) == 1
    groups = transition_route_groups.TransitionRouteGroups(creds=creds).list_transition_route_groups(start_flow)
    assert len(groups) == 1


def test_reporting_tables_match_the_api(creds, agent, start_flow):
    intent_api = intents.Intents(creds=creds)
    phrases = intent_api.bulk_intent_to_df(agent.name)
    listed = intent_api.list_intents(agent.name)
    assert len(phrases) == sum(len(i.training_phrases) for i in listed)
    assert set(phrases["display_name"]) == {i.display_name for i in listed if i.training_phrases}

    entity_api = entity_types.EntityTypes(creds=creds)
    values = entity_api.entity_types_to_df(agent.name)
    # One row per synonym of each entity value.
    listed_types = entity_api.list_entity_types(agent.name)
    assert len(values) == sum(len(value.synonyms) for e in listed_types for value in e.entities)

    group_api = transition_route_groups.TransitionRouteGroups(creds=creds)
    routes = group_api.route_groups_to_dataframe(agent.name)
    groups = group_api.list_transition_route_groups(start_flow)
    assert len(routes) == sum(len(g.transition_routes) for g in groups)


def test_flows_train_export_import(emulator, creds, agent, start_flow):
    api = flows.Flows(creds=creds)
    api.train_flow(start_flow).result(timeout=30)

    exported = api.export_flow(start_flow, f"{BUCKET}/flow.blob")
    assert exported.flow_uri == f"{BUCKET}/flow.blob"
    content = api.export_flow_inline(start_flow)
    assert emulator.backend.gcs.read(f"{BUCKET}/flow.blob") == content

    target = agents.Agents(creds=creds).create_agent(PROJECT, display_name=unique_name("scrapi-import"))
    imported = api.import_flow(target.name, flow_content=content, import_option="FALLBACK").result(timeout=30)
    flow = api.get_flow(imported.flow)
    assert flow.display_name == "Default Start Flow"
    assert len(pages.Pages(creds=creds).list_pages(imported.flow)) == 19

    again = agents.Agents(creds=creds).create_agent(PROJECT, display_name=unique_name("scrapi-import-gcs"))
    from_gcs = api.import_flow(again.name, gcs_path=f"{BUCKET}/flow.blob").result(timeout=30)
    assert from_gcs.flow.startswith(again.name + "/flows/")


def test_versions_create_load_compare(creds, agent, start_flow):
    api = versions.Versions(creds=creds)
    first = api.create_version(start_flow, "v1").result(timeout=30)
    pages.Pages(creds=creds).create_page(start_flow, display_name="Added after v1")
    second = api.create_version(start_flow, "v2").result(timeout=30)
    assert [v.display_name for v in api.list_versions(start_flow)] == ["v2", "v1"]

    diff = api.compare_versions(first.name, second.name, start_flow)
    assert "Added after v1" in diff.target_version_content_json
    assert "Added after v1" not in diff.base_version_content_json

    api.load_version(first, allow_override=True, flow_id=start_flow).result(timeout=30)
    names = {p.display_name for p in pages.Pages(creds=creds).list_pages(start_flow)}
    assert "Added after v1" not in names


def test_environments_create_deploy_history_results(emulator, creds, agent, start_flow):
    env_api = environments.Environments(creds=creds)
    v_api = versions.Versions(creds=creds)
    v1 = v_api.get_version_by_display_name("v1", start_flow)
    # scrapi takes (flow display name, version id); on a mismatch it prints a line and sends an empty
    # VersionConfig, which the API (and the emulator) refuse as an invalid version name.
    created = env_api.create_environment_by_display_name(
        "staging", [("Default Start Flow", v1.name.rsplit("/", 1)[-1])], description="ci", agent_id=agent.name
    ).result(timeout=30)
    assert created.display_name == "staging"

    v2 = v_api.get_version_by_display_name("v2", start_flow)
    deployed = env_api.deploy_flow_to_environment(created.name, v2.name).result(timeout=30)
    assert deployed.deployment.startswith(created.name + "/deployments/")
    history = env_api.lookup_environment_history(created.name)
    assert len(history) >= 2
    assert history[0].version_configs[0].version == v2.name
    cases = [t.name for t in test_cases.TestCases(creds=creds, agent_id=agent.name).list_test_cases(agent.name)[:2]]
    env_api.update_environment(
        created.name, test_cases_config=types.Environment.TestCasesConfig(test_cases=cases)
    ).result(timeout=30)
    # scrapi has no call that runs a continuous test; the pipeline's own client does it.
    runner = emulator.client(EnvironmentsClient)
    runner.run_continuous_test(request={"environment": created.name}).result(timeout=30)
    (result,) = env_api.list_continuous_test_results(created.name)
    assert result.name.startswith(created.name + "/continuousTestResults/")
    assert result.result in (
        types.ContinuousTestResult.AggregatedTestResult.PASSED,
        types.ContinuousTestResult.AggregatedTestResult.FAILED,
    )


def test_test_cases_run_results_coverage_import_export(emulator, creds, agent):
    api = test_cases.TestCases(creds=creds, agent_id=agent.name)
    listed = api.list_test_cases(agent.name)
    assert len(listed) == 17

    one = api.run_test_case(listed[0].name)
    assert one.result.name.startswith(listed[0].name + "/results/")
    batch = api.batch_run_test_cases([t.name for t in listed[:3]], agent.name)
    assert len(batch.results) == 3
    results = api.list_test_case_results(listed[0].name)
    assert results
    assert results[0].test_result in (types.TestResult.PASSED, types.TestResult.FAILED)
    full = api.list_test_cases(agent.name, include_conversation_turns=True)
    assert any(t.last_test_result.name for t in full)

    # scrapi's results table (what a pipeline reports): every case re-run in one batch.
    table = api.get_test_case_results_df(agent.name, retest_all=True)
    assert sorted(table["display_name"]) == sorted(t.display_name for t in listed)
    assert set(table["passed"]) <= {True, False}

    coverage = api.calculate_coverage(coverage_type=1, agent_id=agent.name)
    assert coverage.intent_coverage.coverage_score > 0

    api.export_test_cases(f"{BUCKET}/tests.blob", agent.name).result(timeout=30)
    target = agents.Agents(creds=creds).create_agent(PROJECT, display_name=unique_name("scrapi-tests"))
    imported = api.import_test_cases(f"{BUCKET}/tests.blob", target.name)
    assert len(imported.names) == 17


def test_sessions_and_conversations_detect_intent(creds, agent):
    api = sessions.Sessions(creds=creds, agent_id=agent.name)
    session = api.build_session_id(agent.name)
    result = api.detect_intent(agent.name, session, "I want to book a flight")
    assert result.intent.display_name == "flights.book_flight"

    talk = conversation.DialogflowConversation(creds=creds, agent_id=agent.name)
    reply = talk.reply({"text": "I want to book a flight"}, restart=True)
    assert reply["intent_name"] == "flights.book_flight"
    assert json.dumps(reply["params"]) is not None
