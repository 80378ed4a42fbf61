"""RestoreAgent with a prepared request: the same call on the wire as the stock client's, over real gRPC."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.cloud import dialogflowcx_v3 as cx
from google.longrunning import operations_pb2

from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
from airflow_provider_cx.hooks.restore_request import RESTORE_AGENT_METHOD, SerializedRestoreRequest
from tests.hooks.hook_support import AGENT, CONN_ID, FAST_RETRIES, set_connection

Option = cx.RestoreAgentRequest.RestoreOption
#: Metadata the server keeps: what identifies and routes a call.
KEPT_METADATA = ("user-agent", "x-goog-api-client", "x-goog-request-params")


@dataclass
class RecordingServer:
    """A gRPC server that answers RestoreAgent with an operation and keeps each request as received."""

    fail_first: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def restore_agent(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        with self._lock:
            metadata = {key: value for key, value in context.invocation_metadata() if key in KEPT_METADATA}
            self.calls.append({"request": request, "metadata": metadata, "deadline": context.time_remaining()})
            if len(self.calls) <= self.fail_first:
                context.abort(grpc.StatusCode.UNAVAILABLE, "try again")
        return operations_pb2.Operation(name="projects/p/locations/global/operations/restore-1").SerializeToString()

    def handler(self) -> grpc.GenericRpcHandler:
        method = grpc.unary_unary_rpc_method_handler(self.restore_agent)  # no (de)serializers: raw bytes
        return grpc.method_handlers_generic_handler(
            RESTORE_AGENT_METHOD.split("/")[1], {RESTORE_AGENT_METHOD.split("/")[2]: method}
        )


@pytest.fixture
def recording_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    recorder = RecordingServer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((recorder.handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    extra = {"emulator_host": f"127.0.0.1:{port}", "project": "test-project"}
    set_connection(monkeypatch, CONN_ID, extra, conn_type="dialogflow_cx")
    yield recorder
    server.stop(grace=None)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 small", bytes(range(256)) * 700])
@pytest.mark.parametrize("option", [Option.KEEP, Option.FALLBACK])
def test_prepared_bytes_are_what_the_stock_serializer_makes(content: bytes, option: Option) -> None:
    stock = cx.RestoreAgentRequest(name=AGENT, restore_option=option, agent_content=content)
    prepared = SerializedRestoreRequest(AGENT, option, content)

    assert prepared.wire == cx.RestoreAgentRequest.serialize(stock)
    assert prepared.serialize(prepared.request) == prepared.wire
    assert not prepared.request.agent_content  # the message the client sees has no package in it


def test_prepared_bytes_are_sent_only_for_their_own_request() -> None:
    prepared = SerializedRestoreRequest(AGENT, Option.KEEP, b"package")
    for other in (
        cx.RestoreAgentRequest(name=AGENT.replace("agent-1", "agent-2"), restore_option=Option.KEEP),
        cx.RestoreAgentRequest(name=AGENT, restore_option=Option.FALLBACK),
        {"name": AGENT},
    ):
        with pytest.raises(ValueError, match="sends the restore of"):
            prepared.serialize(other)


def test_restore_client_makes_the_same_call_as_the_stock_client(recording_server: RecordingServer) -> None:
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID, retry_policy=FAST_RETRIES)
    content = bytes(range(256)) * 4000
    stock_request = cx.RestoreAgentRequest(name=AGENT, restore_option=Option.FALLBACK, agent_content=content)
    stock = hook.call(hook.get_agents_client(AGENT).restore_agent, request=stock_request)
    prepared = SerializedRestoreRequest(AGENT, Option.FALLBACK, content)
    operation = hook.call(hook.get_restore_client(prepared).restore_agent, request=prepared.request)

    sent_by_stock, sent_prepared = recording_server.calls
    assert sent_prepared["request"] == sent_by_stock["request"] == prepared.wire
    assert sent_prepared["metadata"] == sent_by_stock["metadata"]
    assert sent_prepared["metadata"]["x-goog-request-params"] == f"name={AGENT}"
    assert "airflow-provider-cx/" in sent_prepared["metadata"]["x-goog-api-client"]
    # the hook's per-attempt timeout reaches the server as the call's deadline in both cases
    # (gRPC rounds deadlines up, so allow a little over)
    assert FAST_RETRIES.attempt_timeout - 2 < sent_prepared["deadline"] < FAST_RETRIES.attempt_timeout + 1
    assert FAST_RETRIES.attempt_timeout - 2 < sent_by_stock["deadline"] < FAST_RETRIES.attempt_timeout + 1
    assert operation.operation.name == stock.operation.name


def test_restore_client_is_retried_by_the_hooks_policy(recording_server: RecordingServer) -> None:
    recording_server.fail_first = 2
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID, retry_policy=FAST_RETRIES)
    prepared = SerializedRestoreRequest(AGENT, Option.KEEP, b"PK\x03\x04 package")

    hook.call(hook.get_restore_client(prepared).restore_agent, request=prepared.request)

    assert [call["request"] for call in recording_server.calls] == [prepared.wire] * 3
