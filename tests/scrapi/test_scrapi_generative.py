"""dfcx-scrapi's generative-agent calls against the emulator: generators, generative settings,
playbooks (and versions), tools and change history, on the goodbye-graffiti export.

scrapi's ``core.examples.Examples`` is left out: its constructor builds ``Playbooks(agent_id=…)``
without passing ``creds`` on, so it needs Google default credentials whatever it is given.
"""

from __future__ import annotations

from typing import Any

import pytest
from dfcx_scrapi.core import agents, changelogs, generators, operations, playbooks, tools
from google.cloud.dialogflowcx_v3beta1 import types

from airflow_provider_cx.emulator.testing import package_bytes, unique_name

pytestmark = [pytest.mark.emulator, pytest.mark.scrapi]
PROJECT = "scrapi-project"
BUCKET = "gs://scrapi-generative"


@pytest.fixture(scope="module")
def agent(emulator: Any, creds: Any, shared_agents: Any, wait_lro: Any) -> types.Agent:
    (graffiti,) = [p for p in shared_agents if p.name == "goodbye-graffiti.zip"]
    emulator.backend.gcs.write(f"{BUCKET}/graffiti.zip", package_bytes(graffiti))
    made = agents.Agents(creds=creds).create_agent(PROJECT, display_name=unique_name("scrapi-gen"))
    op = agents.Agents(creds=creds).restore_agent(made.name, f"{BUCKET}/graffiti.zip")
    wait_lro(operations.Operations(creds=creds), op)
    return made


def test_generative_settings_get_and_update(creds, agent):
    api = agents.Agents(creds=creds)
    settings = api.get_generative_settings(agent.name)
    assert settings.fallback_settings.selected_prompt == "City of Mel Text Prompt"
    api.update_generative_settings(agent.name, llm_model_settings=types.LlmModelSettings(model="gemini-2.0-flash"))
    again = api.get_generative_settings(agent.name)
    assert again.llm_model_settings.model == "gemini-2.0-flash"
    assert again.fallback_settings.selected_prompt == "City of Mel Text Prompt"


def test_generators_list_get_update_create(creds, agent):
    api = generators.Generators(creds=creds)
    listed = {g.display_name: g for g in api.list_generators(agent.name)}
    assert set(listed) == {"Report Summary", "Welcome Generator"}
    report = api.get_generator(listed["Report Summary"].name)
    assert report.prompt_text.text.startswith("First thank the user")
    api.update_generator(report.name, prompt="Summarise the report at $location.")
    updated = api.get_generator(report.name)
    assert updated.prompt_text.text == "Summarise the report at $location."
    made = api.create_generator(agent.name, display_name="Goodbye", prompt="Say goodbye to $name.")
    assert [p.id for p in made.placeholders] == ["name"]


def test_playbooks_tools_versions_and_change_history(creds, agent):
    tool = tools.Tools(creds=creds).create_tool(
        agent.name,
        display_name="Report Status",
        description="Looks a graffiti report up.",
        open_api_spec=types.Tool.OpenApiTool(text_schema="openapi: 3.0.0\ninfo: {title: r, version: '1'}\npaths: {}\n"),
    )
    assert tool.name in [t.name for t in tools.Tools(creds=creds).list_tools(agent.name)]

    api = playbooks.Playbooks(agent_id=agent.name, creds=creds)
    made = api.create_playbook(
        agent.name,
        display_name="Report Follow-up",
        goal="Tell the caller what happened to their report.",
        instructions=["Ask for the report number.", "Look it up."],
        referenced_tools=[tool.name],
    )
    assert [s.text for s in made.instruction.steps] == ["Ask for the report number.", "Look it up."]
    assert list(made.referenced_tools) == [tool.name]
    assert made.name in [p.name for p in api.list_playbooks(agent.name)]
    api.update_playbook(made.name, goal="Give the report's status.")
    assert api.get_playbook(made.name).goal == "Give the report's status."
    version = api.create_playbook_version(made.name, description="after review")
    assert version.playbook.goal == "Give the report's status."

    history = changelogs.Changelogs(creds=creds)
    created = history.list_changelogs(agent.name, action="Create", type="playbooks")
    assert [c.display_name for c in created] == ["Report Follow-up"]
    updates = history.list_changelogs(agent.name, resource=made.name)
    assert [c.action for c in updates] == ["Update", "Create"]
    assert history.get_changelog(updates[0].name).resource == made.name
