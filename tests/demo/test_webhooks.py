"""The demo's per-stage webhook backends: real calls from the emulator's conversations, counted per stage."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cx.demo.agents import EmulatorAgents, sample_package
from airflow_provider_cx.demo.webhooks import (
    ANSWER,
    BRANCH,
    StageWebhooks,
    with_branch_lookup_test,
    with_webhook_uri,
    write_stage_profiles,
)
from airflow_provider_cx.emulator.testing import unique_name
from airflow_provider_cx.package import read_package
from airflow_provider_cx.package.lint import check_stage_fit
from airflow_provider_cx.package.profile import apply_profile, load_profile

PARENT = "projects/acme-bank-dev/locations/global"
PROD_AGENT = "projects/acme-bank-prod/locations/us-central1/agents/00000000-0000-4000-8000-00000000000p"
FALLBACK = "I can't reach the branch directory right now."


@pytest.fixture
def webhooks() -> Iterator[StageWebhooks]:
    with StageWebhooks(prod_api_key=secrets.token_hex(16)) as started:
        yield started


@pytest.fixture
def agents(cx_emulator: Any) -> Iterator[EmulatorAgents]:
    client = EmulatorAgents(cx_emulator.address)
    yield client
    client.close()


def ask(agents: EmulatorAgents, agent: str, text: str) -> list[str]:
    from google.cloud import dialogflowcx_v3 as cx

    session = f"{agent}/sessions/{unique_name('s')}"
    query = cx.QueryInput(text=cx.TextInput(text=text), language_code="en")
    response = agents.client(cx.SessionsClient).detect_intent(request={"session": session, "query_input": query})
    return [" ".join(message.text.text) for message in response.query_result.response_messages if message.text]


def run_test_case(agents: EmulatorAgents, agent: str, display_name: str) -> str:
    from google.cloud import dialogflowcx_v3 as cx

    client = agents.client(cx.TestCasesClient)
    (case,) = [case for case in client.list_test_cases(parent=agent) if case.display_name == display_name]
    result = agents.wait(client.run_test_case(request={"name": case.name}))
    return cx.TestResult(result.result.test_result).name


def test_a_conversation_and_a_test_run_reach_only_the_stage_backend_the_package_names(
    agents: EmulatorAgents, webhooks: StageWebhooks
) -> None:
    package = sample_package([with_webhook_uri(webhooks.url("dev")), with_branch_lookup_test()])
    agent = agents.create_agent(PARENT, unique_name("dev"), package)

    assert ask(agents, agent, "find a branch near 10001")[-1] == ANSWER
    assert webhooks.calls() == {"dev": 1, "staging": 0, "prod": 0}
    assert run_test_case(agents, agent, "Find a branch by ZIP code") == "PASSED"
    assert webhooks.counts()["dev"] == {"nearest-branch": 2}


def test_prod_backend_refuses_a_call_without_its_api_key(agents: EmulatorAgents, webhooks: StageWebhooks) -> None:
    agent = agents.create_agent(
        PARENT, unique_name("keyless"), sample_package([with_webhook_uri(webhooks.url("prod"))])
    )

    assert FALLBACK in ask(agents, agent, "find a branch near 10001")[-1]
    assert webhooks.counts()["prod"] == {"refused": 1}
    assert webhooks.calls()["prod"] == 0


def test_the_demo_profiles_point_each_stage_at_its_backend_and_forbid_the_others(
    webhooks: StageWebhooks, tmp_path: Path
) -> None:
    key = webhooks.servers["prod"].api_key
    assert key is not None
    paths = write_stage_profiles(webhooks, tmp_path)
    dev = read_package(sample_package([with_webhook_uri(webhooks.url("dev"))]))

    prod = apply_profile(dev, load_profile(paths["prod"]), resolve=lambda ref: key)

    service = prod.package.webhook("Branch Locator").data["genericWebService"]  # type: ignore[union-attr]
    assert service["uri"] == webhooks.url("prod")
    assert service["requestHeaders"] == [{"key": "X-Api-Key", "value": key}]
    assert check_stage_fit(prod.package, PROD_AGENT, forbid=load_profile(paths["prod"]).forbid) == []
    # dev's package as it is, gated for prod: its backend is forbidden there.
    findings = check_stage_fit(dev, PROD_AGENT, forbid=load_profile(paths["prod"]).forbid)
    assert [finding.rule_id for finding in findings] == ["forbidden-endpoint"]
    staging = json.loads(paths["staging"].read_text())
    assert staging["webhooks"]["Branch Locator"]["uri"] == webhooks.url("staging")
    assert key not in paths["prod"].read_text() + paths["staging"].read_text()
    assert BRANCH["branch_name"] in ANSWER
