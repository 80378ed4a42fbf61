"""The retry policy against a real gRPC server that fails N times with each status code, then answers."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3

from airflow_provider_cx.hooks import clients
from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXAsyncHook, DialogflowCXHook
from airflow_provider_cx.hooks.retry import (
    METHOD_KINDS,
    CallKind,
    RetryPolicy,
    call_with_retry,
    kind_of,
    server_retry_delay,
)
from tests.hooks.cx_scripted_server import CREATE_AGENT, GET_AGENT, UPDATE_AGENT
from tests.hooks.hook_support import AGENT, FAST_RETRIES

TRANSIENT = [
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
]


@pytest.fixture
def hook(emulator_connection) -> DialogflowCXHook:
    return DialogflowCXHook(gcp_conn_id=emulator_connection, retry_policy=FAST_RETRIES)


@pytest.mark.parametrize("code", TRANSIENT, ids=lambda code: code.name)
def test_reads_recover_from_each_transient_code(hook, scripted_server, code):
    scripted_server.fail(GET_AGENT, code, times=2)
    client = hook.get_agents_client(AGENT)
    agent = hook.call(client.get_agent, name=AGENT)
    assert agent.name == AGENT
    assert scripted_server.calls[GET_AGENT] == 3


def test_gives_up_after_max_attempts_with_the_servers_error(hook, scripted_server):
    scripted_server.fail(GET_AGENT, grpc.StatusCode.UNAVAILABLE, times=10)
    client = hook.get_agents_client(AGENT)
    with pytest.raises(exceptions.ServiceUnavailable, match="scripted UNAVAILABLE"):
        hook.call(client.get_agent, name=AGENT)
    assert scripted_server.calls[GET_AGENT] == FAST_RETRIES.max_attempts


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED]
)
def test_permanent_errors_are_not_retried(hook, scripted_server, code):
    scripted_server.fail(GET_AGENT, code, times=1)
    client = hook.get_agents_client(AGENT)
    with pytest.raises(exceptions.GoogleAPICallError) as error:
        hook.call(client.get_agent, name=AGENT)
    assert error.value.grpc_status_code == code
    assert scripted_server.calls[GET_AGENT] == 1


@pytest.mark.parametrize(
    ("method", "path", "code", "expected_calls"),
    [
        # create_agent is not idempotent: only a quota rejection (nothing done yet) is retried.
        ("create_agent", CREATE_AGENT, grpc.StatusCode.UNAVAILABLE, 1),
        ("create_agent", CREATE_AGENT, grpc.StatusCode.ABORTED, 1),
        ("create_agent", CREATE_AGENT, grpc.StatusCode.RESOURCE_EXHAUSTED, 3),
        # update_agent is idempotent: retried, except after a deadline (it may still be running).
        ("update_agent", UPDATE_AGENT, grpc.StatusCode.UNAVAILABLE, 3),
        ("update_agent", UPDATE_AGENT, grpc.StatusCode.ABORTED, 3),
        ("update_agent", UPDATE_AGENT, grpc.StatusCode.DEADLINE_EXCEEDED, 1),
    ],
)
def test_mutations_are_retried_only_where_a_repeat_is_safe(hook, scripted_server, method, path, code, expected_calls):
    scripted_server.fail(path, code, times=2)
    client = hook.get_agents_client(AGENT)
    request = (
        {"parent": "projects/test-project/locations/global", "agent": {"display_name": "New"}}
        if method == "create_agent"
        else {"agent": {"name": AGENT, "display_name": "Renamed"}}
    )
    call = lambda: hook.call(getattr(client, method), request=request)  # noqa: E731
    if expected_calls == 1:
        with pytest.raises(exceptions.GoogleAPICallError):
            call()
    else:
        call()
    assert scripted_server.calls[path] == expected_calls


def test_explicit_kind_overrides_the_table(hook, scripted_server):
    scripted_server.fail(CREATE_AGENT, grpc.StatusCode.UNAVAILABLE, times=1)
    client = hook.get_agents_client(AGENT)
    request = {"parent": "projects/test-project/locations/global", "agent": {"display_name": "New"}}
    hook.call(client.create_agent, request=request, kind=CallKind.IDEMPOTENT)
    assert scripted_server.calls[CREATE_AGENT] == 2


def test_server_retry_info_delay_is_honoured_and_every_retry_logged(hook, scripted_server, caplog):
    scripted_server.fail(GET_AGENT, grpc.StatusCode.RESOURCE_EXHAUSTED, times=1, retry_delay=0.4)
    scripted_server.fail(GET_AGENT, grpc.StatusCode.UNAVAILABLE, times=1)
    client = hook.get_agents_client(AGENT)
    logger = logging.getLogger("test.cx.retry")
    with caplog.at_level(logging.WARNING, logger="test.cx.retry"):
        call_with_retry(client.get_agent, name=AGENT, policy=FAST_RETRIES, logger=logger)
    messages = [record.getMessage() for record in caplog.records if record.name == "test.cx.retry"]
    assert len(messages) == 2
    assert messages[0].startswith("get_agent failed with RESOURCE_EXHAUSTED (attempt 1 of 4); retrying in 0.4s")
    assert messages[1].startswith("get_agent failed with UNAVAILABLE (attempt 2 of 4); retrying in 0.0s")


def test_retry_info_is_read_from_raw_grpc_errors_too(scripted_server):
    scripted_server.fail(GET_AGENT, grpc.StatusCode.RESOURCE_EXHAUSTED, times=1, retry_delay=2.5)
    with grpc.insecure_channel(scripted_server.address) as channel:
        get_agent = channel.unary_unary(GET_AGENT)
        with pytest.raises(grpc.RpcError) as error:
            get_agent(dialogflowcx_v3.GetAgentRequest.serialize(dialogflowcx_v3.GetAgentRequest(name=AGENT)))
    assert server_retry_delay(error.value) == 2.5


def test_server_delay_is_capped(hook, scripted_server, caplog):
    scripted_server.fail(GET_AGENT, grpc.StatusCode.RESOURCE_EXHAUSTED, times=1, retry_delay=3600)
    client = hook.get_agents_client(AGENT)
    logger = logging.getLogger("test.cx.cap")
    policy = RetryPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.01, jitter=0, max_server_delay=0.05)
    with caplog.at_level(logging.WARNING, logger="test.cx.cap"):
        call_with_retry(client.get_agent, name=AGENT, policy=policy, logger=logger)
    (retry,) = [record for record in caplog.records if record.name == "test.cx.cap"]
    assert "retrying in 0.1s" in retry.getMessage()  # 0.05 s, rounded in the message


def test_every_client_method_has_an_explicit_policy():
    """A method missing from the table would silently fall back to NOT_IDEMPOTENT."""
    missing = set()
    for prefix in clients.SERVICES.values():
        client_class = getattr(dialogflowcx_v3, f"{prefix}Client")
        for name, member in vars(client_class).items():
            is_rpc = callable(member) and not name.startswith("_") and not _is_helper(name)
            if is_rpc and name not in METHOD_KINDS:
                missing.add(f"{prefix}Client.{name}")
    assert not missing


def _is_helper(name: str) -> bool:
    return (
        name.endswith("_path")
        or name.startswith(("parse_", "common_", "from_service_account"))
        or name in {"get_mtls_endpoint_and_cert_source"}
    )


def test_unknown_methods_are_treated_as_not_idempotent():
    def publish_release() -> None: ...

    assert kind_of(publish_release) is CallKind.NOT_IDEMPOTENT
    assert kind_of(dialogflowcx_v3.AgentsClient.get_agent) is CallKind.READ


def test_policy_limits_are_validated():
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="multiplier"):
        RetryPolicy(multiplier=0.5)


def test_async_hook_retries_with_the_same_policy(emulator_connection, scripted_server):
    scripted_server.fail(GET_AGENT, grpc.StatusCode.UNAVAILABLE, times=2)

    async def run() -> str:
        hook = DialogflowCXAsyncHook(gcp_conn_id=emulator_connection, retry_policy=FAST_RETRIES)
        client = await hook.get_agents_client(AGENT)
        assert isinstance(client, dialogflowcx_v3.AgentsAsyncClient)
        agent = await hook.call(client.get_agent, name=AGENT)
        return agent.display_name

    assert asyncio.run(asyncio.wait_for(run(), timeout=30)) == "Scripted Agent"
    assert scripted_server.calls[GET_AGENT] == 3
