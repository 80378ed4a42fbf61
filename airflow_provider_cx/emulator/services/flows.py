"""google.cloud.dialogflow.cx.v3.Flows: flow CRUD, TrainFlow, flow validation (and export/import: flow_io)."""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import flow as flow_types
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2

from airflow_provider_cx.emulator import validation
from airflow_provider_cx.emulator.defaults import new_flow_data
from airflow_provider_cx.emulator.errors import FailedPrecondition
from airflow_provider_cx.emulator.names import parse, parse_singleton
from airflow_provider_cx.emulator.resources import Kind, Located, find, flow_by_id, locate
from airflow_provider_cx.emulator.rpc import pb, rpc
from airflow_provider_cx.emulator.services.crud import ResourceService
from airflow_provider_cx.emulator.services.flow_io import FlowTransferRpcs
from airflow_provider_cx.package import Resource

FLOW = Kind("flow", "flows", pb(flow_types.Flow), reference_key="targetFlow")
_EXCLUDED_DEFAULTS = ("name", "displayName")


class FlowsService(FlowTransferRpcs, ResourceService):
    SERVICE = "google.cloud.dialogflow.cx.v3.Flows"
    KIND = FLOW
    NAME_SHAPES = (("flows",),)
    PARENT_SHAPES = ((),)

    @rpc(flow_types.ListFlowsRequest, flow_types.ListFlowsResponse)
    def list_flows(self, request: Any, context: grpc.ServicerContext) -> Any:
        flows, token = self.list_page(request.parent, request.page_size, request.page_token, request.language_code)
        return pb(flow_types.ListFlowsResponse)(flows=flows, next_page_token=token)

    @rpc(flow_types.GetFlowRequest, flow_types.Flow)
    def get_flow(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.get(request.name, request.language_code)

    @rpc(flow_types.CreateFlowRequest, flow_types.Flow)
    def create_flow(self, request: Any, context: grpc.ServicerContext) -> Any:
        def defaults(record: Any, language: str) -> dict[str, Any]:
            data = new_flow_data(request.flow.display_name or "flow", language)
            return {k: v for k, v in data.items() if k not in _EXCLUDED_DEFAULTS}

        return self.create(request.parent, request.flow, request.language_code, defaults)

    @rpc(flow_types.UpdateFlowRequest, flow_types.Flow)
    def update_flow(self, request: Any, context: grpc.ServicerContext) -> Any:
        mask = request.update_mask if request.HasField("update_mask") else None
        return self.update(request.flow, mask, request.language_code)

    @rpc(flow_types.DeleteFlowRequest, empty_pb2.Empty)
    def delete_flow(self, request: Any, context: grpc.ServicerContext) -> Any:
        def refuse_start_flow(located: Located, res: Resource) -> None:
            start = located.record.package.start_flow_name
            if res.display_name.strip() == start.strip():
                raise FailedPrecondition(f"flow {request.name} is the agent's start flow and cannot be deleted")

        return self.delete(request.name, request.force, refuse_start_flow)

    @rpc(flow_types.TrainFlowRequest, operations_pb2.Operation)
    def train_flow(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("flows",), "flow")
        with self.backend.store.read(path.agent_name) as record:
            flow_by_id(record, path.segments[0][1])

        def work() -> None:
            with self.backend.store.read(path.agent_name) as record:
                flow_by_id(record, path.segments[0][1])  # still there when training "finishes"

        return self.backend.start_operation(path.project, path.location, work, key=path.agent_name)

    @rpc(flow_types.ValidateFlowRequest, flow_types.FlowValidationResult)
    def validate_flow(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("flows",), "flow")
        with self.backend.store.write(path.agent_name) as record:
            located = locate(record, FLOW, self._parent_of(path))
            flow = flow_by_id(record, find(located, FLOW, path.segments[0][1]).id)
            return validation.validate_flow(record, flow, request.language_code)

    @rpc(flow_types.GetFlowValidationResultRequest, flow_types.FlowValidationResult)
    def get_flow_validation_result(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse_singleton(request.name, ("flows",), "validationResult", "flow validation result")
        with self.backend.store.read(path.agent_name) as record:
            flow = flow_by_id(record, path.segments[0][1])
            return validation.stored_flow_result(record, flow)


SERVICES = [FlowsService]
