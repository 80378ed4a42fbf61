"""Environments and Deployments over gRPC with the stock client: pins, history, deployments, continuous tests."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx
from google.protobuf import field_mask_pb2
from versioning import change_transfers_draft, clients, create_version, export, sample_agent

from airflow_provider_cx.emulator.errors import NotFound
from airflow_provider_cx.emulator.services.environments.models import environments
from airflow_provider_cx.emulator.services.environments.responses import newest_first_page
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.emulator.testing import wait_for
from airflow_provider_cx.package import read_package
from airflow_provider_cx.sample_agent import sample_agent_path

PASSED = cx.ContinuousTestResult.AggregatedTestResult.PASSED
FAILED = cx.ContinuousTestResult.AggregatedTestResult.FAILED


@pytest.fixture
def api(cx_client) -> SimpleNamespace:
    return clients(cx_client)


def configs(*versions: cx.Version) -> list[cx.Environment.VersionConfig]:
    return [cx.Environment.VersionConfig(version=v.name) for v in versions]


def versioned_agent(api: SimpleNamespace) -> tuple[cx.Agent, dict[str, cx.Flow], dict[str, cx.Version]]:
    """The sample agent with version 1 of every flow."""
    agent, flows = sample_agent(api)
    return agent, flows, {name: create_version(api, flow, "v1") for name, flow in flows.items()}


def create_environment(api: SimpleNamespace, agent: cx.Agent, versions, display_name="prod", **kwargs):
    environment = cx.Environment(display_name=display_name, version_configs=configs(*versions), **kwargs)
    return wait_for(api.environments.create_environment(parent=agent.name, environment=environment))


def pins(environment: cx.Environment) -> set[str]:
    return {c.version for c in environment.version_configs}


def test_create_get_list_environments(api):
    agent, _flows, versions = versioned_agent(api)
    made = [create_environment(api, agent, versions.values(), f"env-{i}", description=f"d{i}") for i in range(3)]
    assert made[0].name.startswith(f"{agent.name}/environments/")
    assert made[0].update_time.timestamp() > 0
    assert pins(made[0]) == {v.name for v in versions.values()}
    assert api.environments.get_environment(name=made[1].name) == made[1]
    pager = api.environments.list_environments(request=cx.ListEnvironmentsRequest(parent=agent.name, page_size=2))
    pages = list(pager.pages)
    assert [len(p.environments) for p in pages] == [2, 1]
    assert [e.name for p in pages for e in p.environments] == [e.name for e in made]


def test_environment_validation_names_the_problem_and_changes_nothing(api):
    agent, flows, versions = versioned_agent(api)
    prod = create_environment(api, agent, versions.values())
    stored = api.environments.get_environment(name=prod.name)
    every = list(versions.values())
    unknown = f"{flows['Transfers'].name}/versions/99"
    second = create_version(api, flows["Transfers"], "v2")
    other_agent, _, other_versions = versioned_agent(api)
    bad = [
        (exceptions.NotFound, "versions/99", [*every[:-1], cx.Version(name=unknown)], "x"),
        (exceptions.InvalidArgument, "one version per flow", [*every, second], "x"),
        (exceptions.InvalidArgument, "missing 'Transfers'", [v for n, v in versions.items() if n != "Transfers"], "x"),
        (exceptions.InvalidArgument, "another agent", [*every[:-1], other_versions["Transfers"]], "x"),
        (exceptions.AlreadyExists, "named 'prod'", every, "prod"),
        (exceptions.InvalidArgument, "display_name must be set", every, ""),
    ]
    for error, message, version_list, display_name in bad:
        environment = cx.Environment(display_name=display_name, version_configs=configs(*version_list))
        with pytest.raises(error, match=message):
            api.environments.create_environment(parent=agent.name, environment=environment)
    with pytest.raises(exceptions.NotFound, match="testCases/nope"):
        api.environments.create_environment(
            parent=agent.name,
            environment=cx.Environment(
                display_name="x",
                version_configs=configs(*every),
                test_cases_config=cx.Environment.TestCasesConfig(test_cases=[f"{agent.name}/testCases/nope"]),
            ),
        )
    with pytest.raises(exceptions.NotFound, match="webhooks/nope"):
        api.environments.create_environment(
            parent=agent.name,
            environment=cx.Environment(
                display_name="x",
                version_configs=configs(*every),
                webhook_config=cx.Environment.WebhookConfig(
                    webhook_overrides=[{"name": f"{agent.name}/webhooks/nope"}]
                ),
            ),
        )
    prod.version_configs.append(cx.Environment.VersionConfig(version=second.name))
    with pytest.raises(exceptions.InvalidArgument, match="update_mask is required"):
        api.environments.update_environment(environment=prod)
    with pytest.raises(exceptions.InvalidArgument, match="not a field of Environment"):
        api.environments.update_environment(environment=prod, update_mask=field_mask_pb2.FieldMask(paths=["nope"]))
    with pytest.raises(exceptions.InvalidArgument, match="one version per flow"):
        api.environments.update_environment(
            environment=prod, update_mask=field_mask_pb2.FieldMask(paths=["version_configs"])
        )
    with pytest.raises(exceptions.NotFound, match="environments/nope"):
        api.environments.get_environment(name=f"{agent.name}/environments/nope")
    assert [e.name for e in api.environments.list_environments(parent=agent.name)] == [prod.name]
    assert api.environments.get_environment(name=prod.name) == stored
    assert list(api.environments.list_environments(parent=other_agent.name)) == []


def test_webhook_overrides_are_kept(api):
    agent, _flows, versions = versioned_agent(api)
    hook = next(iter(api.webhooks.list_webhooks(parent=agent.name)))
    hook.generic_web_service.uri = "https://staging.example.com/hook"
    config = cx.Environment.WebhookConfig(webhook_overrides=[hook])
    env = create_environment(api, agent, versions.values(), webhook_config=config)
    stored = api.environments.get_environment(name=env.name).webhook_config.webhook_overrides
    assert [(w.name, w.generic_web_service.uri) for w in stored] == [(hook.name, "https://staging.example.com/hook")]


def test_update_deploy_and_history_newest_first(api):
    agent, flows, versions = versioned_agent(api)
    env = create_environment(api, agent, versions.values())
    env.description = "described"
    updated = wait_for(
        api.environments.update_environment(
            environment=env, update_mask=field_mask_pb2.FieldMask(paths=["description"])
        )
    )
    assert updated.description == "described"
    assert pins(updated) == pins(env)
    v2 = create_version(api, flows["Transfers"], "v2")
    op = api.environments.deploy_flow(request=cx.DeployFlowRequest(environment=env.name, flow_version=v2.name))
    assert isinstance(op.metadata, cx.DeployFlowMetadata)
    deployed = wait_for(op)
    assert pins(deployed.environment) == (pins(env) - {versions["Transfers"].name}) | {v2.name}
    assert api.environments.get_environment(name=env.name) == deployed.environment

    request = cx.LookupEnvironmentHistoryRequest(name=env.name, page_size=1)
    pages = list(api.environments.lookup_environment_history(request=request).pages)
    history = [e for p in pages for e in p.environments]
    assert len(pages) == 3
    assert history[0] == deployed.environment
    assert history[1].description == "described"
    assert v2.name not in pins(history[1])
    assert history[2].description == ""
    times = [e.update_time.timestamp() for e in history]
    assert times == sorted(times, reverse=True)


def test_deployments_are_recorded_newest_first(api):
    agent, flows, versions = versioned_agent(api)
    env = create_environment(api, agent, versions.values())
    made = []
    for i in range(3):
        version = create_version(api, flows["Card Services"], f"v{i + 2}")
        response = wait_for(
            api.environments.deploy_flow(request=cx.DeployFlowRequest(environment=env.name, flow_version=version.name))
        )
        made.append((response.deployment, version.name))
    deployment = api.deployments.get_deployment(name=made[0][0])
    assert deployment.flow_version == made[0][1]
    assert deployment.state == cx.Deployment.State.SUCCEEDED
    assert deployment.end_time.timestamp() >= deployment.start_time.timestamp() > 0
    pager = api.deployments.list_deployments(request=cx.ListDeploymentsRequest(parent=env.name, page_size=2))
    assert [d.name for p in pager.pages for d in p.deployments] == [name for name, _ in reversed(made)]
    with pytest.raises(exceptions.NotFound, match="deployments/nope"):
        api.deployments.get_deployment(name=f"{env.name}/deployments/nope")
    with pytest.raises(exceptions.NotFound, match="versions/42"):
        api.environments.deploy_flow(
            request=cx.DeployFlowRequest(environment=env.name, flow_version=f"{flows['Transfers'].name}/versions/42")
        )
    with pytest.raises(exceptions.NotFound, match="environments/nope"):
        api.environments.deploy_flow(
            request=cx.DeployFlowRequest(environment=f"{agent.name}/environments/nope", flow_version=made[0][1])
        )


def test_pinned_version_cannot_be_deleted_until_the_environment_is(api):
    agent, _flows, versions = versioned_agent(api)
    env = create_environment(api, agent, versions.values())
    with pytest.raises(exceptions.FailedPrecondition, match=env.name):
        api.versions.delete_version(name=versions["Transfers"].name)
    api.environments.delete_environment(name=env.name)
    with pytest.raises(exceptions.NotFound):
        api.environments.get_environment(name=env.name)
    with pytest.raises(exceptions.NotFound):
        api.deployments.list_deployments(parent=env.name)
    api.versions.delete_version(name=versions["Transfers"].name)


def test_export_of_an_environment_is_its_pinned_versions(api):
    agent, flows, versions = versioned_agent(api)
    env = create_environment(api, agent, versions.values())
    original = export(api, agent)
    change_transfers_draft(api, flows["Transfers"])
    draft = export(api, agent)
    assert draft != original
    assert export(api, agent, env.name) == original

    v2 = create_version(api, flows["Transfers"], "v2")
    wait_for(api.environments.deploy_flow(request=cx.DeployFlowRequest(environment=env.name, flow_version=v2.name)))
    assert export(api, agent, env.name) == draft
    with pytest.raises(exceptions.NotFound, match="environments/nope"):
        export(api, agent, f"{agent.name}/environments/nope")


def all_test_cases(api: SimpleNamespace, agent: cx.Agent) -> list[str]:
    return [t.name for t in api.test_cases.list_test_cases(parent=agent.name)]


def test_continuous_tests_run_the_listed_cases_in_the_environment(api):
    agent, flows, versions = versioned_agent(api)
    cases = all_test_cases(api, agent)
    config = cx.Environment.TestCasesConfig(test_cases=cases, enable_continuous_run=True)
    env = create_environment(api, agent, versions.values(), test_cases_config=config)
    op = api.environments.run_continuous_test(request=cx.RunContinuousTestRequest(environment=env.name))
    assert isinstance(op.metadata, cx.RunContinuousTestMetadata)
    first = wait_for(op).continuous_test_result
    assert first.result == PASSED
    assert len(first.test_case_results) == len(cases)
    assert {n.split("/results/")[0] for n in first.test_case_results} == set(cases)

    change_transfers_draft(api, flows["Transfers"])  # breaks the transfer cases, but only in the draft
    second = wait_for(api.environments.run_continuous_test(request={"environment": env.name})).continuous_test_result
    assert second.result == PASSED
    broken = create_version(api, flows["Transfers"], "broken")
    wait_for(api.environments.deploy_flow(request=cx.DeployFlowRequest(environment=env.name, flow_version=broken.name)))
    third = wait_for(api.environments.run_continuous_test(request={"environment": env.name})).continuous_test_result
    assert third.result == FAILED
    failed = [
        r
        for r in api.test_cases.list_test_case_results(parent=f"{agent.name}/testCases/-")
        if r.name in third.test_case_results and r.test_result == cx.TestResult.FAILED
    ]
    assert failed

    request = cx.ListContinuousTestResultsRequest(parent=env.name, page_size=2)
    listed = [
        r
        for p in api.environments.list_continuous_test_results(request=request).pages
        for r in p.continuous_test_results
    ]
    assert [r.name for r in listed] == [third.name, second.name, first.name]
    assert listed[0] == third


def test_continuous_test_needs_listed_test_cases(api):
    agent, _flows, versions = versioned_agent(api)
    env = create_environment(api, agent, versions.values())
    with pytest.raises(exceptions.FailedPrecondition, match="lists no test cases"):
        api.environments.run_continuous_test(request={"environment": env.name})


def test_failing_predeployment_run_keeps_the_environment_as_it_was(api):
    agent, flows, versions = versioned_agent(api)
    cases = all_test_cases(api, agent)
    config = cx.Environment.TestCasesConfig(test_cases=cases, enable_predeployment_run=True)
    env = create_environment(api, agent, versions.values(), test_cases_config=config)
    good = create_version(api, flows["Transfers"], "good")
    change_transfers_draft(api, flows["Transfers"])
    broken = create_version(api, flows["Transfers"], "broken")

    refused = wait_for(
        api.environments.deploy_flow(request=cx.DeployFlowRequest(environment=env.name, flow_version=broken.name))
    )
    deployment = api.deployments.get_deployment(name=refused.deployment)
    assert deployment.state == cx.Deployment.State.FAILED
    assert len(deployment.result.deployment_test_results) == len(cases)
    assert refused.environment == env
    assert api.environments.get_environment(name=env.name) == env
    assert len(list(api.environments.lookup_environment_history(request={"name": env.name}))) == 1
    assert export(api, agent, env.name) != export(api, agent)

    accepted = wait_for(
        api.environments.deploy_flow(request=cx.DeployFlowRequest(environment=env.name, flow_version=good.name))
    )
    assert api.deployments.get_deployment(name=accepted.deployment).state == cx.Deployment.State.SUCCEEDED
    assert good.name in pins(api.environments.get_environment(name=env.name))


def test_versions_environments_and_deployments_survive_a_restart(cx_emulator_factory, tmp_path):
    server = cx_emulator_factory(data_dir=tmp_path)
    api = clients(server.client)
    agent, flows, versions = versioned_agent(api)
    cases = all_test_cases(api, agent)
    env = create_environment(
        api, agent, versions.values(), test_cases_config=cx.Environment.TestCasesConfig(test_cases=cases)
    )
    change_transfers_draft(api, flows["Transfers"])
    v2 = create_version(api, flows["Transfers"], "v2")
    deployed = wait_for(
        api.environments.deploy_flow(request=cx.DeployFlowRequest(environment=env.name, flow_version=v2.name))
    )
    result = wait_for(api.environments.run_continuous_test(request={"environment": env.name})).continuous_test_result
    wait_for(api.versions.load_version(request=cx.LoadVersionRequest(name=versions["Transfers"].name)))
    before = {
        "versions": list(api.versions.list_versions(parent=flows["Transfers"].name)),
        "environment": api.environments.get_environment(name=env.name),
        "history": list(api.environments.lookup_environment_history(request={"name": env.name})),
        "deployment": api.deployments.get_deployment(name=deployed.deployment),
        "results": list(api.environments.list_continuous_test_results(parent=env.name)),
        "export": export(api, agent, env.name),
        "draft": export(api, agent),
    }
    assert before["results"][0] == result
    server.stop()

    again = clients(cx_emulator_factory(data_dir=tmp_path).client)
    after = {
        "versions": list(again.versions.list_versions(parent=flows["Transfers"].name)),
        "environment": again.environments.get_environment(name=env.name),
        "history": list(again.environments.lookup_environment_history(request={"name": env.name})),
        "deployment": again.deployments.get_deployment(name=deployed.deployment),
        "results": list(again.environments.list_continuous_test_results(parent=env.name)),
        "export": export(again, agent, env.name),
        "draft": export(again, agent),
    }
    assert after == before
    v3 = create_version(again, flows["Transfers"], "v3")
    assert v3.name == f"{flows['Transfers'].name}/versions/3"


def test_newest_first_page_reads_a_stored_list_backwards_without_changing_it():
    package = read_package(sample_agent_path())
    record = AgentRecord("p", "global", "a1", package.display_name, package)
    stored = [{"n": 1}, {"n": 2}, {"n": 3}]
    environments(record)["env"] = {"history": stored, "deployments": [], "continuousTestResults": []}

    first, token = newest_first_page(record, "env", "history", 2, "")
    assert first == [{"n": 3}, {"n": 2}]
    assert newest_first_page(record, "env", "history", 2, token) == ([{"n": 1}], "")
    assert newest_first_page(record, "env", "deployments", 0, "") == ([], "")
    assert stored == [{"n": 1}, {"n": 2}, {"n": 3}]  # still oldest first
    with pytest.raises(NotFound, match="environment projects/p/locations/global/agents/a1/environments/gone"):
        newest_first_page(record, "gone", "history", 2, "")
