"""google.longrunning.Operations, as the CX clients' operations mixin calls it (the wire side of operations.py)."""

from __future__ import annotations

from typing import Any

import grpc
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2

from airflow_provider_cx.emulator.errors import InvalidArgument
from airflow_provider_cx.emulator.names import parse_location
from airflow_provider_cx.emulator.rpc import Service, paginate, rpc


class OperationsService(Service):
    """google.longrunning.Operations, as the CX clients' operations mixin calls it."""

    SERVICE = "google.longrunning.Operations"

    @rpc(operations_pb2.GetOperationRequest, operations_pb2.Operation)
    def get_operation(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.backend.operations.get(request.name)

    @rpc(operations_pb2.ListOperationsRequest, operations_pb2.ListOperationsResponse)
    def list_operations(self, request: Any, context: grpc.ServicerContext) -> Any:
        parent = request.name
        parse_location(parent)
        ops = self.backend.operations.list(parent)
        ops = _filter(ops, request.filter)
        page, token = paginate(ops, request.page_size, request.page_token)
        return operations_pb2.ListOperationsResponse(operations=page, next_page_token=token)

    @rpc(operations_pb2.CancelOperationRequest, empty_pb2.Empty)
    def cancel_operation(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.backend.operations.cancel(request.name)
        return empty_pb2.Empty()


def _filter(ops: list[operations_pb2.Operation], text: str) -> list[operations_pb2.Operation]:
    """Supports the one filter clients use here: ``done=true`` / ``done=false`` (empty = all)."""
    text = text.replace(" ", "").lower()
    if not text:
        return ops
    if text in ("done=true", "done:true"):
        return [op for op in ops if op.done]
    if text in ("done=false", "done:false"):
        return [op for op in ops if not op.done]
    raise InvalidArgument(f"unsupported operations filter {text!r}; use done=true or done=false")


SERVICES = [OperationsService]
