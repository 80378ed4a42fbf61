"""Helpers shared by the versions and environments tests: stock clients and the sample agent restored."""

from __future__ import annotations

from types import SimpleNamespace

from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.emulator.testing import create_test_agent, package_bytes, wait_for, zip_files_as_json
from airflow_provider_cx.sample_agent import sample_agent_path

JSON_PACKAGE = cx.ExportAgentRequest.DataFormat.JSON_PACKAGE


def clients(server_or_factory) -> SimpleNamespace:
    client = server_or_factory
    return SimpleNamespace(
        agents=client(cx.AgentsClient),
        flows=client(cx.FlowsClient),
        pages=client(cx.PagesClient),
        intents=client(cx.IntentsClient),
        webhooks=client(cx.WebhooksClient),
        versions=client(cx.VersionsClient),
        environments=client(cx.EnvironmentsClient),
        deployments=client(cx.DeploymentsClient),
        test_cases=client(cx.TestCasesClient),
    )


def sample_agent(api: SimpleNamespace) -> tuple[cx.Agent, dict[str, cx.Flow]]:
    """A new agent restored from the sample agent, and its flows by display name."""
    agent = create_test_agent(api.agents)
    content = package_bytes(sample_agent_path())
    wait_for(api.agents.restore_agent(request=cx.RestoreAgentRequest(name=agent.name, agent_content=content)))
    return agent, {f.display_name: f for f in api.flows.list_flows(parent=agent.name)}


def export(api: SimpleNamespace, agent: cx.Agent, environment: str = "") -> dict:
    request = cx.ExportAgentRequest(name=agent.name, data_format=JSON_PACKAGE, environment=environment)
    return zip_files_as_json(wait_for(api.agents.export_agent(request=request)).agent_content)


def create_version(api: SimpleNamespace, flow: cx.Flow, display_name: str = "v", **kwargs) -> cx.Version:
    op = api.versions.create_version(parent=flow.name, version=cx.Version(display_name=display_name, **kwargs))
    return wait_for(op)


def change_transfers_draft(api: SimpleNamespace, flow: cx.Flow) -> None:
    """Edit the Transfers flow after versioning: drop a page route, add a page, change an intent."""
    pages = {p.display_name: p for p in api.pages.list_pages(parent=flow.name)}
    confirm = pages["Confirm Transfer"]
    intent_name = [r.intent for r in confirm.transition_routes if r.intent][-1]
    del confirm.transition_routes[0]
    api.pages.update_page(page=confirm)
    api.pages.create_page(parent=flow.name, page=cx.Page(display_name="Added After Version"))
    intent = api.intents.get_intent(name=intent_name)
    phrase = cx.Intent.TrainingPhrase(parts=[{"text": "added after the version"}], repeat_count=1)
    intent.training_phrases.append(phrase)
    api.intents.update_intent(intent=intent)
