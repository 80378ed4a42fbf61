"""Retry and polling limits from connection extras and hook arguments, against the scripted gRPC server."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from google.api_core import exceptions

from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXAsyncHook, DialogflowCXHook
from airflow_provider_cx.hooks.errors import CXConnectionSettingsError, CXOperationTimeoutError
from airflow_provider_cx.hooks.operations import DEFAULT_POLLING, PollingPolicy
from airflow_provider_cx.hooks.retry import DEFAULT_POLICY, RetryPolicy, call_with_retry
from tests.hooks.cx_scripted_server import GET_AGENT, ScriptedOperation
from tests.hooks.hook_support import AGENT, CONN_ID, set_connection

OPERATION = "projects/test-project/locations/global/operations/export-1"
#: Extras that make retries fast, as a connection form saves them (strings) or a JSON extra (numbers).
FAST_EXTRAS = {"retry_initial_delay": "0.01", "retry_max_delay": 0.01}


def connect(monkeypatch, server, **extra) -> str:
    base = {"emulator_host": server.address, "project": "test-project", **FAST_EXTRAS}
    set_connection(monkeypatch, CONN_ID, {**base, **extra}, conn_type="dialogflow_cx")
    return CONN_ID


def unavailable_get_agent_calls(hook: DialogflowCXHook, server) -> int:
    """Call GetAgent against a server that always answers UNAVAILABLE; how many attempts were made."""
    server.fail(GET_AGENT, grpc.StatusCode.UNAVAILABLE, times=100)
    with pytest.raises(exceptions.ServiceUnavailable):
        hook.call(hook.get_agents_client(AGENT).get_agent, name=AGENT)
    return server.calls[GET_AGENT]


def test_connection_extras_set_the_attempts(monkeypatch, scripted_server):
    connect(monkeypatch, scripted_server, retry_max_attempts="3")
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID)
    assert unavailable_get_agent_calls(hook, scripted_server) == 3
    assert (hook.retry_policy.initial_delay, hook.retry_policy.max_delay) == (0.01, 0.01)
    assert hook.retry_policy.deadline == DEFAULT_POLICY.deadline  # unset extras keep the default


def test_prefixed_extras_and_every_field(monkeypatch, scripted_server):
    extras = {
        "extra__dialogflow_cx__retry_max_attempts": 4,
        "extra__google_cloud_platform__retry_deadline": "42",
        "retry_attempt_timeout": "7.5",
        "poll_interval": "2",
        "operation_timeout": 90,
    }
    connect(monkeypatch, scripted_server, **extras)
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID)
    assert (hook.retry_policy.max_attempts, hook.retry_policy.deadline) == (4, 42.0)
    assert hook.retry_policy.attempt_timeout == 7.5
    assert hook.polling_policy == PollingPolicy(initial_delay=1.0, max_delay=2.0, timeout=90.0)


def test_empty_form_fields_keep_the_defaults(monkeypatch, scripted_server):
    connect(monkeypatch, scripted_server, retry_max_attempts="", poll_interval="", retry_initial_delay="")
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID)
    assert hook.retry_policy.max_attempts == DEFAULT_POLICY.max_attempts
    assert hook.polling_policy == DEFAULT_POLLING


def test_a_mapping_argument_changes_single_fields_over_the_connection(monkeypatch, scripted_server):
    connect(monkeypatch, scripted_server, retry_max_attempts="6", retry_deadline="50")
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID, retry_policy={"max_attempts": 2})
    assert unavailable_get_agent_calls(hook, scripted_server) == 2
    assert hook.retry_policy.deadline == 50.0


def test_a_complete_policy_argument_replaces_the_connections(monkeypatch, scripted_server):
    connect(monkeypatch, scripted_server, retry_max_attempts="6")
    policy = RetryPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.01, jitter=0)
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID, retry_policy=policy)
    assert hook.retry_policy is policy
    assert unavailable_get_agent_calls(hook, scripted_server) == 2


def test_operation_timeout_extra_bounds_the_wait(monkeypatch, scripted_server):
    connect(monkeypatch, scripted_server, poll_interval="0.02", operation_timeout="0.3")
    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=10_000))
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID)
    operation = hook.call(hook.get_agents_client(AGENT).export_agent, request={"name": AGENT})
    started = time.monotonic()
    with pytest.raises(CXOperationTimeoutError, match=r"not done after 0\.3s"):
        hook.wait_for_operation(operation)
    assert time.monotonic() - started < 10
    assert scripted_server.operations[OPERATION].polls >= 5  # polled every ~0.02 s, not every 10 s


def test_async_hook_reads_the_same_extras(monkeypatch, scripted_server):
    connect(monkeypatch, scripted_server, retry_max_attempts="3", operation_timeout="0.2", poll_interval="0.02")
    scripted_server.fail(GET_AGENT, grpc.StatusCode.UNAVAILABLE, times=100)
    scripted_server.operations[OPERATION] = ScriptedOperation(OPERATION, polls_until_done=10_000)

    async def run() -> None:
        hook = DialogflowCXAsyncHook(gcp_conn_id=CONN_ID)
        client = await hook.get_agents_client(AGENT)
        with pytest.raises(exceptions.ServiceUnavailable):
            await hook.call(client.get_agent, name=AGENT)
        with pytest.raises(CXOperationTimeoutError, match=r"0\.2s"):
            await hook.wait_for_operation(OPERATION)
        await hook.close()

    asyncio.run(asyncio.wait_for(run(), timeout=30))
    assert scripted_server.calls[GET_AGENT] == 3


@pytest.mark.parametrize(
    ("extra", "value"),
    [
        ("retry_max_attempts", "many"),
        ("retry_max_attempts", "2.5"),
        ("retry_max_attempts", 0),
        ("retry_deadline", "-1"),
        ("retry_max_delay", "inf"),
        ("poll_interval", True),
        ("operation_timeout", "soon"),
    ],
)
def test_bad_extras_are_clear_errors(monkeypatch, scripted_server, extra, value):
    connect(monkeypatch, scripted_server, **{extra: value})
    with pytest.raises(CXConnectionSettingsError) as error:
        DialogflowCXHook(gcp_conn_id=CONN_ID).retry_policy  # noqa: B018
    assert str(error.value).startswith(f"connection 'cx_test': extra {extra} must be a positive")
    assert str(error.value).endswith(f"got {value!r}")
    assert scripted_server.calls[GET_AGENT] == 0


def test_bad_hook_arguments_fail_at_construction():
    with pytest.raises(ValueError, match=r"unknown RetryPolicy field\(s\) \['attempts'\]"):
        DialogflowCXHook(retry_policy={"attempts": 3})
    with pytest.raises(ValueError, match="max_attempts must be at least 1"):
        DialogflowCXHook(retry_policy={"max_attempts": 0})
    with pytest.raises(ValueError, match="polling needs"):
        DialogflowCXHook(polling_policy={"max_delay": 0.001})


def test_no_sleep_runs_past_the_deadline(scripted_server, emulator_connection):
    """Backoff 0.3 s against a 0.5 s deadline: the second sleep would end past it, so two attempts only."""
    scripted_server.fail(GET_AGENT, grpc.StatusCode.UNAVAILABLE, times=100)
    policy = RetryPolicy(max_attempts=10, initial_delay=0.3, max_delay=0.3, jitter=0, deadline=0.5)
    client = DialogflowCXHook(gcp_conn_id=emulator_connection).get_agents_client(AGENT)
    started = time.monotonic()
    with pytest.raises(exceptions.ServiceUnavailable):
        call_with_retry(client.get_agent, name=AGENT, policy=policy)
    assert scripted_server.calls[GET_AGENT] == 2
    assert time.monotonic() - started < 0.5 + 0.25


def test_the_default_policy_spends_its_attempts_within_its_deadline():
    """Every default attempt can happen: the worst-case backoff (full jitter) fits in the deadline."""
    policy = DEFAULT_POLICY
    sleeps = [
        min(policy.initial_delay * policy.multiplier**n, policy.max_delay) + policy.jitter
        for n in range(policy.max_attempts - 1)
    ]
    assert policy.max_attempts >= 10
    assert sum(sleeps) < policy.deadline
    assert 0.3**policy.max_attempts < 1e-5  # the chaos run's per-call loss rate (see retry.py)
