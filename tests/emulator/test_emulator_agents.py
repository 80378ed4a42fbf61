"""Agents service over real gRPC with the stock client: CRUD, masks, pagination, status codes."""

from __future__ import annotations

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.emulator.testing import TEST_PARENT as PARENT
from airflow_provider_cx.emulator.testing import create_test_agent as create_agent
from airflow_provider_cx.emulator.testing import unique_name as unique


@pytest.fixture
def agents(cx_client):
    return cx_client(cx.AgentsClient)


def test_create_get_list_delete(agents):
    created = create_agent(agents, unique("crud"))
    assert created.name.startswith(f"{PARENT}/agents/")
    assert created.start_flow == f"{created.name}/flows/00000000-0000-0000-0000-000000000000"
    assert agents.get_agent(name=created.name) == created
    assert created.name in [a.name for a in agents.list_agents(parent=PARENT)]
    agents.delete_agent(name=created.name)
    with pytest.raises(exceptions.NotFound, match=created.name):
        agents.get_agent(name=created.name)


def test_create_requires_fields_and_unique_display_name(agents):
    with pytest.raises(exceptions.InvalidArgument, match="time_zone"):
        agents.create_agent(parent=PARENT, agent=cx.Agent(display_name="x", default_language_code="en"))
    name = unique("dup")
    create_agent(agents, name)
    with pytest.raises(exceptions.AlreadyExists, match=name):
        create_agent(agents, name)


def test_bad_names_are_invalid_argument(agents):
    with pytest.raises(exceptions.InvalidArgument, match="not a valid agent name"):
        agents.get_agent(name="agents/123")
    with pytest.raises(exceptions.InvalidArgument, match="not a location name"):
        agents.list_agents(parent="projects/p")


def test_update_with_mask_changes_only_masked_fields(agents):
    agent = create_agent(agents)
    change = cx.Agent(name=agent.name, display_name=unique("renamed"), description="new", time_zone="Europe/Paris")
    updated = agents.update_agent(agent=change, update_mask={"paths": ["display_name", "description"]})
    assert updated.display_name == change.display_name
    assert updated.description == "new"
    assert updated.time_zone == "UTC"
    with pytest.raises(exceptions.InvalidArgument, match="no_such_field"):
        agents.update_agent(agent=change, update_mask={"paths": ["no_such_field"]})


def test_update_without_mask_replaces_known_fields_and_keeps_unknown_ones(agents, cx_emulator):
    agent = create_agent(agents)
    record = cx_emulator.backend.store.get(agent.name)
    record.package.agent["projectNumber"] = 1234  # a field the proto does not know
    agent.enable_spell_correction = True
    updated = agents.update_agent(agent=agent)
    assert updated.enable_spell_correction
    assert record.package.agent["projectNumber"] == 1234
    assert record.package.agent["enableSpellCorrection"] is True


def test_update_start_flow_must_name_an_existing_flow(agents):
    agent = create_agent(agents)
    agent.start_flow = f"{agent.name}/flows/does-not-exist"
    with pytest.raises(exceptions.InvalidArgument, match="does-not-exist"):
        agents.update_agent(agent=agent, update_mask={"paths": ["start_flow"]})


def test_list_pagination(cx_client):
    agents = cx_client(cx.AgentsClient)
    parent = f"projects/{unique('pages')}/locations/global"
    names = {create_agent(agents, f"a{i}", parent=parent).name for i in range(5)}
    first = agents.list_agents(request={"parent": parent, "page_size": 2})
    pages = list(first.pages)
    assert [len(p.agents) for p in pages] == [2, 2, 1]
    assert {a.name for p in pages for a in p.agents} == names
    with pytest.raises(exceptions.InvalidArgument, match="page_token"):
        agents.list_agents(request={"parent": parent, "page_token": "garbage"})


def test_agents_are_scoped_to_their_location(agents):
    agent = create_agent(agents)
    other = agent.name.replace("/locations/global/", "/locations/europe-west1/")
    with pytest.raises(exceptions.NotFound):
        agents.get_agent(name=other)
