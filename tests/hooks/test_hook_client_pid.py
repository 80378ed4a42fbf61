"""The hook's clients say which process built them (``pid/<n>`` in the user agent), as the emulator records it."""

from __future__ import annotations

import asyncio
import os
import re

from google.api_core.gapic_v1.client_info import ClientInfo

from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXAsyncHook, DialogflowCXHook
from airflow_provider_cx.hooks.user_agent_channel import UserAgentChannel, with_api_client_header
from tests.hooks.hook_support import set_connection

PID = re.compile(r"\bairflow-provider-cx/\S+ pid/(\d+)\b")


def test_calls_carry_the_pid_of_the_process_that_built_the_client(monkeypatch, cx_emulator):
    set_connection(monkeypatch, "cx_pid", {"emulator_host": cx_emulator.address}, conn_type="dialogflow_cx")
    hook = DialogflowCXHook(gcp_conn_id="cx_pid")

    client = hook.get_agents_client(location="global")
    hook.call(client.list_agents, parent="projects/pid-test/locations/global")

    call = [c for c in cx_emulator.admin().stats()["callers"] if c["method"].endswith("/ListAgents")][-1]
    assert PID.search(call["x-goog-api-client"]).group(1) == str(os.getpid())


def test_operation_polls_sync_and_async_carry_the_pid_too(monkeypatch, cx_emulator):
    """api_core's Operations clients take no ClientInfo; the hook's still name the provider and process."""
    set_connection(monkeypatch, "cx_pid_ops", {"emulator_host": cx_emulator.address}, conn_type="dialogflow_cx")
    hook = DialogflowCXHook(gcp_conn_id="cx_pid_ops")
    agents = hook.get_agents_client(location="global")
    agent = hook.call(
        agents.create_agent,
        parent="projects/pid-test/locations/global",
        agent={"display_name": "pid-ops", "default_language_code": "en", "time_zone": "UTC"},
    )
    name = hook.call(agents.export_agent, request={"name": agent.name}).operation.name
    cx_emulator.admin().reset_stats()

    hook.get_operation(name)
    asyncio.run(DialogflowCXAsyncHook(gcp_conn_id="cx_pid_ops").get_operation(name))

    polls = [c for c in cx_emulator.admin().stats()["callers"] if c["method"].endswith("/GetOperation")]
    assert len(polls) == 2
    for call in polls:
        assert call["x-goog-api-client"].startswith("airflow-provider-cx/")
        assert PID.search(call["x-goog-api-client"]).group(1) == str(os.getpid())


def test_the_user_agent_channel_replaces_only_the_api_client_header():
    sent = {}

    class Channel:
        target = "emulator:1"

        def unary_unary(self, method, *args, **kwargs):
            def call(request, timeout=None, metadata=None, **rest):
                sent.update(method=method, request=request, timeout=timeout, metadata=metadata, rest=rest)
                return "response"

            return call

    channel = UserAgentChannel(Channel(), ClientInfo(user_agent="airflow-provider-cx/1 pid/7"))
    stub = channel.unary_unary("/google.longrunning.Operations/GetOperation", _registered_method=True)
    metadata = [("x-goog-request-params", "name=op"), ("x-goog-api-client", "gl-python/3 gax/2")]

    assert stub("request", timeout=5, metadata=metadata, compression=None) == "response"
    assert sent["metadata"] == [
        ("x-goog-request-params", "name=op"),
        ("x-goog-api-client", ClientInfo(user_agent="airflow-provider-cx/1 pid/7").to_user_agent()),
    ]
    assert (sent["request"], sent["timeout"], sent["rest"]) == ("request", 5, {"compression": None})
    assert channel.target == "emulator:1"
    assert with_api_client_header(None, ("x-goog-api-client", "a")) == [("x-goog-api-client", "a")]
