"""Intent matching and parameter extraction: TF-IDF similarity, entity slots, case-insensitive parameters."""

from __future__ import annotations

import datetime as dt

from runtime_agent_builder import AgentBuilder, phrase, say

from airflow_provider_cx.emulator.runtime import Engine, MatchType, SessionState
from airflow_provider_cx.emulator.runtime.matcher import Utterance

TODAY = dt.date(2024, 3, 10)
DSF = "Default Start Flow"


def routes(*intents: str) -> dict:
    return {"transitionRoutes": [{"intent": i, "triggerFulfillment": say(f"<{i}>")} for i in intents]}


def test_a_stray_rare_word_does_not_outweigh_a_word_an_intent_keeps_using() -> None:
    b = AgentBuilder()
    b.intent("book", ["book a flight", "I need a flight", "cheap flight please", "flight to paris", "next flight"])
    b.intent("no", ["no", "nope", "that info is not correct", "no thanks"])
    b.flow(DSF, **routes("book", "no"))
    result = Engine(b.build(), today=TODAY).detect_intent(SessionState(), "flight info")
    assert result.intent == "book"


def test_entity_values_are_slots_so_unseen_values_match() -> None:
    b = AgentBuilder()
    b.entity_type("artist", [{"value": "Alice", "synonyms": ["Alice"]}, {"value": "Bob", "synonyms": ["Bob"]}])
    b.intent(
        "music",
        [phrase("buy music of ", ("Alice", "artist")), "I want music"],
        parameters=[{"id": "artist", "entityType": "@artist"}],
    )
    b.intent(
        "shirts",
        [phrase("shirts of ", ("Bob", "artist"), " please"), "I want shirts"],
        parameters=[{"id": "artist", "entityType": "@artist"}],
    )
    b.flow(DSF, **routes("music", "shirts"))
    result = Engine(b.build(), today=TODAY).detect_intent(SessionState(), "buy music of Bob")
    assert result.intent == "music"
    assert result.parameters == {"artist": "Bob"}


def test_a_span_several_types_mention_carries_every_slot() -> None:
    b = AgentBuilder()
    b.entity_type("code", [{"value": "SFO", "synonyms": ["SFO"]}])
    b.entity_type("origin", [{"value": "@code", "synonyms": ["@code"]}])
    b.intent("fly", ["fly"], parameters=[{"id": "o", "entityType": "@origin"}, {"id": "c", "entityType": "@code"}])
    b.flow(DSF, **routes("fly"))
    engine = Engine(b.build(), today=TODAY)
    info = engine.index.intents("en")["fly"]
    vector, _norm = Utterance(engine.index, "en", "SFO", TODAY).vector(info.slot_types, engine.index.weights("en"))
    assert {"@origin", "@code"} <= vector.keys()


def test_the_best_fitting_phrase_decides_which_parameter_a_mention_fills() -> None:
    b = AgentBuilder()
    b.entity_type("merch", [{"value": "T-Shirt", "synonyms": ["t-shirt"]}, {"value": "CD", "synonyms": ["cd"]}])
    b.entity_type("size", [{"value": "M", "synonyms": ["m", "medium"]}])
    b.entity_type("artist", [{"value": "Alice", "synonyms": ["Alice"]}])
    params = [
        {"id": "Merch", "entityType": "@merch"},
        {"id": "Merch1", "entityType": "@merch"},
        {"id": "Size", "entityType": "@size"},
        {"id": "Artist", "entityType": "@artist"},
    ]
    b.intent(
        "product",
        [
            phrase("can I buy ", ("Alice", "Artist"), " on ", ("cd", "Merch")),
            phrase("I want a ", ("t-shirt", "Merch1"), " size ", ("m", "Size")),
        ],
        parameters=params,
    )
    b.flow(DSF, **routes("product"))
    engine = Engine(b.build(), today=TODAY)
    sized = engine.detect_intent(SessionState(), "a t-shirt in medium")
    assert sized.parameters == {"Merch1": "T-Shirt", "Size": "M"}
    with_artist = engine.detect_intent(SessionState(), "buy Alice on t-shirt")
    assert with_artist.parameters == {"Artist": "Alice", "Merch": "T-Shirt"}


def form_agent() -> AgentBuilder:
    b = AgentBuilder()
    b.entity_type("size", [{"value": "M", "synonyms": ["m", "medium"]}, {"value": "L", "synonyms": ["large"]}])
    b.intent("help", ["help", "I need help", "help me choose"])
    b.intent("pick", [phrase("I want ", ("medium", "Size"))], parameters=[{"id": "Size", "entityType": "@size"}])
    b.flow(DSF, transitionRoutes=[{"intent": "pick", "targetPage": "Size"}])
    b.page(
        DSF,
        "Size",
        form={
            "parameters": [
                {
                    "displayName": "size",
                    "entityType": "@size",
                    "required": True,
                    "fillBehavior": {"initialPromptFulfillment": say("Which size?")},
                }
            ]
        },
        transitionRoutes=[
            {"intent": "help", "triggerFulfillment": say("Sizes run small.")},
            {"condition": '$page.params.status = "FINAL"', "targetPage": "Done"},
        ],
    )
    b.page(DSF, "Done", entryFulfillment=say("Size $session.params.SIZE it is."))
    return b


def test_parameter_names_are_case_insensitive() -> None:
    engine = Engine(form_agent().build(), today=TODAY)
    result = engine.detect_intent(SessionState(), "I want large")
    # The intent parameter "Size" fills the form parameter "size": no prompt, straight to Done.
    assert result.page == "Done"
    assert result.text_responses == ["Size L it is."]


def test_an_answer_to_the_prompt_fills_the_form_and_anything_else_may_match_an_intent() -> None:
    engine = Engine(form_agent().build(), today=TODAY)
    state = SessionState()
    engine.detect_intent(state, "I want", current_page=(DSF, "Size"))
    answered = engine.detect_intent(state.copy(), "the medium")
    assert answered.match_type == MatchType.PARAMETER_FILLING
    assert answered.page == "Done"
    helped = engine.detect_intent(state.copy(), "I need help, maybe medium")
    assert helped.match_type == MatchType.INTENT
    assert helped.intent == "help"
    assert helped.page == "Size"


def test_remembered_matches_are_copies() -> None:
    engine = Engine(form_agent().build(), today=TODAY)
    first = engine.detect_intent(SessionState(), "I want large")
    first.intent_parameters["Size"] = "changed"
    again = engine.detect_intent(SessionState(), "I want large")
    assert again.intent_parameters == {"Size": "L"}
