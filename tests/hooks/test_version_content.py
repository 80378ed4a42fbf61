"""version_content: two CompareVersions contents are the same when all but their time stamps are."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from airflow_provider_cx.hooks.version_content import content_of, same_content


def response(base: object, target: object) -> SimpleNamespace:
    return SimpleNamespace(base_version_content_json=json.dumps(base), target_version_content_json=json.dumps(target))


def test_time_stamps_key_order_and_indentation_do_not_count() -> None:
    base = {"flow": {"displayName": "F", "updateTime": "2026-01-01T00:00:00Z"}, "pages": [{"create_time": "x"}]}
    target = {"pages": [{"create_time": "y"}], "flow": {"updateTime": "2026-12-06T00:00:00Z", "displayName": "F"}}
    assert same_content(response(base, target))
    assert content_of(json.dumps(base, indent=4)) == {"flow": {"displayName": "F"}, "pages": [{}]}


def test_any_other_difference_counts() -> None:
    base = {"flow": {"displayName": "F"}, "intents": [{"trainingPhrases": ["hi"]}], "timeZone": "Europe/Paris"}
    assert not same_content(response(base, {**base, "intents": [{"trainingPhrases": ["hi", "hello"]}]}))
    assert not same_content(response(base, {**base, "timeZone": "UTC"}))  # not a time stamp: content
    assert not same_content(response(base, {**base, "webhooks": []}))


def test_content_that_is_not_json_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="CompareVersions returned content that is not JSON"):
        content_of("{not json")
