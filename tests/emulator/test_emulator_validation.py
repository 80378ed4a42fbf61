"""ValidateAgent / ValidateFlow report the package lint's findings (one implementation) as the API does."""

from __future__ import annotations

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.emulator.testing import create_test_agent, package_bytes, wait_for
from airflow_provider_cx.emulator.validation import validation_config
from airflow_provider_cx.package import Resource, read_package, write_zip
from airflow_provider_cx.package.lint import lint_package

Severity = cx.ValidationMessage.Severity
ResourceType = cx.ValidationMessage.ResourceType


@pytest.fixture
def api(cx_client):
    return cx_client(cx.AgentsClient), cx_client(cx.FlowsClient)


def _restored(agents, content):
    agent = create_test_agent(agents)
    wait_for(agents.restore_agent(request=cx.RestoreAgentRequest(name=agent.name, agent_content=content)))
    return agent


def _messages(result):
    return [m for flow in result.flow_validation_results for m in flow.validation_messages]


def _phrases(*texts):
    return {"trainingPhrases": [{"parts": [{"text": t}], "repeatCount": 1, "languageCode": "en"} for t in texts]}


def _broken_qatar(shared_agents):
    package = read_package(package_bytes(next(p for p in shared_agents if p.name == "qatar-airways")))
    flow = package.flows[0]
    flow.pages.remove(flow.page("Select Ticket Type"))  # the start flow still routes to it
    package.intents.remove(package.intent("flights.customer_service"))  # a start-flow route uses it
    flow.pages.append(Resource("pages", "Orphan", {"name": "orphan-id", "displayName": "Orphan"}))
    package.intents.append(
        Resource(
            "intents", "thin", {"name": "thin-id", "displayName": "thin"}, {"trainingPhrases/en.json": _phrases("hey")}
        )
    )
    package.intents.append(
        Resource(
            "intents",
            "copycat",
            {"name": "copycat-id", "displayName": "copycat"},
            {
                "trainingPhrases/en.json": _phrases(
                    *(f"i want to book a ticket {i}" for i in range(12)), "i want to book a ticket"
                )
            },
        )
    )
    return package


def test_validate_agent_reports_the_broken_parts(api, shared_agents):
    agents, _ = api
    package = _broken_qatar(shared_agents)
    agent = _restored(agents, write_zip(package))
    result = agents.validate_agent(request={"name": agent.name})
    assert result.name == f"{agent.name}/validationResult"
    messages = _messages(result)

    def find(rule, text):
        hits = [m for m in messages if m.detail.startswith(f"[{rule}]") and text in m.detail]
        assert hits, f"no {rule} finding mentioning {text!r}"
        return hits[0]

    missing_page = find("route-to-missing-page", "Select Ticket Type")
    assert missing_page.severity == Severity.ERROR
    assert find("missing-intent", "flights.customer_service").severity == Severity.ERROR
    orphan = find("unused-page", "Orphan")
    assert orphan.severity == Severity.WARNING
    assert orphan.resource_type == ResourceType.PAGE
    assert orphan.resource_names[0].display_name == "Orphan"
    assert orphan.resource_names[0].name == f"{agent.start_flow}/pages/orphan-id"
    thin = find("intent-few-training-phrases", "thin")
    assert thin.severity == Severity.WARNING
    assert thin.resource_names[0].name == f"{agent.name}/intents/thin-id"
    duplicate = find("duplicate-training-phrase", "i want to book a ticket")
    assert duplicate.severity == Severity.WARNING
    assert duplicate.resource_type == ResourceType.INTENTS
    assert {n.display_name for n in duplicate.resource_names} == {"copycat", "flights.book_flight"}


@pytest.mark.parametrize("index", range(5))
def test_validation_is_the_package_lint(api, shared_agents, index):
    agents, _ = api
    content = package_bytes(shared_agents[index])
    agent = _restored(agents, content)
    result = agents.validate_agent(request={"name": agent.name})
    reported = {
        (m.detail, Severity(m.severity).name, tuple(n.display_name for n in m.resource_names))
        for m in _messages(result)
    }
    findings = lint_package(read_package(content), validation_config())
    expected = {
        (f"[{f.rule_id}] {f.message}", f.severity, f.resource_display_names or (agent.display_name,)) for f in findings
    }
    assert reported == expected


def test_stored_results_and_flow_validation(api, shared_agents):
    agents, flows = api
    agent = _restored(agents, package_bytes(next(p for p in shared_agents if p.name == "dsi-dialogflow")))
    with pytest.raises(exceptions.NotFound, match="ValidateAgent"):
        agents.get_agent_validation_result(request={"name": f"{agent.name}/validationResult"})
    result = agents.validate_agent(request={"name": agent.name})
    assert agents.get_agent_validation_result(request={"name": f"{agent.name}/validationResult"}) == result
    by_flow = {r.name: r for r in result.flow_validation_results}
    assert len(by_flow) == 5
    flow_result = flows.validate_flow(request={"name": agent.start_flow})
    assert flow_result.name == f"{agent.start_flow}/validationResult"
    assert list(flow_result.validation_messages) == list(by_flow[flow_result.name].validation_messages)
    assert flows.get_flow_validation_result(request={"name": flow_result.name}) == flow_result
    with pytest.raises(exceptions.InvalidArgument, match="validationResult"):
        flows.get_flow_validation_result(request={"name": agent.start_flow})
    wait_for(
        agents.restore_agent(
            request=cx.RestoreAgentRequest(name=agent.name, agent_content=package_bytes(shared_agents[0]))
        )
    )
    with pytest.raises(exceptions.NotFound):
        agents.get_agent_validation_result(request={"name": f"{agent.name}/validationResult"})
