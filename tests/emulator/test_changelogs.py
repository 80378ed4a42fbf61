"""Changelogs over gRPC: every design-time change recorded (action, type, display name, time, user)."""

from __future__ import annotations

import time

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx
from google.cloud import dialogflowcx_v3beta1 as beta

from airflow_provider_cx.emulator.change_history import USER
from airflow_provider_cx.emulator.testing import create_test_agent, package_bytes, unique_name, wait_for


@pytest.fixture
def agents(cx_client):
    return cx_client(cx.AgentsClient)


@pytest.fixture
def changelogs(cx_client):
    return cx_client(cx.ChangelogsClient)


def _log(changelogs, agent, flt=""):
    return [
        (c.action, c.type_, c.display_name)
        for c in changelogs.list_changelogs(request={"parent": agent, "filter": flt})
    ]


def test_crud_is_recorded_newest_first(cx_client, agents, changelogs):
    started = time.time()
    agent = create_test_agent(agents, unique_name("log"))
    intents = cx_client(cx.IntentsClient)
    made = intents.create_intent(parent=agent.name, intent=cx.Intent(display_name="greet"))
    intents.update_intent(
        intent=cx.Intent(name=made.name, display_name="hello"), update_mask={"paths": ["display_name"]}
    )
    pages = cx_client(cx.PagesClient)
    page = pages.create_page(parent=agent.start_flow, page=cx.Page(display_name="Pay"))
    pages.delete_page(name=page.name)
    intents.delete_intent(name=made.name)

    assert _log(changelogs, agent.name) == [
        ("Delete", "intents", "hello"),
        ("Delete", "pages", "Pay"),
        ("Create", "pages", "Pay"),
        ("Update", "intents", "hello"),
        ("Create", "intents", "greet"),
        ("Create", "agents", agent.display_name),
    ]
    entries = list(changelogs.list_changelogs(parent=agent.name))
    assert {e.user_email for e in entries} == {USER}
    assert all(e.create_time.timestamp() >= started - 1 for e in entries)
    assert entries[-2].resource == made.name
    assert changelogs.get_changelog(name=entries[0].name) == entries[0]


def test_reads_and_result_writes_are_not_changes(cx_client, agents, changelogs):
    agent = create_test_agent(agents, unique_name("quiet"))
    before = _log(changelogs, agent.name)
    cx_client(cx.FlowsClient).list_flows(parent=agent.name)
    agents.validate_agent(request={"name": agent.name})
    assert _log(changelogs, agent.name) == before


def test_restore_records_every_resource_and_filters_select(agents, changelogs, shared_agents):
    (source,) = [p for p in shared_agents if p.name == "qatar-airways"]
    agent = create_test_agent(agents, unique_name("restore"))
    wait_for(agents.restore_agent(request={"name": agent.name, "agent_content": package_bytes(source)}))
    created_pages = _log(changelogs, agent.name, 'action = "Create" AND type = "pages"')
    assert len(created_pages) == 19
    start_flow = [c for c in changelogs.list_changelogs(request={"parent": agent.name, "filter": 'type = "flows"'})]
    assert [(c.action, c.display_name) for c in start_flow] == [("Update", "Default Start Flow")]
    one = start_flow[0]
    assert _log(changelogs, agent.name, f'resource = "{one.resource}"') == [("Update", "flows", "Default Start Flow")]
    assert _log(changelogs, agent.name, "create_time_epoch_seconds < 1000") == []
    assert len(_log(changelogs, agent.name, "create_time >= 2020-01-01T00:00:00Z")) > 19
    with pytest.raises(exceptions.InvalidArgument, match="unknown field 'colour'"):
        _log(changelogs, agent.name, "colour = red")


def test_v3beta1_sees_the_same_history(cx_client, agents, changelogs):
    agent = create_test_agent(agents, unique_name("beta-log"))
    beta_logs = cx_client(beta.ChangelogsClient)
    assert [c.name for c in beta_logs.list_changelogs(parent=agent.name)] == [
        c.name for c in changelogs.list_changelogs(parent=agent.name)
    ]


def test_history_survives_a_restart(cx_emulator_factory, tmp_path):
    server = cx_emulator_factory(data_dir=tmp_path)
    agent = create_test_agent(server.client(cx.AgentsClient), unique_name("persist"))
    server.client(cx.IntentsClient).create_intent(parent=agent.name, intent=cx.Intent(display_name="kept"))
    server.stop()
    again = cx_emulator_factory(data_dir=tmp_path)
    logs = again.client(cx.ChangelogsClient)
    assert _log(logs, agent.name)[0] == ("Create", "intents", "kept")
    again.client(cx.IntentsClient).create_intent(parent=agent.name, intent=cx.Intent(display_name="later"))
    assert [c[2] for c in _log(logs, agent.name)] == ["later", "kept", agent.display_name]
