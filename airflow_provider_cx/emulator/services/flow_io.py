"""Flows.ExportFlow and Flows.ImportFlow: the wire side of ``flow_transfer.py``.

A mixin of the Flows servicer: requests are checked (and the import planned) at once, so a bad
request fails the call instead of the operation; the operation then does the work against the
agent as it is by then. ``gs://`` URIs go through the emulator's offline Cloud Storage.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import flow as flow_types
from google.longrunning import operations_pb2

from airflow_provider_cx.emulator import flow_transfer, validation
from airflow_provider_cx.emulator.errors import InvalidArgument
from airflow_provider_cx.emulator.gcs import deliver
from airflow_provider_cx.emulator.names import parse
from airflow_provider_cx.emulator.resources import flow_by_id
from airflow_provider_cx.emulator.rpc import Service, pb, rpc

ImportOption = flow_types.ImportFlowRequest.ImportOption


class FlowTransferRpcs(Service):
    """ExportFlow/ImportFlow, mixed into the Flows servicer (same proto service)."""

    @rpc(flow_types.ExportFlowRequest, operations_pb2.Operation)
    def export_flow(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("flows",), "flow")
        flow_id = path.segments[0][1]
        if request.flow_uri:
            self.backend.gcs.check(request.flow_uri)
        store = self.backend.store
        with store.read(path.agent_name) as record:
            flow_by_id(record, flow_id)

        def work() -> Any:
            with store.read(path.agent_name) as record:
                content = flow_transfer.export_flow(record.package, flow_id, request.include_referenced_flows)
            response = pb(flow_types.ExportFlowResponse)()
            return deliver(self.backend.gcs, content, request.flow_uri, response, "flow_uri", "flow_content")

        return self.backend.start_operation(path.project, path.location, work, key=path.agent_name)

    @rpc(flow_types.ImportFlowRequest, operations_pb2.Operation)
    def import_flow(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, (), "agent")
        source = request.WhichOneof("flow")
        if source is None:
            raise InvalidArgument(f"import into {path.agent_name}: set flow_uri or flow_content")
        if request.import_option not in (
            ImportOption.IMPORT_OPTION_UNSPECIFIED,
            ImportOption.KEEP,
            ImportOption.FALLBACK,
        ):
            raise InvalidArgument(f"unknown import_option {request.import_option}")
        content = self.backend.gcs.read(request.flow_uri) if source == "flow_uri" else request.flow_content
        incoming = flow_transfer.read_flow_content(content)
        strategy = request.flow_import_strategy.global_import_strategy
        store = self.backend.store
        with store.read(path.agent_name) as record:
            flow_transfer.plan_import(record.package, incoming, strategy)

        def work() -> Any:
            with store.write(path.agent_name) as record:
                plan = flow_transfer.plan_import(record.package, incoming, strategy)
                flow = flow_transfer.apply_import(record.package, plan)
                record.extras.pop(validation.EXTRA_KEY, None)
                return pb(flow_types.ImportFlowResponse)(flow=f"{record.name}/flows/{flow.id}")

        return self.backend.start_operation(path.project, path.location, work)
