"""Sessions over real gRPC with the stock client: DetectIntent, MatchIntent, FulfillIntent on the sample agent."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx
from google.protobuf import field_mask_pb2

from airflow_provider_cx.emulator.testing import create_test_agent, package_bytes, wait_for
from airflow_provider_cx.sample_agent import sample_agent_path

MatchType = cx.Match.MatchType


@pytest.fixture(scope="module")
def api(cx_emulator: Any) -> Any:
    class Api:
        agents = cx_emulator.client(cx.AgentsClient)
        sessions = cx_emulator.client(cx.SessionsClient)
        flows = cx_emulator.client(cx.FlowsClient)
        pages = cx_emulator.client(cx.PagesClient)
        intents = cx_emulator.client(cx.IntentsClient)
        webhooks = cx_emulator.client(cx.WebhooksClient)
        versions = cx_emulator.client(cx.VersionsClient)
        environments = cx_emulator.client(cx.EnvironmentsClient)

    return Api


def restore_sample(api: Any) -> cx.Agent:
    agent = create_test_agent(api.agents)
    content = package_bytes(sample_agent_path())
    wait_for(api.agents.restore_agent(request={"name": agent.name, "agent_content": content}))
    return agent


@pytest.fixture(scope="module")
def agent(api: Any) -> cx.Agent:
    return restore_sample(api)


def session_of(agent: cx.Agent | str) -> str:
    parent = agent if isinstance(agent, str) else agent.name
    return f"{parent}/sessions/{uuid.uuid4()}"


def say(api: Any, session: str, text: str | None = None, **kwargs: Any) -> cx.QueryResult:
    query_input = kwargs.pop("query_input", None) or {"text": {"text": text}, "language_code": "en"}
    request = {"session": session, "query_input": query_input, **kwargs}
    return api.sessions.detect_intent(request=request).query_result


def texts(result: cx.QueryResult) -> list[str]:
    return [" ".join(m.text.text) for m in result.response_messages if m.text.text]


def test_a_conversation_keeps_state_between_turns(api: Any, agent: cx.Agent) -> None:
    session = session_of(agent)
    first = say(api, session, "transfer money to Priya")
    assert first.match.match_type == MatchType.INTENT
    assert first.intent.display_name == "transfer.create"
    assert first.match.intent.name.startswith(f"{agent.name}/intents/")
    assert first.current_page.display_name == "Collect Transfer Details"
    assert first.current_flow.display_name == "Transfers"
    assert first.current_page.name.startswith(first.current_flow.name + "/pages/")
    assert dict(first.parameters) == {"recipient": "Priya Shah"}
    assert texts(first) == ["Let's set up your transfer.", "How much would you like to send?"]

    second = say(api, session, "50 dollars")
    assert second.match.match_type == MatchType.PARAMETER_FILLING
    assert second.parameters["amount"] == 50
    assert second.parameters["recipient"] == "Priya Shah"

    other = say(api, session_of(agent), "hello")  # a new session knows nothing of the transfer
    assert other.current_page.display_name == "Start Page"
    assert not other.parameters


def test_end_session_sends_end_interaction_and_the_next_turn_starts_over(api: Any, agent: cx.Agent) -> None:
    session = session_of(agent)
    ended = say(api, session, "I want to talk to a human")
    assert ended.current_page.display_name == "End Session"
    assert ended.current_page.name.endswith("/pages/END_SESSION")
    assert any("end_interaction" in cx.ResponseMessage.to_dict(m) for m in ended.response_messages)
    again = say(api, session, "hello")
    assert again.intent.display_name == "Default Welcome Intent"
    assert again.current_page.display_name == "Start Page"


def test_no_match_event_and_direct_intent_inputs(api: Any, agent: cx.Agent) -> None:
    session = session_of(agent)
    missed = say(api, session, "purple elephants dance at midnight")
    assert missed.match.match_type == MatchType.NO_MATCH
    assert texts(missed) == ["Sorry, I didn't catch that. I can help with cards, transfers and branches."]

    event = say(api, session, query_input={"event": {"event": "sys.no-input-default"}, "language_code": "en"})
    assert event.match.match_type == MatchType.EVENT
    assert event.trigger_event == "sys.no-input-default"
    assert texts(event)

    intents = {i.display_name: i.name for i in api.intents.list_intents(parent=agent.name)}
    direct = say(api, session, query_input={"intent": {"intent": intents["branch.hours"]}, "language_code": "en"})
    assert direct.match.match_type == MatchType.DIRECT_INTENT
    assert direct.trigger_intent == intents["branch.hours"]
    assert texts(direct)[0].startswith("Most Acme branches are open")


def test_query_parameters_inject_jump_and_disable_webhooks(api: Any, agent: cx.Agent) -> None:
    flows = {f.display_name: f for f in api.flows.list_flows(parent=agent.name)}
    pages = {p.display_name: p for p in api.pages.list_pages(parent=flows["Branch Finder"].name)}
    session = session_of(agent)
    params = {"current_page": pages["Find Branch"].name, "parameters": {"channel": "test"}, "disable_webhook": True}
    result = say(api, session, "10001", query_params=params)
    assert result.parameters["zip_code"] == "10001"
    assert result.parameters["channel"] == "test"
    assert not result.webhook_statuses  # disabled: the Branch Locator webhook was not called
    assert result.current_page.display_name == "End Session"  # Nearest Branch ends the flow the session began in

    called = say(api, session_of(agent), "10001", query_params={"current_page": pages["Find Branch"].name})
    assert len(called.webhook_statuses) == 1
    assert called.webhook_statuses[0].code != 0  # the example.com host cannot be reached from here
    assert "branch directory" in " ".join(texts(called))  # the page's webhook.error handler answered


class _BranchLocator(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        reply = {"sessionInfo": {"parameters": {"branch_name": "Main Street", "branch_address": "1 Main St"}}}
        payload = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def branch_locator() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BranchLocator)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/nearest"
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_is_called_over_http_and_an_agent_update_is_seen_at_once(api: Any, branch_locator: str) -> None:
    agent = restore_sample(api)
    (webhook,) = list(api.webhooks.list_webhooks(parent=agent.name))
    session = session_of(agent)
    say(api, session, "find a branch")
    before = say(api, session, "10001")
    assert "branch directory" in " ".join(texts(before))  # the original URL is unreachable

    webhook.generic_web_service.uri = branch_locator
    api.webhooks.update_webhook(webhook=webhook, update_mask=field_mask_pb2.FieldMask(paths=["generic_web_service"]))
    session = session_of(agent)
    say(api, session, "find a branch")
    after = say(api, session, "10001")
    assert texts(after)[-1].startswith("Your nearest branch is Main Street at 1 Main St.")
    assert after.webhook_statuses[0].code == 0
    sent = _BranchLocator.requests[-1]
    assert sent["fulfillmentInfo"]["tag"] == "nearest-branch"
    assert sent["sessionInfo"]["parameters"]["zip_code"] == "10001"
    assert sent["sessionInfo"]["session"] == session


def test_match_intent_leaves_the_session_alone_and_fulfill_intent_moves_it(api: Any, agent: cx.Agent) -> None:
    session = session_of(agent)
    match_request = {"session": session, "query_input": {"text": {"text": "block my card"}, "language_code": "en"}}
    matched = api.sessions.match_intent(request=match_request)
    (match,) = matched.matches
    assert match.intent.display_name == "card.block"
    assert matched.current_page.display_name == "Start Page"
    again = api.sessions.match_intent(request=match_request)
    assert again.current_page.display_name == "Start Page"  # MatchIntent changed nothing

    fulfilled = api.sessions.fulfill_intent(request={"match_intent_request": match_request, "match": match})
    assert fulfilled.query_result.current_flow.display_name == "Card Services"
    assert fulfilled.query_result.current_page.display_name == "Block Card"
    follow = say(api, session, "the credit one")
    assert follow.current_page.display_name == "Block Card"
    assert follow.parameters["card_type"] == "credit"


def test_environment_session_serves_the_pinned_flow_versions(api: Any) -> None:
    agent = restore_sample(api)
    flows = {f.display_name: f for f in api.flows.list_flows(parent=agent.name)}
    start = flows["Default Start Flow"]
    versions = {
        name: wait_for(api.versions.create_version(parent=flow.name, version={"display_name": "before edit"}))
        for name, flow in flows.items()
    }
    version = versions["Default Start Flow"]
    configs = [{"version": v.name} for v in versions.values()]
    environment = wait_for(
        api.environments.create_environment(
            parent=agent.name, environment={"display_name": "prod", "version_configs": configs}
        )
    )
    start.transition_routes[0].trigger_fulfillment.messages[0].text.text[:] = ["Hello from the draft!"]
    api.flows.update_flow(flow=start, update_mask=field_mask_pb2.FieldMask(paths=["transition_routes"]))

    draft = say(api, session_of(agent), "hello")
    assert texts(draft) == ["Hello from the draft!"]
    pinned = say(api, session_of(environment.name), "hello")
    assert texts(pinned)[0].startswith("Hi, welcome to Acme Bank support!")
    override = say(api, session_of(agent), "hello", query_params={"flow_versions": [version.name]})
    assert texts(override)[0].startswith("Hi, welcome to Acme Bank support!")


@pytest.mark.parametrize(
    ("request_update", "code"),
    [
        ({"session": "projects/p/locations/l/agents/a/flows/f"}, exceptions.InvalidArgument),
        ({"session": "projects/p/locations/global/agents/no-such-agent/sessions/s"}, exceptions.NotFound),
        ({"query_input": {"audio": {"audio": b"\0"}, "language_code": "en"}}, exceptions.InvalidArgument),
        ({"query_input": {"text": {"text": "hi"}}}, exceptions.InvalidArgument),
        ({"query_input": {"intent": {"intent": "x/intents/nope"}, "language_code": "en"}}, exceptions.InvalidArgument),
        ({"query_params": {"current_page": "not/a/page"}}, exceptions.InvalidArgument),
        ({"query_params": {"flow_versions": ["bad"]}}, exceptions.InvalidArgument),
        ({"session_suffix": "x" * 37}, exceptions.InvalidArgument),
    ],
)
def test_bad_requests_are_refused_by_name(api: Any, agent: cx.Agent, request_update: dict, code: type) -> None:
    request: dict[str, Any] = {
        "session": session_of(agent),
        "query_input": {"text": {"text": "hi"}, "language_code": "en"},
    }
    suffix = request_update.pop("session_suffix", None)
    if suffix:
        request["session"] = f"{agent.name}/sessions/{suffix}"
    request.update(request_update)
    with pytest.raises(code):
        api.sessions.detect_intent(request=request)


def test_concurrent_sessions_do_not_mix(api: Any, agent: cx.Agent) -> None:
    def conversation(i: int) -> tuple[str, float, str]:
        session = session_of(agent)
        say(api, session, "transfer money to Priya")
        result = say(api, session, f"{10 + i} dollars")
        return result.current_page.display_name, result.parameters["amount"], result.parameters["recipient"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(conversation, range(32)))
    assert results == [("Collect Transfer Details", 10 + i, "Priya Shah") for i in range(32)]
