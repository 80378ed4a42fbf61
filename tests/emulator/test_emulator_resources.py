"""Flows, Pages, Intents, EntityTypes, TransitionRouteGroups, Webhooks over gRPC with the stock clients."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.emulator.testing import (
    create_test_agent,
    package_bytes,
    unique_name,
    wait_for,
    zip_files_as_json,
)

JSON_PACKAGE = cx.ExportAgentRequest.DataFormat.JSON_PACKAGE


@pytest.fixture
def api(cx_client):
    return SimpleNamespace(
        agents=cx_client(cx.AgentsClient),
        flows=cx_client(cx.FlowsClient),
        pages=cx_client(cx.PagesClient),
        intents=cx_client(cx.IntentsClient),
        entity_types=cx_client(cx.EntityTypesClient),
        groups=cx_client(cx.TransitionRouteGroupsClient),
        webhooks=cx_client(cx.WebhooksClient),
    )


def _restored(api, source):
    agent = create_test_agent(api.agents)
    wait_for(api.agents.restore_agent(request=cx.RestoreAgentRequest(name=agent.name, agent_content=source)))
    return agent


def _export_files(api, agent):
    request = cx.ExportAgentRequest(name=agent.name, data_format=JSON_PACKAGE)
    return zip_files_as_json(wait_for(api.agents.export_agent(request=request)).agent_content)


def _by_name(items, display_name):
    return next(item for item in items if item.display_name == display_name)


def test_get_then_update_of_every_resource_leaves_every_export_unchanged(api, shared_agents):
    for source in shared_agents:
        content = package_bytes(source)
        agent = _restored(api, content)
        for flow in api.flows.list_flows(parent=agent.name):
            api.flows.update_flow(flow=flow)
            for page in api.pages.list_pages(parent=flow.name):
                api.pages.update_page(page=page)
            for group in api.groups.list_transition_route_groups(parent=flow.name):
                api.groups.update_transition_route_group(transition_route_group=group)
        for intent in api.intents.list_intents(parent=agent.name):
            api.intents.update_intent(intent=intent)
        for entity_type in api.entity_types.list_entity_types(parent=agent.name):
            api.entity_types.update_entity_type(entity_type=entity_type)
        for webhook in api.webhooks.list_webhooks(parent=agent.name):
            api.webhooks.update_webhook(webhook=webhook)
        api.agents.update_agent(agent=api.agents.get_agent(name=agent.name))
        assert _export_files(api, agent) == zip_files_as_json(content), source.name


def test_references_are_resource_names_in_the_api_and_display_names_in_the_package(api, shared_agents):
    qatar = next(p for p in shared_agents if p.name == "qatar-airways")
    agent = _restored(api, package_bytes(qatar))
    (flow,) = api.flows.list_flows(parent=agent.name)
    pages = list(api.pages.list_pages(parent=flow.name))
    intents = {i.name: i.display_name for i in api.intents.list_intents(parent=agent.name)}
    route = _by_name(pages, "Select Ticket Type").transition_routes[0]
    assert route.intent in intents
    assert route.target_page.startswith(f"{flow.name}/pages/")
    end_flow = [r for r in flow.transition_routes if r.target_page.endswith("/pages/END_FLOW")]
    assert end_flow
    assert end_flow[0].target_page == f"{flow.name}/pages/END_FLOW"
    form = _by_name(pages, "Collect One-Way Ticket Information").form.parameters
    entity_names = {e.name for e in api.entity_types.list_entity_types(parent=agent.name)}
    assert form[0].entity_type == "projects/-/locations/-/agents/-/entityTypes/sys.date"
    assert form[1].entity_type in entity_names
    (group,) = api.groups.list_transition_route_groups(parent=flow.name)
    assert group.name.startswith(f"{flow.name}/transitionRouteGroups/")
    assert group.transition_routes[0].intent in intents  # "flights.animals_on_board  " resolved despite the spaces


def test_flow_crud_rename_and_delete_rules(api):
    agent = create_test_agent(api.agents)
    flow = api.flows.create_flow(parent=agent.name, flow=cx.Flow(display_name="Billing", description="d"))
    assert {h.event for h in flow.event_handlers} == {"sys.no-match-default", "sys.no-input-default"}
    assert api.flows.get_flow(name=flow.name) == flow
    with pytest.raises(exceptions.AlreadyExists, match="Billing"):
        api.flows.create_flow(parent=agent.name, flow=cx.Flow(display_name="Billing"))
    start = api.flows.get_flow(name=agent.start_flow)
    start.transition_routes.append(cx.TransitionRoute(condition="true", target_flow=flow.name))
    api.flows.update_flow(flow=start, update_mask={"paths": ["transition_routes"]})
    renamed = api.flows.update_flow(
        flow=cx.Flow(name=flow.name, display_name="Payments"), update_mask={"paths": ["display_name"]}
    )
    assert renamed.description == "d"
    files = _export_files(api, agent)
    assert "flows/Payments/Payments.json" in files
    start_json = files["flows/Default Start Flow/Default Start Flow.json"]
    assert start_json["transitionRoutes"][-1]["targetFlow"] == "Payments"
    with pytest.raises(exceptions.FailedPrecondition, match="referenced"):
        api.flows.delete_flow(name=flow.name)
    api.flows.delete_flow(request={"name": flow.name, "force": True})
    assert not api.flows.get_flow(name=agent.start_flow).transition_routes[-1].target_flow
    with pytest.raises(exceptions.NotFound, match=flow.name):
        api.flows.get_flow(name=flow.name)
    with pytest.raises(exceptions.FailedPrecondition, match="start flow"):
        api.flows.delete_flow(name=agent.start_flow)


def test_list_flows_paginates(api):
    agent = create_test_agent(api.agents)
    for i in range(4):
        api.flows.create_flow(parent=agent.name, flow=cx.Flow(display_name=f"f{i}"))
    pages = list(api.flows.list_flows(request={"parent": agent.name, "page_size": 2}).pages)
    assert [len(p.flows) for p in pages] == [2, 2, 1]


def test_train_flow_is_a_long_running_operation(api):
    agent = create_test_agent(api.agents)
    wait_for(api.flows.train_flow(name=agent.start_flow))
    with pytest.raises(exceptions.NotFound, match="flows/nope"):
        api.flows.train_flow(name=f"{agent.name}/flows/nope")


def test_page_crud_with_references(api):
    agent = create_test_agent(api.agents)
    flow = agent.start_flow
    target = api.pages.create_page(parent=flow, page=cx.Page(display_name="Done"))
    intents = list(api.intents.list_intents(parent=agent.name))
    welcome = _by_name(intents, "Default Welcome Intent")
    page = api.pages.create_page(
        parent=flow,
        page=cx.Page(
            display_name="Ask",
            transition_routes=[
                cx.TransitionRoute(intent=welcome.name, target_page=target.name),
                cx.TransitionRoute(condition="true", target_page=f"{flow}/pages/END_SESSION"),
            ],
        ),
    )
    assert page.transition_routes[0].target_page == target.name
    assert page.transition_routes[1].target_page == f"{flow}/pages/END_SESSION"
    stored = _export_files(api, agent)["flows/Default Start Flow/pages/Ask.json"]
    assert stored["transitionRoutes"][0] == {"intent": "Default Welcome Intent", "targetPage": "Done"}
    assert stored["transitionRoutes"][1]["targetPage"] == "End Session"
    with pytest.raises(exceptions.InvalidArgument, match="pages/missing"):
        api.pages.create_page(
            parent=flow,
            page=cx.Page(
                display_name="Bad",
                transition_routes=[cx.TransitionRoute(condition="true", target_page=f"{flow}/pages/missing")],
            ),
        )
    with pytest.raises(exceptions.FailedPrecondition, match="Done"):
        api.pages.delete_page(name=target.name)
    api.pages.delete_page(request={"name": target.name, "force": True})
    assert not api.pages.get_page(name=page.name).transition_routes[0].target_page
    with pytest.raises(exceptions.NotFound, match=target.name):
        api.pages.get_page(name=target.name)


def test_intent_training_phrases_are_per_language(api, shared_agents):
    optus = next(p for p in shared_agents if p.name == "optus-dev")
    agent = _restored(api, package_bytes(optus))
    english = {i.display_name: i for i in api.intents.list_intents(parent=agent.name)}
    portuguese = {
        i.display_name: i for i in api.intents.list_intents(request={"parent": agent.name, "language_code": "pt-br"})
    }
    name = next(n for n in english if english[n].training_phrases and portuguese[n].training_phrases)
    assert english[name].training_phrases != portuguese[name].training_phrases
    changed = portuguese[name]
    changed.training_phrases.append(cx.Intent.TrainingPhrase(parts=[{"text": "nova frase"}], repeat_count=1))
    api.intents.update_intent(
        request={"intent": changed, "language_code": "pt-br", "update_mask": {"paths": ["training_phrases"]}}
    )
    again = api.intents.get_intent(request={"name": changed.name, "language_code": "pt-br"})
    assert again.training_phrases[-1].parts[0].text == "nova frase"
    assert api.intents.get_intent(name=changed.name).training_phrases == english[name].training_phrases
    with pytest.raises(exceptions.InvalidArgument, match="fr"):
        api.intents.get_intent(request={"name": changed.name, "language_code": "fr"})
    partial = api.intents.list_intents(request={"parent": agent.name, "intent_view": cx.IntentView.INTENT_VIEW_PARTIAL})
    assert all(not i.training_phrases for i in partial)


def test_intent_create_rename_delete(api):
    agent = create_test_agent(api.agents)
    intent = api.intents.create_intent(
        parent=agent.name,
        intent=cx.Intent(
            display_name="order.status",
            training_phrases=[cx.Intent.TrainingPhrase(parts=[{"text": "where is my order"}], repeat_count=1)],
        ),
    )
    files = _export_files(api, agent)
    phrases = files["intents/order.status/trainingPhrases/en.json"]["trainingPhrases"]
    assert phrases == [{"parts": [{"text": "where is my order"}], "repeatCount": 1, "languageCode": "en"}]
    start = api.flows.get_flow(name=agent.start_flow)
    start.transition_routes.append(cx.TransitionRoute(intent=intent.name, target_page=f"{start.name}/pages/END_FLOW"))
    api.flows.update_flow(flow=start)
    intent.display_name = "order.where"
    api.intents.update_intent(intent=intent, update_mask={"paths": ["display_name"]})
    start_json = _export_files(api, agent)["flows/Default Start Flow/Default Start Flow.json"]
    assert start_json["transitionRoutes"][-1]["intent"] == "order.where"
    api.intents.delete_intent(name=intent.name)
    assert not api.flows.get_flow(name=agent.start_flow).transition_routes[-1].intent
    with pytest.raises(exceptions.NotFound, match=intent.name):
        api.intents.get_intent(name=intent.name)


def test_entity_type_crud_and_forced_delete(api):
    agent = create_test_agent(api.agents)
    size = api.entity_types.create_entity_type(
        parent=agent.name,
        entity_type=cx.EntityType(
            display_name="size",
            kind=cx.EntityType.Kind.KIND_MAP,
            entities=[cx.EntityType.Entity(value="small", synonyms=["small", "S"])],
        ),
    )
    files = _export_files(api, agent)
    assert files["entityTypes/size/entities/en.json"]["entities"][0]["synonyms"] == ["small", "S"]
    page = api.pages.create_page(
        parent=agent.start_flow,
        page=cx.Page(
            display_name="Size",
            form=cx.Form(parameters=[cx.Form.Parameter(display_name="size", entity_type=size.name, required=True)]),
        ),
    )
    assert (
        _export_files(api, agent)["flows/Default Start Flow/pages/Size.json"]["form"]["parameters"][0]["entityType"]
        == "@size"
    )
    with pytest.raises(exceptions.FailedPrecondition, match="size"):
        api.entity_types.delete_entity_type(name=size.name)
    api.entity_types.delete_entity_type(request={"name": size.name, "force": True})
    assert api.pages.get_page(name=page.name).form.parameters[0].entity_type.endswith("/entityTypes/sys.any")


def test_route_groups_agent_and_flow_level(api):
    agent = create_test_agent(api.agents)
    flow_group = api.groups.create_transition_route_group(
        parent=agent.start_flow,
        transition_route_group=cx.TransitionRouteGroup(
            display_name="FAQ", transition_routes=[cx.TransitionRoute(condition="true")]
        ),
    )
    agent_group = api.groups.create_transition_route_group(
        parent=agent.name, transition_route_group=cx.TransitionRouteGroup(display_name="Global")
    )
    assert flow_group.name.startswith(f"{agent.start_flow}/transitionRouteGroups/")
    assert agent_group.name.startswith(f"{agent.name}/transitionRouteGroups/")
    assert [g.name for g in api.groups.list_transition_route_groups(parent=agent.name)] == [agent_group.name]
    page = api.pages.create_page(
        parent=agent.start_flow,
        page=cx.Page(display_name="Uses", transition_route_groups=[flow_group.name, agent_group.name]),
    )
    assert list(page.transition_route_groups) == [flow_group.name, agent_group.name]
    files = _export_files(api, agent)
    assert files["flows/Default Start Flow/pages/Uses.json"]["transitionRouteGroups"] == ["FAQ", "Global"]
    assert "flows/Default Start Flow/transitionRouteGroups/FAQ.json" in files
    assert "transitionRouteGroups/Global/Global.json" in files
    with pytest.raises(exceptions.FailedPrecondition):
        api.groups.delete_transition_route_group(name=flow_group.name)
    api.groups.delete_transition_route_group(request={"name": flow_group.name, "force": True})
    assert list(api.pages.get_page(name=page.name).transition_route_groups) == [agent_group.name]


def test_webhook_crud_and_delete_rules(api, shared_agents):
    qatar = next(p for p in shared_agents if p.name == "qatar-airways")
    agent = _restored(api, package_bytes(qatar))
    (hook,) = api.webhooks.list_webhooks(parent=agent.name)
    assert hook.timeout.seconds == 30
    assert hook.generic_web_service.uri.startswith("https://")
    with pytest.raises(exceptions.FailedPrecondition, match="Apigee Integration"):
        api.webhooks.delete_webhook(name=hook.name)
    api.webhooks.delete_webhook(request={"name": hook.name, "force": True})
    files = _export_files(api, agent)
    assert not any("'webhook': 'Apigee Integration'" in str(v) for p, v in files.items() if p.startswith("flows/"))
    assert not any("'tag': 'findAvailableTicket'" in str(v) for p, v in files.items() if p.startswith("flows/"))
    created = api.webhooks.create_webhook(
        parent=agent.name,
        webhook=cx.Webhook(display_name=unique_name("hook"), generic_web_service={"uri": "http://localhost:1/x"}),
    )
    created.generic_web_service.uri = "http://localhost:2/y"
    updated = api.webhooks.update_webhook(webhook=created, update_mask={"paths": ["generic_web_service.uri"]})
    assert updated.generic_web_service.uri == "http://localhost:2/y"
    assert api.webhooks.get_webhook(name=created.name) == updated


def test_bad_names_and_unknown_parents(api):
    agent = create_test_agent(api.agents)
    with pytest.raises(exceptions.InvalidArgument, match="not a valid page name"):
        api.pages.get_page(name=f"{agent.name}/pages/x")
    with pytest.raises(exceptions.NotFound, match="flows/nope"):
        api.pages.list_pages(parent=f"{agent.name}/flows/nope")
    with pytest.raises(exceptions.NotFound, match="agents/nope"):
        api.intents.list_intents(parent=agent.name.rsplit("/", 1)[0] + "/nope")
    with pytest.raises(exceptions.InvalidArgument, match="display_name"):
        api.webhooks.create_webhook(parent=agent.name, webhook=cx.Webhook())
