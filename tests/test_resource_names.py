from __future__ import annotations

import pytest

from airflow_provider_cx.resource_names import (
    InvalidResourceNameError,
    agent_path,
    location_of,
    parse_agent_name,
    parse_resource_name,
)


@pytest.mark.parametrize(
    ("name", "project", "location", "agent"),
    [
        ("projects/p/locations/global/agents/a1", "p", "global", "a1"),
        ("projects/p-2/locations/us-central1/agents/a/flows/f/pages/x", "p-2", "us-central1", "a"),
        ("projects/p/locations/europe-west2/agents/a/environments/e", "p", "europe-west2", "a"),
        ("projects/p/locations/europe-west2", "p", "europe-west2", None),
        ("projects/p/locations/us-east1/operations/op-1", "p", "us-east1", None),
        ("projects/p/operations/op-1", "p", None, None),
    ],
)
def test_parse_resource_name(name, project, location, agent):
    parsed = parse_resource_name(name)
    assert (parsed.project, parsed.location, parsed.agent) == (project, location, agent)
    assert str(parsed) == name


def test_agent_name_of_a_child_resource():
    parsed = parse_agent_name("projects/p/locations/us-central1/agents/a/versions/v")
    assert parsed.agent_name == "projects/p/locations/us-central1/agents/a"
    assert parsed.parent == "projects/p/locations/us-central1"
    assert agent_path("p", "us-central1", "a") == parsed.agent_name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "agents/a",
        "projects//locations/global/agents/a",
        "projects/p/locations/global/agents",
        "projects/p/locations/global/agents/a/",
        "projects/p/locations/Global/agents/a",
        "projects/p/locations/us central1/agents/a",
        "projects/p/locations/evil.example.com:443/agents/a",
    ],
)
def test_malformed_names_are_refused(name):
    with pytest.raises(InvalidResourceNameError):
        parse_resource_name(name)


def test_agent_name_required_where_an_agent_is_needed():
    with pytest.raises(InvalidResourceNameError, match="not an agent name"):
        parse_agent_name("projects/p/locations/global")
    with pytest.raises(InvalidResourceNameError, match="not an agent"):
        _ = parse_resource_name("projects/p/locations/us-east1/operations/o").agent_name


def test_location_of():
    assert location_of("projects/p/locations/asia-northeast1/agents/a") == "asia-northeast1"
    assert location_of("projects/p/operations/o") is None
