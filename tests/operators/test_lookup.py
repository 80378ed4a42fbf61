"""Look-ups by display name, id or resource name against the emulator, and their errors."""

from __future__ import annotations

from typing import Any

import pytest
from operator_harness import CONN_ID, new_environment

from airflow_provider_cx.hooks import lookup
from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
from airflow_provider_cx.operators.errors import CXInvalidInputError, CXResourceNotFoundError


@pytest.fixture
def hook(cx_connection: Any) -> DialogflowCXHook:
    return DialogflowCXHook(gcp_conn_id=CONN_ID)


def test_environment_by_display_name_id_and_resource_name(cx_connection: Any, sample_agent: str, hook) -> None:
    name = new_environment(cx_connection, sample_agent, "staging")
    by_display = hook.resolve_environment(sample_agent, "staging")
    by_id = hook.resolve_environment(sample_agent, name.rsplit("/", 1)[-1])
    by_name = hook.resolve_environment(sample_agent, name)
    assert by_display.name == by_id.name == by_name.name == name


def test_unknown_environment_names_what_exists(cx_connection: Any, sample_agent: str, hook) -> None:
    new_environment(cx_connection, sample_agent, "staging")
    with pytest.raises(CXResourceNotFoundError, match=r"environment 'prod' not found .*existing: 'staging'"):
        hook.resolve_environment(sample_agent, "prod")


def test_resource_name_of_another_agent_is_refused(sample_agent: str, hook) -> None:
    other = "projects/test-project/locations/global/agents/other/environments/e"
    with pytest.raises(CXInvalidInputError, match="is not a environment of agent"):
        hook.resolve_environment(sample_agent, other)


def test_flows_by_display_name_and_every_missing_one_is_named(sample_agent: str, hook) -> None:
    flows = hook.resolve_flows(sample_agent, ["Default Start Flow"])
    assert flows[0].display_name == "Default Start Flow"
    with pytest.raises(CXResourceNotFoundError, match=r"'Nope', 'Nada' not found.*'Default Start Flow'"):
        hook.resolve_flows(sample_agent, ["Default Start Flow", "Nope", "Nada"])


def test_test_cases_by_tag_name_and_all(sample_agent: str, hook) -> None:
    everything = hook.resolve_test_cases(sample_agent)
    tags = sorted({tag for case in everything for tag in case.tags})
    assert tags, "the sample agent tags its test cases"
    tagged = hook.resolve_test_cases(sample_agent, tags=[tags[0]])
    assert tagged
    assert all(tags[0] in case.tags for case in tagged)
    assert len(tagged) <= len(everything)
    one = hook.resolve_test_cases(sample_agent, names=[everything[0].display_name])
    assert [case.name for case in one] == [everything[0].name]
    with pytest.raises(CXResourceNotFoundError, match="tags in use"):
        hook.resolve_test_cases(sample_agent, tags=["#no-such-tag"])


def test_unknown_agent_is_a_clear_not_found(cx_connection: Any, hook) -> None:
    with pytest.raises(CXResourceNotFoundError, match="agents/missing does not exist"):
        lookup.resolve_flow(hook, "projects/test-project/locations/global/agents/missing", "x")
