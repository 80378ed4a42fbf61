"""Flows.ExportFlow / ImportFlow over gRPC: inline and gs://, referenced resources, import strategies."""

from __future__ import annotations

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.emulator.blob import decode_blob
from airflow_provider_cx.emulator.testing import create_test_agent, package_bytes, unique_name, wait_for

Strategy = cx.ImportStrategy


@pytest.fixture
def agents(cx_client):
    return cx_client(cx.AgentsClient)


@pytest.fixture
def flows(cx_client):
    return cx_client(cx.FlowsClient)


@pytest.fixture
def intents(cx_client):
    return cx_client(cx.IntentsClient)


def _restored(agents, shared_agents, folder):
    (source,) = [p for p in shared_agents if p.name == folder]
    agent = create_test_agent(agents, unique_name(folder))
    wait_for(agents.restore_agent(request={"name": agent.name, "agent_content": package_bytes(source)}))
    return agent


def _flow(flows, agent, display):
    return next(f for f in flows.list_flows(parent=agent.name) if f.display_name == display)


def _routed_intents(flow, pages):
    routes = [*flow.transition_routes, *(r for p in pages for r in p.transition_routes)]
    return {r.intent for r in routes if r.intent}


def _import(flows, parent, strategy=Strategy.IMPORT_STRATEGY_UNSPECIFIED, **source):
    request = cx.ImportFlowRequest(
        parent=parent, flow_import_strategy=cx.FlowImportStrategy(global_import_strategy=strategy), **source
    )
    return wait_for(flows.import_flow(request=request))


def test_export_inline_carries_the_flow_and_what_it_refers_to(agents, flows, shared_agents):
    agent = _restored(agents, shared_agents, "dsi-dialogflow")
    catalog = _flow(flows, agent, "Catalog")
    content = wait_for(flows.export_flow(request={"name": catalog.name})).flow_content
    package = decode_blob(content)
    assert [f.display_name for f in package.flows] == ["Catalog"]
    assert "redirect.music" in {i.display_name for i in package.intents}
    assert len(package.intents) < 23  # only what the flow refers to

    start = _flow(flows, agent, "Default Start Flow")
    alone = decode_blob(wait_for(flows.export_flow(request={"name": start.name})).flow_content)
    linked = decode_blob(
        wait_for(flows.export_flow(request={"name": start.name, "include_referenced_flows": True})).flow_content
    )
    assert [f.display_name for f in alone.flows] == ["Default Start Flow"]
    assert {f.display_name for f in linked.flows} == {
        "Default Start Flow",
        "Catalog",
        "Customer Care",
        "My Order",
        "Order Process",
    }


def test_import_into_another_agent_inline_and_from_gcs(cx_emulator, agents, flows, intents, cx_client, shared_agents):
    source = _restored(agents, shared_agents, "dsi-dialogflow")
    catalog = _flow(flows, source, "Catalog")
    uri = f"gs://flows-{unique_name('b')}/catalog.blob"
    exported = wait_for(flows.export_flow(request={"name": catalog.name, "flow_uri": uri}))
    assert exported.flow_uri == uri
    assert not exported.flow_content

    target = create_test_agent(agents, unique_name("import-target"))
    landed = _import(flows, target.name, flow_uri=uri)
    assert landed.flow.startswith(target.name + "/flows/")
    flow = flows.get_flow(name=landed.flow)
    assert flow.display_name == "Catalog"
    pages = cx_client(cx.PagesClient).list_pages(parent=landed.flow)
    source_pages = cx_client(cx.PagesClient).list_pages(parent=catalog.name)
    assert sorted(p.display_name for p in pages) == sorted(p.display_name for p in source_pages)
    assert "redirect.music" in {i.display_name for i in intents.list_intents(parent=target.name)}
    # References resolve in the new agent: routes name the target's own intents.
    intent_names = {i.name for i in intents.list_intents(parent=target.name)}
    routed = [r.intent for r in flow.transition_routes if r.intent]
    assert routed
    assert all(name in intent_names for name in routed)

    again = create_test_agent(agents, unique_name("import-inline"))
    content = cx_emulator.backend.gcs.read(uri)
    assert flows.get_flow(name=_import(flows, again.name, flow_content=content).flow).display_name == "Catalog"


def test_strategies_on_a_conflicting_intent(agents, flows, intents, cx_client, shared_agents):
    source = _restored(agents, shared_agents, "dsi-dialogflow")
    content = wait_for(flows.export_flow(request={"name": _flow(flows, source, "Catalog").name})).flow_content

    def target_with_clash():
        target = create_test_agent(agents, unique_name("clash"))
        intents.create_intent(parent=target.name, intent=cx.Intent(display_name="redirect.music", description="mine"))
        return target

    def by_name(target):
        return {i.display_name: i for i in intents.list_intents(parent=target.name)}

    created_new = target_with_clash()
    landed = _import(flows, created_new.name, flow_content=content).flow
    mine = by_name(created_new)
    assert mine["redirect.music"].description == "mine"
    routed = _routed_intents(flows.get_flow(name=landed), cx_client(cx.PagesClient).list_pages(parent=landed))
    # The imported flow refers to its own copy, renamed; the agent's intent is left alone.
    assert mine["redirect.music_1"].name in routed
    assert mine["redirect.music"].name not in routed

    kept = target_with_clash()
    _import(flows, kept.name, Strategy.IMPORT_STRATEGY_KEEP, flow_content=content)
    assert by_name(kept)["redirect.music"].description == "mine"
    assert "redirect.music_1" not in by_name(kept)

    replaced = target_with_clash()
    before = by_name(replaced)["redirect.music"]
    _import(flows, replaced.name, Strategy.IMPORT_STRATEGY_REPLACE, flow_content=content)
    after = by_name(replaced)["redirect.music"]
    assert after.name == before.name
    assert after.description != "mine"
    assert after.training_phrases

    refused = target_with_clash()
    flows_before = [f.display_name for f in flows.list_flows(parent=refused.name)]
    with pytest.raises(exceptions.AlreadyExists, match=r"redirect\.music"):
        _import(flows, refused.name, Strategy.IMPORT_STRATEGY_THROW_ERROR, flow_content=content)
    assert [f.display_name for f in flows.list_flows(parent=refused.name)] == flows_before
    with pytest.raises(exceptions.InvalidArgument, match="MERGE"):
        _import(flows, refused.name, Strategy.IMPORT_STRATEGY_MERGE, flow_content=content)


def test_start_flow_import_replaces_the_start_flow_in_place(agents, flows, shared_agents):
    source = _restored(agents, shared_agents, "qatar-airways")
    start = _flow(flows, source, "Default Start Flow")
    content = wait_for(flows.export_flow(request={"name": start.name})).flow_content
    target = create_test_agent(agents, unique_name("start"))
    landed = _import(flows, target.name, flow_content=content)
    assert landed.flow == agents.get_agent(name=target.name).start_flow
    assert [f.display_name for f in flows.list_flows(parent=target.name)] == ["Default Start Flow"]


def test_bad_requests_fail_the_call(agents, flows):
    agent = create_test_agent(agents, unique_name("bad"))
    with pytest.raises(exceptions.InvalidArgument, match="neither"):
        flows.import_flow(request={"parent": agent.name, "flow_content": b"not a flow"})
    with pytest.raises(exceptions.InvalidArgument, match="flow_uri or flow_content"):
        flows.import_flow(request={"parent": agent.name})
    with pytest.raises(exceptions.NotFound, match="gs://nobucket/none"):
        flows.import_flow(request={"parent": agent.name, "flow_uri": "gs://nobucket/none"})
    with pytest.raises(exceptions.NotFound):
        flows.export_flow(request={"name": f"{agent.name}/flows/nope"})
    with pytest.raises(exceptions.InvalidArgument, match="Cloud Storage"):
        flows.export_flow(request={"name": agent.start_flow, "flow_uri": "s3://x/y"})
