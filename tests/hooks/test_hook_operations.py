"""Long-running operations: waiting with polling, failures, timeouts, cancel, and wait-by-name."""

from __future__ import annotations

import asyncio
import re

import grpc
import pytest
from google.cloud.dialogflowcx_v3 import ExportAgentResponse

from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXAsyncHook, DialogflowCXHook
from airflow_provider_cx.hooks.errors import CXOperationFailedError, CXOperationTimeoutError
from airflow_provider_cx.hooks.operations import PollingPolicy, operation_result
from tests.hooks.cx_scripted_server import CANCEL_OPERATION, GET_OPERATION, ScriptedOperation
from tests.hooks.hook_support import AGENT, FAST_POLLING, FAST_RETRIES

OPERATION = "projects/test-project/locations/global/operations/export-1"


@pytest.fixture
def hook(emulator_connection) -> DialogflowCXHook:
    return DialogflowCXHook(gcp_conn_id=emulator_connection, retry_policy=FAST_RETRIES, polling_policy=FAST_POLLING)


def start_export(hook: DialogflowCXHook):
    client = hook.get_agents_client(AGENT)
    return hook.call(client.export_agent, request={"name": AGENT})


def test_wait_polls_until_done_and_returns_the_result(hook, scripted_server):
    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=3))
    response = hook.wait_for_operation(start_export(hook))
    assert isinstance(response, ExportAgentResponse)
    assert response.agent_content == f"export of {AGENT}".encode()
    assert scripted_server.operations[OPERATION].polls == 3


def test_failed_operation_names_the_operation_and_status(hook, scripted_server):
    failing = ScriptedOperation(OPERATION, polls_until_done=1, error=(grpc.StatusCode.INVALID_ARGUMENT, "bad flow"))
    scripted_server.script_operation(failing)
    with pytest.raises(CXOperationFailedError) as error:
        hook.wait_for_operation(start_export(hook))
    assert str(error.value) == f"long-running operation {OPERATION} failed with INVALID_ARGUMENT: bad flow"
    assert (error.value.operation_name, error.value.code) == (OPERATION, "INVALID_ARGUMENT")


def test_timeout_names_the_operation_and_leaves_it_running(hook, scripted_server):
    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=10_000))
    with pytest.raises(CXOperationTimeoutError, match=re.escape(f"{OPERATION} not done after 0.3s")):
        hook.wait_for_operation(start_export(hook), timeout=0.3)
    assert not scripted_server.operations[OPERATION].cancelled


def test_transient_poll_errors_are_retried(hook, scripted_server):
    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=2))
    scripted_server.fail(GET_OPERATION, grpc.StatusCode.UNAVAILABLE, times=2)
    assert hook.wait_for_operation(start_export(hook)).agent_content
    assert scripted_server.calls[GET_OPERATION] == 4  # two failures, two polls


def test_permanent_poll_errors_propagate(hook, scripted_server):
    from google.api_core import exceptions

    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=2))
    scripted_server.fail(GET_OPERATION, grpc.StatusCode.PERMISSION_DENIED, times=1)
    with pytest.raises(exceptions.PermissionDenied):
        hook.wait_for_operation(start_export(hook))


def test_wait_for_an_operation_known_only_by_name(hook, scripted_server):
    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=2))
    start_export(hook)
    operation = hook.operation_from_name(OPERATION, ExportAgentResponse)
    assert hook.wait_for_operation(operation).agent_content == f"export of {AGENT}".encode()
    finished = hook.get_operation(OPERATION)
    assert finished.done
    assert operation_result(finished, ExportAgentResponse).agent_content == f"export of {AGENT}".encode()


def test_cancel_by_operation_or_name(hook, scripted_server):
    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=10_000))
    operation = start_export(hook)
    hook.cancel_operation(operation)
    assert scripted_server.operations[OPERATION].cancelled
    hook.cancel_operation(OPERATION)
    assert scripted_server.calls[CANCEL_OPERATION] == 2


def test_operation_result_refuses_unfinished_and_failed_operations(hook, scripted_server):
    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=5))
    start_export(hook)
    with pytest.raises(ValueError, match="not done yet"):
        operation_result(hook.get_operation(OPERATION), ExportAgentResponse)
    scripted_server.operations[OPERATION].error = (grpc.StatusCode.INTERNAL, "boom")
    scripted_server.operations[OPERATION].polls_until_done = 0
    with pytest.raises(CXOperationFailedError, match="failed with INTERNAL: boom"):
        operation_result(hook.get_operation(OPERATION), ExportAgentResponse)


def test_polling_policy_is_validated():
    with pytest.raises(ValueError, match="initial_delay"):
        PollingPolicy(initial_delay=0)
    with pytest.raises(ValueError, match="timeout"):
        PollingPolicy(timeout=-1)


def test_async_hook_gets_waits_and_cancels_by_name(emulator_connection, scripted_server):
    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=3))
    DialogflowCXHook(gcp_conn_id=emulator_connection).get_agents_client(AGENT).export_agent(request={"name": AGENT})
    hook = DialogflowCXAsyncHook(
        gcp_conn_id=emulator_connection, retry_policy=FAST_RETRIES, polling_policy=FAST_POLLING
    )

    async def run():
        first = await hook.get_operation(OPERATION)
        finished = await hook.wait_for_operation(OPERATION)
        await hook.cancel_operation(OPERATION)
        return first, finished

    first, finished = asyncio.run(asyncio.wait_for(run(), timeout=30))
    assert not first.done
    assert finished.done
    assert operation_result(finished, ExportAgentResponse).agent_content == f"export of {AGENT}".encode()
    assert scripted_server.operations[OPERATION].cancelled


def test_async_wait_raises_failure_and_timeout(emulator_connection, scripted_server):
    hook = DialogflowCXAsyncHook(
        gcp_conn_id=emulator_connection, retry_policy=FAST_RETRIES, polling_policy=FAST_POLLING
    )
    scripted_server.operations[OPERATION] = ScriptedOperation(
        OPERATION, polls_until_done=1, error=(grpc.StatusCode.FAILED_PRECONDITION, "no flows")
    )
    with pytest.raises(CXOperationFailedError, match="failed with FAILED_PRECONDITION: no flows"):
        asyncio.run(asyncio.wait_for(hook.wait_for_operation(OPERATION), timeout=30))

    scripted_server.operations[OPERATION] = ScriptedOperation(OPERATION, polls_until_done=10_000)
    with pytest.raises(CXOperationTimeoutError, match=r"not done after 0\.2s"):
        asyncio.run(asyncio.wait_for(hook.wait_for_operation(OPERATION, timeout=0.2), timeout=30))


# --- waiting for the finished Operation itself (what operators do) -------------------------------------


def test_wait_until_done_returns_the_finished_operation_unread(hook, scripted_server):
    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=3))
    finished = hook.wait_for_operation_done(start_export(hook).operation)
    assert finished.done
    assert finished.name == OPERATION
    assert scripted_server.operations[OPERATION].polls == 3
    assert operation_result(finished, ExportAgentResponse).agent_content == f"export of {AGENT}".encode()


def test_wait_until_done_makes_no_call_for_a_finished_operation(hook, scripted_server):
    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=1))
    operation = start_export(hook)
    finished = hook.wait_for_operation_done(operation.operation)
    assert hook.wait_for_operation_done(finished) is finished
    assert scripted_server.calls[GET_OPERATION] == 1


def test_wait_until_done_returns_a_failed_operation_for_operation_result_to_raise(hook, scripted_server):
    failing = ScriptedOperation(OPERATION, polls_until_done=1, error=(grpc.StatusCode.INVALID_ARGUMENT, "bad flow"))
    scripted_server.script_operation(failing)
    finished = hook.wait_for_operation_done(start_export(hook).operation)
    with pytest.raises(CXOperationFailedError, match="failed with INVALID_ARGUMENT: bad flow"):
        operation_result(finished, ExportAgentResponse)


def test_wait_for_result_polls_by_name_and_unpacks_or_raises(hook, scripted_server):
    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=2))
    result = hook.wait_for_result(start_export(hook).operation, ExportAgentResponse)
    assert result.agent_content == f"export of {AGENT}".encode()
    assert scripted_server.operations[OPERATION].polls == 2

    failing = ScriptedOperation(OPERATION, polls_until_done=1, error=(grpc.StatusCode.INVALID_ARGUMENT, "bad flow"))
    scripted_server.script_operation(failing)
    with pytest.raises(CXOperationFailedError, match="failed with INVALID_ARGUMENT: bad flow"):
        hook.wait_for_result(start_export(hook).operation, ExportAgentResponse)
    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=10_000))
    with pytest.raises(CXOperationTimeoutError, match=re.escape(f"{OPERATION} not done after 0.3s")):
        hook.wait_for_result(start_export(hook).operation, ExportAgentResponse, timeout=0.3)


def test_wait_until_done_times_out_and_retries_polls_with_the_hooks_policy(hook, scripted_server):
    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=10_000))
    with pytest.raises(CXOperationTimeoutError, match=re.escape(f"{OPERATION} not done after 0.3s")):
        hook.wait_for_operation_done(start_export(hook).operation, timeout=0.3)

    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=2))
    scripted_server.calls.clear()
    scripted_server.fail(GET_OPERATION, grpc.StatusCode.UNAVAILABLE, times=2)
    assert hook.wait_for_operation_done(start_export(hook).operation).done
    assert scripted_server.calls[GET_OPERATION] == 4  # two failures, two polls


def test_operation_result_refuses_a_response_of_another_type(hook, scripted_server):
    from google.protobuf import empty_pb2

    scripted_server.script_operation(ScriptedOperation(OPERATION, polls_until_done=1))
    finished = hook.wait_for_operation_done(start_export(hook).operation)
    with pytest.raises(TypeError, match=re.escape("ExportAgentResponse' is not a google.protobuf.Empty")):
        operation_result(finished, empty_pb2.Empty)
    # a raw protobuf class works as well as a proto-plus one
    assert operation_result(finished, ExportAgentResponse.pb()).agent_content == f"export of {AGENT}".encode()
