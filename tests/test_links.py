from __future__ import annotations

from unittest import mock

from airflow_provider_cx import links
from airflow_provider_cx.links import ALL_LINKS, CXAgentLink, agent_console_url, environment_console_url

AGENT = "projects/p1/locations/europe-west1/agents/a1"


def test_console_urls_are_built_from_resource_names():
    assert agent_console_url(AGENT) == f"https://dialogflow.cloud.google.com/cx/{AGENT}"
    assert environment_console_url(f"{AGENT}/environments/e1").endswith(f"{AGENT}/environments")
    assert links.test_results_console_url(AGENT).endswith(f"{AGENT}/testCases")


def test_each_link_has_its_own_xcom_key_and_name():
    assert len({link().xcom_key for link in ALL_LINKS}) == len(ALL_LINKS)
    assert len({link.name for link in ALL_LINKS}) == len(ALL_LINKS)


def test_persist_pushes_under_the_link_key():
    ti = mock.Mock()
    CXAgentLink.persist({"ti": ti}, "https://x")
    ti.xcom_push.assert_called_once_with(key=CXAgentLink().xcom_key, value="https://x")
