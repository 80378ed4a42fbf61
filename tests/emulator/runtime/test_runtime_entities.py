from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_cx.emulator.runtime import sysentities
from airflow_provider_cx.emulator.runtime.entities import EntityTypeMatcher

TODAY = dt.date(2024, 3, 10)  # a Sunday


def values(entity: str, text: str, prompted: bool = False) -> list:
    return [m.value for m in sysentities.extractor(entity)(text, TODAY, prompted)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jan 5", {"year": 2025, "month": 1, "day": 5}),  # already past this year: next one
        ("March 12th", {"year": 2024, "month": 3, "day": 12}),
        ("the 3rd of April 2026", {"year": 2026, "month": 4, "day": 3}),
        ("2024-12-01", {"year": 2024, "month": 12, "day": 1}),
        ("tomorrow", {"year": 2024, "month": 3, "day": 11}),
        ("next friday", {"year": 2024, "month": 3, "day": 15}),
        ("Christmas day", {"year": 2024, "month": 12, "day": 25}),
        ("in 2 weeks", {"year": 2024, "month": 3, "day": 24}),
    ],
)
def test_sys_date_resolves_against_the_reference_date(text: str, expected: dict) -> None:
    assert expected in values("@sys.date", text)


@pytest.mark.parametrize(
    ("text", "hours", "minutes"),
    [("3pm", 15, 0), ("at 10:30 a.m.", 10, 30), ("15:45", 15, 45), ("noon", 12, 0), ("12 am", 0, 0)],
)
def test_sys_time(text: str, hours: int, minutes: int) -> None:
    assert {"hours": hours, "minutes": minutes, "seconds": 0, "nanos": 0} in values("sys.time", text)


def test_number_like_entities() -> None:
    assert values("sys.number-sequence", "1234 5678 9800") == ["123456789800"]
    assert 3 in values("sys.number", "three tickets")
    assert 21 in values("sys.number", "twenty one")
    assert values("sys.number-integer", "2.5 or 7") == [7]
    assert values("sys.zip-code", "my zip is 94043") == ["94043"]
    assert values("sys.email", "mail jane.doe@example.com now") == ["jane.doe@example.com"]
    assert values("sys.percentage", "15 percent") == ["15%"]


def test_prompted_only_entities_need_a_prompt() -> None:
    assert values("sys.any", "whatever you say") == ["whatever you say"]
    assert values("sys.person", "Jane Doe") == []
    assert values("sys.person", "Jane Doe", prompted=True) == [{"name": "Jane Doe"}]
    assert values("sys.person", "my name is Tammy") == [{"name": "Tammy"}]
    assert values("sys.geo-city", "flying to paris") == ["Paris"]
    assert values("sys.some-unknown-type", "foo", prompted=True) == ["foo"]


def matcher(entities: list[dict], **data) -> EntityTypeMatcher:
    return EntityTypeMatcher.build({"displayName": "t", "kind": "KIND_MAP", **data}, entities)


def no_refs(_name: str):
    raise AssertionError("no references expected")


def test_map_synonyms_resolve_to_the_value_with_longest_match() -> None:
    m = matcher(
        [
            {"value": "JFK", "synonyms": ["JFK", "Kennedy airport", "New York Kennedy"]},
            {"value": "LGA", "synonyms": ["LaGuardia"]},
        ]
    )
    found = m.find("from new york kennedy please", TODAY, False, no_refs)
    assert [(f.value, f.original) for f in found] == [("JFK", "new york kennedy")]
    assert m.find("nothing here", TODAY, False, no_refs) == []


def test_a_synonym_written_exactly_as_said_wins_over_a_normalised_one() -> None:
    m = matcher(
        [
            {"value": "PDX", "synonyms": ["Portland\t"]},
            {"value": "PWM", "synonyms": ["Portland"]},
        ]
    )
    assert [f.value for f in m.find("Portland", TODAY, False, no_refs)] == ["PWM"]


def test_fuzzy_extraction_only_when_enabled() -> None:
    entities = [{"value": "Heathrow", "synonyms": ["Heathrow", "London Heathrow"]}]
    assert matcher(entities).find("Heathrw", TODAY, False, no_refs) == []
    fuzzy = matcher(entities, enableFuzzyExtraction=True)
    assert [f.value for f in fuzzy.find("Heathrw", TODAY, False, no_refs)] == ["Heathrow"]
    assert fuzzy.find("Hithrow", TODAY, False, no_refs) == []  # two edits away


def test_list_regexp_and_composite_kinds() -> None:
    listed = EntityTypeMatcher.build({"kind": "KIND_LIST"}, [{"value": "red", "synonyms": ["red", "crimson"]}])
    assert [f.value for f in listed.find("crimson please", TODAY, False, no_refs)] == ["crimson"]
    regexp = EntityTypeMatcher.build({"kind": "KIND_REGEXP"}, [{"value": "[A-Z]{4}\\d{3}", "synonyms": []}])
    assert [f.value for f in regexp.find("order ABCD123 status", TODAY, False, no_refs)] == ["ABCD123"]
    composite = matcher([{"value": "@sys.number-sequence", "synonyms": ["@sys.number-sequence"]}])
    found = composite.find("account 123 456", TODAY, False, lambda name: sysentities.extractor(name))
    assert [f.value for f in found] == ["123456"]


def test_entries_sharing_a_synonym_resolve_to_the_closest_spelling() -> None:
    m = matcher([{"value": "HOU", "synonyms": ["Houston\t\t"]}, {"value": "IAH", "synonyms": ["Houston\t"]}])
    assert [f.value for f in m.find("Houston", TODAY, False, no_refs)] == ["IAH"]


ARTISTS = [
    {"value": "The Goo Fighters", "synonyms": ["Goo Fighters", "G Fighters"]},
    {"value": "The Google Dolls", "synonyms": ["Google Dolls", "Dolls"]},
    {"value": "JFK", "synonyms": ["JFK New York", "John F. Kennedy International Airport"]},
    {"value": "SFO", "synonyms": ["San Francisco International Airport"]},
    {"value": "LongSleeve", "synonyms": ["Longsleeve Shirt", "Full sleeve"]},
]


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("The Gooo Fighters", "The Goo Fighters"),  # one word misspelt (one edit)
        ("The Google Fighters", "The Goo Fighters"),  # spelt like the synonym (letter similarity 0.8)
        ("a Longsleeve please", "LongSleeve"),  # partial: most of "Longsleeve Shirt"
        ("New York Kennedy airport", "JFK"),  # partial: words only JFK's synonyms use
    ],
)
def test_fuzzy_types_match_misspelt_and_partial_mentions(said: str, expected: str) -> None:
    found = matcher(ARTISTS, enableFuzzyExtraction=True).find(said, TODAY, False, no_refs)
    assert expected in [f.value for f in found]
    assert all(f.fuzzy for f in found)
    assert matcher(ARTISTS).find(said, TODAY, False, no_refs) == []  # only when the type asks for it


@pytest.mark.parametrize("said", ["a shirt", "the airport", "Hithrow", "international"])
def test_partial_mentions_need_a_distinctive_word_and_most_of_a_synonym(said: str) -> None:
    assert matcher(ARTISTS, enableFuzzyExtraction=True).find(said, TODAY, False, no_refs) == []


def test_exact_mentions_are_not_fuzzy_and_repeated_searches_agree() -> None:
    m = matcher(ARTISTS, enableFuzzyExtraction=True)
    first = m.find("Goo Fighters rock", TODAY, False, no_refs)
    assert [(f.value, f.fuzzy) for f in first] == [("The Goo Fighters", False)]
    first.clear()  # callers may change what they get back
    assert [f.value for f in m.find("Goo Fighters rock", TODAY, False, no_refs)] == ["The Goo Fighters"]
