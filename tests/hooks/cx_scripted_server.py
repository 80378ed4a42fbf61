"""A tiny in-test gRPC server speaking a few CX and google.longrunning methods, with scripted failures.

It answers with the real wire messages, so the stock ``google-cloud-dialogflow-cx`` clients (built by
the hook through its emulator_host path) talk to it unchanged. Each method can be told to fail N
times with a status code (optionally with a ``google.rpc.RetryInfo`` detail) before it answers.
Long-running operations started by ExportAgent finish after a scripted number of GetOperation polls.
"""

from __future__ import annotations

import collections
import threading
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from google.cloud.dialogflowcx_v3 import types as cx
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, duration_pb2, empty_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

CX = "/google.cloud.dialogflow.cx.v3"
GET_AGENT = f"{CX}.Agents/GetAgent"
LIST_AGENTS = f"{CX}.Agents/ListAgents"
CREATE_AGENT = f"{CX}.Agents/CreateAgent"
UPDATE_AGENT = f"{CX}.Agents/UpdateAgent"
EXPORT_AGENT = f"{CX}.Agents/ExportAgent"
GET_OPERATION = "/google.longrunning.Operations/GetOperation"
CANCEL_OPERATION = "/google.longrunning.Operations/CancelOperation"


@dataclass
class Failure:
    code: grpc.StatusCode
    retry_delay: float | None = None


@dataclass
class ScriptedOperation:
    """An LRO that is done after ``polls_until_done`` GetOperation calls, with a response or an error."""

    name: str
    polls_until_done: int = 0
    error: tuple[grpc.StatusCode, str] | None = None
    polls: int = 0
    cancelled: bool = False
    agent: str = ""


@dataclass
class ScriptedCXServer:
    failures: dict[str, collections.deque[Failure]] = field(default_factory=dict)
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    operations: dict[str, ScriptedOperation] = field(default_factory=dict)
    next_operation: ScriptedOperation | None = None
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None

    # --- scripting ---------------------------------------------------------------------------------

    def fail(self, method: str, code: grpc.StatusCode, times: int, retry_delay: float | None = None) -> None:
        self.failures.setdefault(method, collections.deque()).extend(Failure(code, retry_delay) for _ in range(times))

    def script_operation(self, operation: ScriptedOperation) -> None:
        """The operation the next ExportAgent starts (also served by GetOperation under its name)."""
        self.next_operation = operation
        self.operations[operation.name] = operation

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> int:
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self._server.add_generic_rpc_handlers((_Handler(self),))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait(5)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- behaviour -------------------------------------------------------------------------------

    def _maybe_fail(self, method: str, context: grpc.ServicerContext) -> None:
        with self._lock:
            self.calls[method] += 1
            queue = self.failures.get(method)
            failure = queue.popleft() if queue else None
        if failure is None:
            return
        details = []
        if failure.retry_delay is not None:
            detail = any_pb2.Any()
            delay = duration_pb2.Duration()
            delay.FromMilliseconds(int(failure.retry_delay * 1000))
            detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
            details.append(detail)
        status = status_pb2.Status(code=failure.code.value[0], message=f"scripted {failure.code.name}", details=details)
        context.abort_with_status(rpc_status.to_status(status))

    def get_agent(self, request: cx.GetAgentRequest, context: grpc.ServicerContext) -> cx.Agent:
        self._maybe_fail(GET_AGENT, context)
        return cx.Agent(name=request.name, display_name="Scripted Agent", default_language_code="en")

    def list_agents(self, request: cx.ListAgentsRequest, context: grpc.ServicerContext) -> cx.ListAgentsResponse:
        self._maybe_fail(LIST_AGENTS, context)
        return cx.ListAgentsResponse(agents=[cx.Agent(name=f"{request.parent}/agents/a1", display_name="A1")])

    def create_agent(self, request: cx.CreateAgentRequest, context: grpc.ServicerContext) -> cx.Agent:
        self._maybe_fail(CREATE_AGENT, context)
        return cx.Agent(name=f"{request.parent}/agents/new", display_name=request.agent.display_name)

    def update_agent(self, request: cx.UpdateAgentRequest, context: grpc.ServicerContext) -> cx.Agent:
        self._maybe_fail(UPDATE_AGENT, context)
        return request.agent

    def export_agent(self, request: cx.ExportAgentRequest, context: grpc.ServicerContext) -> operations_pb2.Operation:
        self._maybe_fail(EXPORT_AGENT, context)
        operation = self.next_operation or ScriptedOperation(name=_operation_name(request.name, "export"))
        operation.agent = request.name
        self.operations[operation.name] = operation
        return self._operation_message(operation)

    def get_operation(
        self, request: operations_pb2.GetOperationRequest, context: grpc.ServicerContext
    ) -> operations_pb2.Operation:
        self._maybe_fail(GET_OPERATION, context)
        operation = self.operations.get(request.name)
        if operation is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"operation {request.name} not found")
        operation.polls += 1
        return self._operation_message(operation)

    def cancel_operation(
        self, request: operations_pb2.CancelOperationRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self._maybe_fail(CANCEL_OPERATION, context)
        operation = self.operations.get(request.name)
        if operation is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"operation {request.name} not found")
        operation.cancelled = True
        return empty_pb2.Empty()

    @staticmethod
    def _operation_message(operation: ScriptedOperation) -> operations_pb2.Operation:
        message = operations_pb2.Operation(name=operation.name)
        if operation.polls < operation.polls_until_done:
            return message
        message.done = True
        if operation.error is not None:
            code, text = operation.error
            message.error.CopyFrom(status_pb2.Status(code=code.value[0], message=text))
        else:
            response = cx.ExportAgentResponse(agent_content=f"export of {operation.agent}".encode())
            message.response.Pack(cx.ExportAgentResponse.pb(response))
        return message


def _operation_name(resource: str, kind: str) -> str:
    parent = resource.split("/agents/")[0]
    return f"{parent}/operations/{kind}-1"


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, server: ScriptedCXServer):
        proto_plus = {
            GET_AGENT: (server.get_agent, cx.GetAgentRequest, cx.Agent),
            LIST_AGENTS: (server.list_agents, cx.ListAgentsRequest, cx.ListAgentsResponse),
            CREATE_AGENT: (server.create_agent, cx.CreateAgentRequest, cx.Agent),
            UPDATE_AGENT: (server.update_agent, cx.UpdateAgentRequest, cx.Agent),
        }
        self._handlers = {
            path: grpc.unary_unary_rpc_method_handler(
                behaviour, request_deserializer=request.deserialize, response_serializer=response.serialize
            )
            for path, (behaviour, request, response) in proto_plus.items()
        }
        self._handlers[EXPORT_AGENT] = grpc.unary_unary_rpc_method_handler(
            server.export_agent,
            request_deserializer=cx.ExportAgentRequest.deserialize,
            response_serializer=operations_pb2.Operation.SerializeToString,
        )
        self._handlers[GET_OPERATION] = grpc.unary_unary_rpc_method_handler(
            server.get_operation,
            request_deserializer=operations_pb2.GetOperationRequest.FromString,
            response_serializer=operations_pb2.Operation.SerializeToString,
        )
        self._handlers[CANCEL_OPERATION] = grpc.unary_unary_rpc_method_handler(
            server.cancel_operation,
            request_deserializer=operations_pb2.CancelOperationRequest.FromString,
            response_serializer=empty_pb2.Empty.SerializeToString,
        )

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        return self._handlers.get(handler_call_details.method)
