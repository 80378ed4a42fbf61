"""Versions service over gRPC with the stock client: create, read, update, delete, load, compare."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx
from google.protobuf import field_mask_pb2
from versioning import change_transfers_draft, clients, create_version, export, sample_agent

from airflow_provider_cx.emulator.testing import wait_for


@pytest.fixture
def api(cx_client) -> SimpleNamespace:
    return clients(cx_client)


def test_create_version_snapshots_the_flow_with_increasing_ids(api):
    _agent, flows = sample_agent(api)
    transfers = flows["Transfers"]
    op = api.versions.create_version(
        parent=transfers.name, version=cx.Version(display_name="release-1", description="first")
    )
    assert isinstance(op.metadata, cx.CreateVersionOperationMetadata)
    first = wait_for(op)
    second = create_version(api, transfers, "release-2")
    other = create_version(api, flows["Card Services"], "cards-1")
    assert first.name == f"{transfers.name}/versions/1"
    assert second.name == f"{transfers.name}/versions/2"
    assert other.name == f"{flows['Card Services'].name}/versions/1"
    assert (first.display_name, first.description, first.state) == ("release-1", "first", cx.Version.State.SUCCEEDED)
    assert first.create_time.timestamp() > 0
    assert first.nlu_settings.classification_threshold == pytest.approx(0.3)
    assert api.versions.get_version(name=first.name) == first


def test_list_versions_is_newest_first_and_paginated(api):
    _agent, flows = sample_agent(api)
    flow = flows["Branch Finder"]
    made = [create_version(api, flow, f"v{i}").name for i in range(1, 6)]
    pager = api.versions.list_versions(request=cx.ListVersionsRequest(parent=flow.name, page_size=2))
    pages = list(pager.pages)
    assert [len(p.versions) for p in pages] == [2, 2, 1]
    assert [v.name for p in pages for v in p.versions] == list(reversed(made))
    assert list(api.versions.list_versions(parent=flows["Card Services"].name)) == []


def test_version_errors_name_the_problem(api):
    agent, flows = sample_agent(api)
    flow = flows["Transfers"]
    with pytest.raises(exceptions.InvalidArgument, match="display_name must be set"):
        api.versions.create_version(parent=flow.name, version=cx.Version())
    with pytest.raises(exceptions.InvalidArgument, match="limit is 500"):
        api.versions.create_version(parent=flow.name, version=cx.Version(display_name="x", description="d" * 501))
    with pytest.raises(exceptions.NotFound, match="flows/nope"):
        api.versions.create_version(parent=f"{agent.name}/flows/nope", version=cx.Version(display_name="x"))
    with pytest.raises(exceptions.InvalidArgument, match="not a valid flow name"):
        api.versions.list_versions(parent=agent.name)
    with pytest.raises(exceptions.NotFound, match="versions/7"):
        api.versions.get_version(name=f"{flow.name}/versions/7")
    with pytest.raises(exceptions.NotFound, match="versions/7"):
        api.versions.load_version(name=f"{flow.name}/versions/7")
    with pytest.raises(exceptions.NotFound, match="versions/7"):
        api.versions.delete_version(name=f"{flow.name}/versions/7")


def test_update_version_changes_only_name_and_description(api):
    _agent, flows = sample_agent(api)
    version = create_version(api, flows["Transfers"], "before", description="old")
    version.display_name, version.description = "after", "new"
    updated = api.versions.update_version(version=version, update_mask=field_mask_pb2.FieldMask(paths=["description"]))
    assert (updated.display_name, updated.description) == ("before", "new")
    with pytest.raises(exceptions.InvalidArgument, match="only display_name and description"):
        api.versions.update_version(version=version, update_mask=field_mask_pb2.FieldMask(paths=["state"]))
    with pytest.raises(exceptions.InvalidArgument, match="update_mask is required"):
        api.versions.update_version(version=version)
    assert api.versions.get_version(name=version.name).description == "new"


def test_delete_version_removes_it_and_never_reuses_its_id(api):
    _agent, flows = sample_agent(api)
    flow = flows["Transfers"]
    first = create_version(api, flow)
    second = create_version(api, flow)
    api.versions.delete_version(name=second.name)
    with pytest.raises(exceptions.NotFound):
        api.versions.get_version(name=second.name)
    third = create_version(api, flow)
    assert third.name == f"{flow.name}/versions/3"
    assert [v.name for v in api.versions.list_versions(parent=flow.name)] == [third.name, first.name]


def test_version_is_immutable_while_the_draft_changes(api):
    _agent, flows = sample_agent(api)
    flow = flows["Transfers"]
    version = create_version(api, flow)
    before = api.versions.compare_versions(
        request=cx.CompareVersionsRequest(base_version=version.name, target_version=f"{flow.name}/versions/0")
    )
    assert before.base_version_content_json == before.target_version_content_json
    change_transfers_draft(api, flow)
    after = api.versions.compare_versions(
        request=cx.CompareVersionsRequest(base_version=version.name, target_version=f"{flow.name}/versions/0")
    )
    assert after.base_version_content_json == before.base_version_content_json
    draft = json.loads(after.target_version_content_json)
    base = json.loads(after.base_version_content_json)
    assert "Added After Version" in {p["displayName"] for p in draft["pages"]}
    assert "Added After Version" not in {p["displayName"] for p in base["pages"]}
    phrases = [tp for i in draft["intents"] for tp in i["trainingPhrases"]]
    assert any(p["parts"][0]["text"] == "added after the version" for p in phrases)
    assert after.compare_time.timestamp() > 0


def test_compare_versions_refuses_versions_of_two_flows(api):
    _agent, flows = sample_agent(api)
    one = create_version(api, flows["Transfers"])
    two = create_version(api, flows["Card Services"])
    with pytest.raises(exceptions.InvalidArgument, match="same flow"):
        api.versions.compare_versions(request=cx.CompareVersionsRequest(base_version=one.name, target_version=two.name))
    with pytest.raises(exceptions.InvalidArgument, match="not enabled"):
        api.versions.compare_versions(
            request=cx.CompareVersionsRequest(base_version=one.name, target_version=one.name, language_code="xx")
        )


def test_load_version_restores_the_flow_and_overrides_agent_resources_only_when_allowed(api):
    agent, flows = sample_agent(api)
    flow = flows["Transfers"]
    version = create_version(api, flow)
    original = export(api, agent)
    change_transfers_draft(api, flow)
    changed = export(api, agent)
    intent_files = [p for p in original if p.startswith("intents/") and original[p] != changed.get(p)]
    assert intent_files  # the intent change is visible in the draft export

    wait_for(api.versions.load_version(request=cx.LoadVersionRequest(name=version.name)))
    kept = export(api, agent)
    flow_files = {p for p in original if p.startswith("flows/Transfers/")}
    assert {p for p in kept if p.startswith("flows/Transfers/")} == flow_files
    assert all(kept[p] == original[p] for p in flow_files)
    assert all(kept[p] == changed[p] for p in intent_files)  # conflicting intent left alone

    change_transfers_draft(api, flow)
    wait_for(
        api.versions.load_version(request=cx.LoadVersionRequest(name=version.name, allow_override_agent_resources=True))
    )
    assert export(api, agent) == original


def test_create_version_operation_that_fails_leaves_no_version(cx_emulator_factory):
    server = cx_emulator_factory(faults={"methods": {"Versions/CreateVersion": {"operation_failure_rate": 1.0}}})
    api = clients(server.client)
    _agent, flows = sample_agent(api)
    op = api.versions.create_version(parent=flows["Transfers"].name, version=cx.Version(display_name="v"))
    with pytest.raises(exceptions.InternalServerError):
        wait_for(op)
    assert list(api.versions.list_versions(parent=flows["Transfers"].name)) == []


def changed_flows(api, versions: dict[str, cx.Version], language_code: str = "") -> set[str]:
    """The flows whose draft CompareVersions shows different from ``versions`` (content, any key order)."""
    changed = set()
    for flow, version in versions.items():
        draft = version.name.rsplit("/versions/", 1)[0] + "/versions/0"
        request = cx.CompareVersionsRequest(
            base_version=version.name, target_version=draft, language_code=language_code
        )
        response = api.versions.compare_versions(request=request)
        if json.loads(response.base_version_content_json) != json.loads(response.target_version_content_json):
            changed.add(flow)
    return changed


def test_compare_versions_covers_the_agent_data_a_flow_uses_and_nothing_else(cx_client):
    api = clients(cx_client)
    entity_types = cx_client(cx.EntityTypesClient)
    agent, flows = sample_agent(api)
    versions = {name: create_version(api, flow) for name, flow in flows.items()}
    assert changed_flows(api, versions) == set()

    # A webhook: only the flow that calls it.
    (webhook,) = [w for w in api.webhooks.list_webhooks(parent=agent.name) if w.display_name == "Branch Locator"]
    webhook.generic_web_service.uri = "https://branches.example.com/v2/locate"
    api.webhooks.update_webhook(webhook=webhook)
    assert changed_flows(api, versions) == {"Branch Finder"}

    # An entity type: the flow whose page uses it, and the flow routing an intent whose parameter uses it.
    versions = {name: create_version(api, flow) for name, flow in flows.items()}
    (zip_code,) = [e for e in entity_types.list_entity_types(parent=agent.name) if e.display_name == "zip-code"]
    zip_code.entities.append(cx.EntityType.Entity(value="99999", synonyms=["99999"]))
    entity_types.update_entity_type(entity_type=zip_code)
    assert changed_flows(api, versions) == {"Branch Finder", "Default Start Flow"}  # branch.find uses @zip-code


def test_compare_versions_shows_training_phrases_in_the_language_asked(cx_client):
    api = clients(cx_client)
    agent, flows = sample_agent(api)
    agent.supported_language_codes = ["de"]
    api.agents.update_agent(agent=agent, update_mask={"paths": ["supported_language_codes"]})
    versions = {name: create_version(api, flow) for name, flow in flows.items()}
    (hours,) = [i for i in api.intents.list_intents(parent=agent.name) if i.display_name == "branch.hours"]
    german = cx.Intent(name=hours.name, display_name=hours.display_name)
    german.training_phrases.append(cx.Intent.TrainingPhrase(parts=[{"text": "wann haben sie offen"}], repeat_count=1))
    request = cx.UpdateIntentRequest(intent=german, language_code="de", update_mask={"paths": ["training_phrases"]})
    api.intents.update_intent(request=request)

    assert changed_flows(api, versions, "de") == {"Branch Finder", "Default Start Flow"}
    assert changed_flows(api, versions, "en") == set()  # the English phrases did not change
