"""An environment's webhook overrides are what every conversation on that environment calls.

A loopback HTTP server counts calls per path: the agent's webhook points at ``/agent``, the
environment's override at ``/override``. DetectIntent on an environment session, test-case runs
on the environment and its continuous tests must reach ``/override``; the draft keeps ``/agent``.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
from google.cloud import dialogflowcx_v3 as cx
from google.protobuf import field_mask_pb2

from airflow_provider_cx.emulator.testing import create_test_agent, wait_for

WELCOME_REPLY = "from the webhook"


class Hooks:
    """A webhook endpoint on loopback that counts POSTs per path and answers with a text message."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                hooks.calls[self.path] += 1
                reply = {"fulfillmentResponse": {"messages": [{"text": {"text": [f"{WELCOME_REPLY} {self.path}"]}}]}}
                payload = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    server = Hooks()
    yield server
    server.close()


@pytest.fixture
def api(cx_client: Any) -> SimpleNamespace:
    return SimpleNamespace(
        agents=cx_client(cx.AgentsClient),
        flows=cx_client(cx.FlowsClient),
        webhooks=cx_client(cx.WebhooksClient),
        versions=cx_client(cx.VersionsClient),
        environments=cx_client(cx.EnvironmentsClient),
        sessions=cx_client(cx.SessionsClient),
        test_cases=cx_client(cx.TestCasesClient),
    )


def agent_calling_a_webhook(api: SimpleNamespace, hooks: Hooks) -> tuple[cx.Agent, cx.Webhook, cx.TestCase]:
    """A new agent whose welcome route calls a webhook at ``/agent``, and a test case saying hello."""
    agent = create_test_agent(api.agents)
    webhook = api.webhooks.create_webhook(
        parent=agent.name,
        webhook=cx.Webhook(display_name="greeter", generic_web_service={"uri": f"{hooks.url}/agent"}),
    )
    flow = api.flows.get_flow(name=agent.start_flow)
    for route in flow.transition_routes:
        route.trigger_fulfillment = cx.Fulfillment(webhook=webhook.name, tag="welcome")
    api.flows.update_flow(flow=flow, update_mask=field_mask_pb2.FieldMask(paths=["transition_routes"]))
    turn = {
        "user_input": {"input": {"text": {"text": "hello"}, "language_code": "en"}, "is_webhook_enabled": True},
        "virtual_agent_output": {"current_page": {"name": f"{agent.start_flow}/pages/START_PAGE"}},
    }
    case = api.test_cases.create_test_case(
        parent=agent.name, test_case=cx.TestCase(display_name="hello", test_case_conversation_turns=[turn])
    )
    return agent, webhook, case


def environment_with_override(
    api: SimpleNamespace, agent: cx.Agent, webhook: cx.Webhook, case: cx.TestCase, hooks: Hooks
) -> cx.Environment:
    version = wait_for(api.versions.create_version(parent=agent.start_flow, version=cx.Version(display_name="v1")))
    override = cx.Webhook(name=webhook.name, generic_web_service={"uri": f"{hooks.url}/override"})
    environment = cx.Environment(
        display_name="staging",
        version_configs=[cx.Environment.VersionConfig(version=version.name)],
        webhook_config=cx.Environment.WebhookConfig(webhook_overrides=[override]),
        test_cases_config=cx.Environment.TestCasesConfig(test_cases=[case.name]),
    )
    return wait_for(api.environments.create_environment(parent=agent.name, environment=environment))


def say_hello(api: SimpleNamespace, session: str) -> list[str]:
    query = cx.QueryInput(text=cx.TextInput(text="hello"), language_code="en")
    response = api.sessions.detect_intent(request={"session": session, "query_input": query})
    return [text for m in response.query_result.response_messages for text in m.text.text]


def test_environment_conversations_call_the_override(api: SimpleNamespace, hooks: Hooks) -> None:
    agent, webhook, case = agent_calling_a_webhook(api, hooks)
    environment = environment_with_override(api, agent, webhook, case, hooks)

    assert f"{WELCOME_REPLY} /override" in say_hello(api, f"{environment.name}/sessions/s1")
    assert hooks.calls == Counter({"/override": 1})

    assert f"{WELCOME_REPLY} /agent" in say_hello(api, f"{agent.name}/sessions/s1")  # the draft: the agent's
    assert hooks.calls == Counter({"/override": 1, "/agent": 1})

    run = api.test_cases.batch_run_test_cases(
        request={"parent": agent.name, "environment": environment.name, "test_cases": [case.name]}
    )
    wait_for(run)
    assert hooks.calls == Counter({"/override": 2, "/agent": 1})

    wait_for(api.test_cases.run_test_case(request={"name": case.name}))  # the draft again
    assert hooks.calls == Counter({"/override": 2, "/agent": 2})

    wait_for(api.environments.run_continuous_test(request={"environment": environment.name}))
    assert hooks.calls == Counter({"/override": 3, "/agent": 2})


def test_removing_the_override_restores_the_agents_webhook(api: SimpleNamespace, hooks: Hooks) -> None:
    agent, webhook, case = agent_calling_a_webhook(api, hooks)
    environment = environment_with_override(api, agent, webhook, case, hooks)
    environment.webhook_config = cx.Environment.WebhookConfig()
    wait_for(
        api.environments.update_environment(
            environment=environment, update_mask=field_mask_pb2.FieldMask(paths=["webhook_config"])
        )
    )
    say_hello(api, f"{environment.name}/sessions/s2")
    assert hooks.calls == Counter({"/agent": 1})
    stored = api.webhooks.get_webhook(name=webhook.name)
    assert stored.generic_web_service.uri == f"{hooks.url}/agent"  # the override never touched the agent
