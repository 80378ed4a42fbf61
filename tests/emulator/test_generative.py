"""Generative resources over gRPC on a real export (goodbye-graffiti): generators, generative settings.

The held-out style check: restore the agent, read and change it through the API, export it, and the
difference to the restored package is exactly the change made.
"""

from __future__ import annotations

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx
from google.cloud import dialogflowcx_v3beta1 as beta

from airflow_provider_cx.emulator.testing import (
    create_test_agent,
    package_bytes,
    unique_name,
    wait_for,
    zip_files_as_json,
)

JSON_PACKAGE = cx.ExportAgentRequest.DataFormat.JSON_PACKAGE
REPORT = "generators/Report Summary/Report Summary.json"
REPORT_PHRASES = "generators/Report Summary/phrases/en.json"
SETTINGS = "generativeSettings/en.json"


@pytest.fixture
def agents(cx_client):
    return cx_client(cx.AgentsClient)


@pytest.fixture
def graffiti(agents, shared_agents):
    (source,) = [p for p in shared_agents if p.name == "goodbye-graffiti.zip"]
    agent = create_test_agent(agents, unique_name("graffiti"))
    wait_for(agents.restore_agent(request={"name": agent.name, "agent_content": package_bytes(source)}))
    return agent


def _export(agents, agent):
    content = wait_for(agents.export_agent(request={"name": agent.name, "data_format": JSON_PACKAGE})).agent_content
    return zip_files_as_json(content)


def _values_of(body, key):
    if isinstance(body, dict):
        for k, value in body.items():
            yield from [value] if k == key else _values_of(value, key)
    elif isinstance(body, list):
        for item in body:
            yield from _values_of(item, key)


def _changed(before, after):
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def test_generators_list_get_update_export_exactly_the_update(cx_client, agents, graffiti):
    generators = cx_client(cx.GeneratorsClient)
    before = _export(agents, graffiti)
    listed = {g.display_name: g for g in generators.list_generators(parent=graffiti.name)}
    assert set(listed) == {"Report Summary", "Welcome Generator"}
    report = generators.get_generator(name=listed["Report Summary"].name)
    assert report.prompt_text.text.startswith("First thank the user")
    assert [p.id for p in report.placeholders] == ["location", "item-damaged", "damage-description"]
    assert _export(agents, graffiti) == before  # reads change nothing

    generators.update_generator(
        generator=cx.Generator(name=report.name, prompt_text=cx.Phrase(text="Summarise $location.")),
        update_mask={"paths": ["prompt_text"]},
    )
    after = _export(agents, graffiti)
    assert _changed(before, after) == {REPORT_PHRASES}
    assert after[REPORT_PHRASES] == {"promptTexts": [{"text": "Summarise $location.", "languageCode": "en"}]}

    # A full update with what Get returned (new prompt included) changes nothing more.
    generators.update_generator(generator=generators.get_generator(name=report.name))
    assert _export(agents, graffiti) == after


def test_generator_create_rename_delete(cx_client, agents, graffiti):
    generators = cx_client(cx.GeneratorsClient)
    made = generators.create_generator(
        parent=graffiti.name,
        generator=cx.Generator(display_name="Goodbye", prompt_text=cx.Phrase(text="Say goodbye to $name.")),
    )
    files = _export(agents, graffiti)
    assert files["generators/Goodbye/phrases/en.json"] == {
        "promptTexts": [{"text": "Say goodbye to $name.", "languageCode": "en"}]
    }
    assert files["generators/Goodbye/Goodbye.json"]["displayName"] == "Goodbye"
    with pytest.raises(exceptions.AlreadyExists, match="Goodbye"):
        generators.create_generator(parent=graffiti.name, generator=cx.Generator(display_name="Goodbye"))
    generators.update_generator(
        generator=cx.Generator(name=made.name, display_name="Farewell"), update_mask={"paths": ["display_name"]}
    )
    assert "generators/Farewell/phrases/en.json" in _export(agents, graffiti)
    generators.delete_generator(name=made.name)
    with pytest.raises(exceptions.NotFound):
        generators.get_generator(name=made.name)


def test_generators_keep_their_ids_so_flow_references_stay_valid(cx_client, agents, graffiti):
    # Real exports name generators by full resource name (of the agent they came from); the id part
    # is what links a fulfillment to its generator, so it must survive restore and update.
    generators = cx_client(cx.GeneratorsClient)
    files = _export(agents, graffiti)
    start_flow = files["flows/Default Start Flow/Default Start Flow.json"]
    referenced = {name.rsplit("/", 1)[-1] for name in _values_of(start_flow, "generator")}
    ids = {g.name.rsplit("/", 1)[-1]: g for g in generators.list_generators(parent=graffiti.name)}
    assert referenced
    assert referenced <= set(ids)
    (welcome_id,) = referenced
    generators.update_generator(
        generator=cx.Generator(name=ids[welcome_id].name, display_name="Hello Generator"),
        update_mask={"paths": ["display_name"]},
    )
    assert generators.get_generator(name=ids[welcome_id].name).display_name == "Hello Generator"
    assert _export(agents, graffiti)["flows/Default Start Flow/Default Start Flow.json"] == start_flow


def test_generative_settings_get_update_export_exactly_the_update(cx_client, agents, graffiti):
    before = _export(agents, graffiti)
    name = f"{graffiti.name}/generativeSettings"
    settings = agents.get_generative_settings(name=name, language_code="en")
    assert settings.fallback_settings.selected_prompt == "City of Mel Text Prompt"
    assert settings.language_code == "en"
    beta_settings = cx_client(beta.AgentsClient).get_generative_settings(name=name, language_code="en")
    assert beta_settings.fallback_settings.prompt_templates[0].display_name == "City of Mel Text Prompt"

    updated = agents.update_generative_settings(
        generative_settings=cx.GenerativeSettings(
            name=name, language_code="en", llm_model_settings=cx.LlmModelSettings(model="gemini-2.0-flash")
        ),
        update_mask={"paths": ["llm_model_settings.model"]},
    )
    assert updated.llm_model_settings.model == "gemini-2.0-flash"
    after = _export(agents, graffiti)
    assert _changed(before, after) == {SETTINGS}
    assert after[SETTINGS] == {**before[SETTINGS], "llmModelSettings": {"model": "gemini-2.0-flash"}}

    with pytest.raises(exceptions.InvalidArgument, match="generativeSettings"):
        agents.get_generative_settings(name=graffiti.name, language_code="en")
    with pytest.raises(exceptions.InvalidArgument, match="not enabled"):
        agents.get_generative_settings(name=name, language_code="xx")


def test_generative_settings_of_a_new_agent_start_empty(agents):
    agent = create_test_agent(agents, unique_name("gen-new"))
    name = f"{agent.name}/generativeSettings"
    empty = agents.get_generative_settings(name=name)
    assert not empty.fallback_settings.selected_prompt
    assert not empty.fallback_settings.prompt_templates
    agents.update_generative_settings(
        generative_settings=cx.GenerativeSettings(
            name=name, fallback_settings=cx.GenerativeSettings.FallbackSettings(selected_prompt="p")
        )
    )
    assert agents.get_generative_settings(name=name).fallback_settings.selected_prompt == "p"
    assert _export(agents, agent)[SETTINGS] == {"fallbackSettings": {"selectedPrompt": "p"}, "languageCode": "en"}
