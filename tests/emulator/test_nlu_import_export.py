"""Intents and entity types export/import over gRPC, on the qatar-airways export."""

from __future__ import annotations

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.emulator.blob import decode_blob
from airflow_provider_cx.emulator.testing import create_test_agent, package_bytes, unique_name, wait_for

Merge = cx.ImportIntentsRequest.MergeOption


@pytest.fixture
def agents(cx_client):
    return cx_client(cx.AgentsClient)


@pytest.fixture
def qatar(agents, shared_agents):
    (source,) = [p for p in shared_agents if p.name == "qatar-airways"]
    agent = create_test_agent(agents, unique_name("nlu"))
    wait_for(agents.restore_agent(request={"name": agent.name, "agent_content": package_bytes(source)}))
    return agent


def _by_name(items):
    return {i.display_name: i for i in items}


def _export_intents(intents, agent, names):
    request = {"parent": agent.name, "intents": names, "intents_content_inline": True}
    return wait_for(intents.export_intents(request=request)).intents_content.content


def _import_intents(intents, parent, content, option):
    request = {"parent": parent, "intents_content": {"content": content}, "merge_option": option}
    return wait_for(intents.import_intents(request=request))


def test_intents_round_trip_and_merge_options(cx_client, agents, qatar):
    intents = cx_client(cx.IntentsClient)
    source = _by_name(intents.list_intents(parent=qatar.name))
    book = source["flights.book_flight"]
    content = _export_intents(intents, qatar, [book.name])
    assert [i.display_name for i in decode_blob(content).intents] == ["flights.book_flight"]

    target = create_test_agent(agents, unique_name("nlu-target"))
    landed = _import_intents(intents, target.name, content, Merge.REPORT_CONFLICT)
    (name,) = landed.intents
    copy = intents.get_intent(name=name)
    assert copy.display_name == "flights.book_flight"
    assert [p.parts[0].text for p in copy.training_phrases] == [p.parts[0].text for p in book.training_phrases]

    # The target now has it: REPORT_CONFLICT imports nothing and says why.
    before = len(list(intents.list_intents(parent=target.name)))
    reported = _import_intents(intents, target.name, content, Merge.REPORT_CONFLICT)
    assert list(reported.conflicting_resources.intent_display_names) == ["flights.book_flight"]
    assert not reported.intents
    assert len(list(intents.list_intents(parent=target.name))) == before

    renamed = _import_intents(intents, target.name, content, Merge.RENAME)
    assert intents.get_intent(name=renamed.intents[0]).display_name == "flights.book_flight_1"

    intents.update_intent(
        intent=cx.Intent(name=name, training_phrases=[{"parts": [{"text": "only this"}], "repeat_count": 1}]),
        update_mask={"paths": ["training_phrases"]},
    )
    merged = _import_intents(intents, target.name, content, Merge.MERGE)
    assert merged.intents == [name]
    texts = [p.parts[0].text for p in intents.get_intent(name=name).training_phrases]
    assert texts[0] == "only this"
    assert len(texts) == len(book.training_phrases) + 1

    kept = _import_intents(intents, target.name, content, Merge.KEEP)
    assert kept.intents == [name]
    assert len(intents.get_intent(name=name).training_phrases) == len(texts)
    _import_intents(intents, target.name, content, Merge.REPLACE)
    assert len(intents.get_intent(name=name).training_phrases) == len(book.training_phrases)


def test_entity_types_via_gcs_and_bad_requests(cx_client, agents, qatar):
    entity_types = cx_client(cx.EntityTypesClient)
    airport = _by_name(entity_types.list_entity_types(parent=qatar.name))["airport-codes"]
    uri = f"gs://{unique_name('nlu')}/entities.zip"
    exported = wait_for(
        entity_types.export_entity_types(
            request={
                "parent": qatar.name,
                "entity_types": [airport.name],
                "entity_types_uri": uri,
                "data_format": cx.ExportEntityTypesRequest.DataFormat.JSON_PACKAGE,
            }
        )
    )
    assert exported.entity_types_uri == uri
    target = create_test_agent(agents, unique_name("nlu-et"))
    request = {
        "parent": target.name,
        "entity_types_uri": uri,
        "merge_option": cx.ImportEntityTypesRequest.MergeOption.KEEP,
    }
    (name,) = wait_for(entity_types.import_entity_types(request=request)).entity_types
    copy = entity_types.get_entity_type(name=name)
    assert copy.display_name == "airport-codes"
    assert [e.value for e in copy.entities] == [e.value for e in airport.entities]

    intents = cx_client(cx.IntentsClient)
    with pytest.raises(exceptions.InvalidArgument, match="exactly one destination"):
        intents.export_intents(request={"parent": qatar.name, "intents": [f"{qatar.name}/intents/x"]})
    with pytest.raises(exceptions.NotFound, match="x"):
        intents.export_intents(
            request={"parent": qatar.name, "intents": [f"{qatar.name}/intents/x"], "intents_content_inline": True}
        )
    with pytest.raises(exceptions.InvalidArgument, match="CSV"):
        intents.export_intents(
            request={"parent": qatar.name, "intents": [airport.name], "intents_content_inline": True, "data_format": 3}
        )
    with pytest.raises(exceptions.InvalidArgument, match="merge_option"):
        _import_intents(
            intents,
            target.name,
            _export_intents(intents, qatar, [next(iter(intents.list_intents(parent=qatar.name))).name]),
            0,
        )
    with pytest.raises(exceptions.InvalidArgument, match="intent content is neither"):
        _import_intents(intents, target.name, b"junk", Merge.KEEP)
