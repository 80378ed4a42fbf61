"""DialogflowCXHook's named CX calls against the emulator over gRPC: what each returns, waits and raises."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_cx.emulator.testing import TEST_PARENT, create_test_agent, package_bytes, unique_name
from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
from airflow_provider_cx.hooks.errors import CXInvalidInputError, CXOperationFailedError, CXResourceNotFoundError
from airflow_provider_cx.hooks.operations import PollingPolicy
from airflow_provider_cx.sample_agent import sample_agent_path
from tests.hooks.hook_support import FAST_RETRIES

CONN = "cx_hook_methods"
FAST_POLLING = PollingPolicy(initial_delay=0.02, max_delay=0.1, multiplier=1.5, jitter=0.01, timeout=30)


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch, cx_emulator: Any) -> Iterator[DialogflowCXHook]:
    extra = {"emulator_host": cx_emulator.address, "project": "test-project"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", json.dumps({"conn_type": "dialogflow_cx", "extra": extra}))
    hook = DialogflowCXHook(gcp_conn_id=CONN, retry_policy=FAST_RETRIES, polling_policy=FAST_POLLING)
    yield hook
    hook.close()


@pytest.fixture
def agent(cx_emulator: Any, hook: DialogflowCXHook) -> str:
    """A fresh agent holding the sample agent, restored through the hook."""
    from google.cloud import dialogflowcx_v3 as cx
    from google.protobuf import empty_pb2

    name: str = create_test_agent(cx_emulator.client(cx.AgentsClient), unique_name("hook-methods")).name
    operation = hook.restore_agent(name, agent_content=package_bytes(sample_agent_path()))
    hook.wait_for_result(operation, empty_pb2.Empty)
    return name


def test_agent_and_its_content(hook: DialogflowCXHook, agent: str) -> None:
    assert hook.get_agent(agent).name == agent
    assert agent in [a.name for a in hook.list_agents(TEST_PARENT)]
    flows = hook.list_flows(agent)
    assert "Default Start Flow" in [flow.display_name for flow in flows]
    start = next(flow for flow in flows if flow.display_name == "Default Start Flow")
    assert hook.get_flow(start.name).name == start.name
    assert all(page.name.startswith(start.name + "/pages/") for page in hook.list_pages(start.name))
    assert all(g.name.startswith(start.name) for g in hook.list_transition_route_groups(start.name))
    assert hook.list_intents(agent), "the sample agent has intents"


def test_export_then_wait_for_result_is_the_package(hook: DialogflowCXHook, agent: str) -> None:
    from google.cloud.dialogflowcx_v3 import ExportAgentResponse

    operation = hook.export_agent(agent)
    assert operation.operation.name.startswith(TEST_PARENT + "/operations/")
    response = hook.wait_for_result(operation, ExportAgentResponse)
    with zipfile.ZipFile(io.BytesIO(response.agent_content)) as archive:
        assert any(name.endswith("agent.json") for name in archive.namelist())


def test_restore_refuses_ambiguous_arguments_before_any_call(hook: DialogflowCXHook, agent: str) -> None:
    with pytest.raises(CXInvalidInputError, match="exactly one of agent_content and agent_uri"):
        hook.restore_agent(agent)
    with pytest.raises(CXInvalidInputError, match="exactly one of agent_content and agent_uri"):
        hook.restore_agent(agent, agent_content=b"x", agent_uri="gs://b/o.zip")
    with pytest.raises(CXInvalidInputError, match="restore_option 'MERGE'"):
        hook.restore_agent(agent, agent_content=b"x", restore_option="MERGE")


def test_validation_and_its_stored_result(hook: DialogflowCXHook, agent: str) -> None:
    validated = hook.validate_agent(agent)
    stored = hook.get_agent_validation_result(agent)
    assert stored.name == validated.name == f"{agent}/validationResult"
    assert len(stored.flow_validation_results) == len(validated.flow_validation_results)


def test_unknown_resources_raise_an_error_naming_them(hook: DialogflowCXHook) -> None:
    missing = f"{TEST_PARENT}/agents/no-such-agent"
    with pytest.raises(CXResourceNotFoundError, match=f"agent {missing} does not exist"):
        hook.get_agent(missing)
    with pytest.raises(CXResourceNotFoundError, match=f"agent {missing} does not exist"):
        hook.list_flows(missing)
    with pytest.raises(CXResourceNotFoundError, match=f"export of {missing}"):
        hook.export_agent(missing)
    with pytest.raises(CXResourceNotFoundError, match=r"environment .*/environments/nope"):
        hook.get_environment(f"{missing}/environments/nope")


def test_versions_environments_and_deployments(hook: DialogflowCXHook, agent: str) -> None:
    from google.cloud.dialogflowcx_v3 import DeployFlowResponse, Environment, Version

    reachable = hook.reachable_flows(hook.get_agent(agent), hook.list_flows(agent))
    assert reachable[0].display_name == "Default Start Flow"  # the start flow first
    versions = [
        hook.wait_for_result(hook.create_version(flow.name, display_name="v1", description="first"), Version)
        for flow in reachable
    ]
    flow, version = reachable[0].name, versions[0]
    assert version.name in [v.name for v in hook.list_versions(flow)]
    assert hook.get_version(version.name).description == "first"

    operation = hook.create_environment(agent, display_name=unique_name("env"), versions=[v.name for v in versions])
    environment = hook.wait_for_result(operation, Environment)
    served = [c.version for c in hook.get_environment(environment.name).version_configs]
    assert sorted(served) == sorted(v.name for v in versions)
    assert hook.resolve_environment(agent, environment.display_name).name == environment.name

    second = hook.wait_for_result(hook.create_version(flow, display_name="v2"), Version)
    updated = hook.wait_for_result(hook.update_environment(environment.name, description="moved"), Environment)
    assert updated.description == "moved"
    deployed = hook.wait_for_result(hook.deploy_flow(environment.name, second.name), DeployFlowResponse)
    assert hook.get_deployment(deployed.deployment).flow_version == second.name
    history = hook.lookup_environment_history(environment.name)
    assert {c.version for entry in history for c in entry.version_configs} >= {version.name, second.name}
    with pytest.raises(CXInvalidInputError, match="versions= or description="):
        hook.update_environment(environment.name)

    hook.delete_environment(environment.name)
    with pytest.raises(CXResourceNotFoundError):
        hook.get_environment(environment.name)


def test_compare_versions_with_the_draft(hook: DialogflowCXHook, agent: str) -> None:
    from google.cloud.dialogflowcx_v3 import Version

    from airflow_provider_cx.hooks.flow_changes import agent_languages, draft_differs, served_versions
    from airflow_provider_cx.hooks.release_calls import draft_version
    from airflow_provider_cx.hooks.version_content import same_content

    flows = {flow.display_name: flow.name for flow in hook.list_flows(agent)}
    finder = flows["Branch Finder"]
    version = hook.wait_for_result(hook.create_version(finder, display_name="v1"), Version)
    assert draft_version(finder) == f"{finder}/versions/0"
    assert same_content(hook.compare_versions(version.name, draft_version(finder)))
    languages = agent_languages(hook.get_agent(agent))
    assert languages == ["en"]
    assert not draft_differs(hook, finder, version.name, languages)

    (webhook,) = hook.get_webhooks_client(agent).list_webhooks(parent=agent)
    webhook.generic_web_service.uri = "https://branches.example.com/v2"
    hook.get_webhooks_client(agent).update_webhook(webhook=webhook)
    assert not same_content(hook.compare_versions(version.name, draft_version(finder), language_code="en"))
    assert draft_differs(hook, finder, version.name, languages)

    assert served_versions(hook, agent, "no-such-environment") is None
    with pytest.raises(CXResourceNotFoundError, match="comparing"):
        hook.compare_versions(f"{finder}/versions/99", draft_version(finder))


def test_test_cases_coverage_and_detect_intent(hook: DialogflowCXHook, agent: str) -> None:
    from google.cloud.dialogflowcx_v3 import BatchRunTestCasesResponse

    cases = hook.list_test_cases(agent)
    assert cases, "the sample agent has test cases"
    assert [c.name for c in hook.resolve_test_cases(agent, names=[cases[0].display_name])] == [cases[0].name]
    operation = hook.batch_run_test_cases(agent, [case.name for case in cases])
    results = hook.wait_for_result(operation, BatchRunTestCasesResponse).results
    assert len(results) == len(cases)
    assert hook.get_test_case_result(results[0].name).name == results[0].name
    coverage = hook.calculate_coverage(agent, "INTENT")
    assert 0 <= coverage.intent_coverage.coverage_score <= 1
    response = hook.detect_intent(agent, "hello", "en")
    assert response.query_result.text == "hello"


def test_operations_listed_waited_for_and_cancelled(hook: DialogflowCXHook, agent: str, cx_emulator: Any) -> None:
    from google.cloud.dialogflowcx_v3 import ExportAgentResponse

    cx_emulator.backend.operations.delay = 60
    try:
        running = hook.export_agent(agent)
        name = running.operation.name
        unfinished = {op.name: op for op in hook.list_operations(TEST_PARENT, "done=false")}
        assert name in unfinished
        metadata_type = unfinished[name].metadata.type_url.rsplit("/", 1)[-1]
        assert name in hook.unfinished_operations(TEST_PARENT, metadata_type)
        assert name not in hook.unfinished_operations(TEST_PARENT, "google.cloud.dialogflow.cx.v3.Other")
        hook.cancel_operation(running)
        finished = hook.wait_for_operation_done(name)
        assert finished.done
        assert finished.error.code == 1  # CANCELLED
        with pytest.raises(CXOperationFailedError, match="CANCELLED"):
            hook.wait_for_result(name, ExportAgentResponse)
    finally:
        cx_emulator.backend.operations.delay = 0.05
