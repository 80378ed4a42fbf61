"""Playbooks.ExportPlaybook and Playbooks.ImportPlaybook: the wire side of ``playbook_transfer.py``.

A mixin of the Playbooks servicer, shaped like ``flow_io.py``: the request is checked and the
import planned before the operation starts, so bad input fails the call and changes nothing.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import playbook as playbook_types
from google.longrunning import operations_pb2

from airflow_provider_cx.emulator import playbook_transfer
from airflow_provider_cx.emulator.errors import InvalidArgument, NotFound
from airflow_provider_cx.emulator.gcs import deliver
from airflow_provider_cx.emulator.names import parse
from airflow_provider_cx.emulator.rpc import Service, pb, rpc

DataFormat = playbook_types.ExportPlaybookRequest.DataFormat


class PlaybookTransferRpcs(Service):
    """ExportPlaybook/ImportPlaybook, mixed into the Playbooks servicer (same proto service)."""

    @rpc(playbook_types.ExportPlaybookRequest, operations_pb2.Operation)
    def export_playbook(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("playbooks",), "playbook")
        playbook_id = path.segments[0][1]
        if request.data_format not in (DataFormat.DATA_FORMAT_UNSPECIFIED, DataFormat.BLOB, DataFormat.JSON):
            raise InvalidArgument(f"data_format {request.data_format} is not supported")
        if request.playbook_uri:
            self.backend.gcs.check(request.playbook_uri)
        store = self.backend.store
        with store.read(path.agent_name) as record:
            if all(p.id != playbook_id for p in record.package.collections.get("playbooks", [])):
                raise NotFound(f"playbook {request.name} not found")
        as_zip = request.data_format == DataFormat.JSON

        def work() -> Any:
            with store.read(path.agent_name) as record:
                content = playbook_transfer.export_playbook(record.package, playbook_id, as_zip)
            response = pb(playbook_types.ExportPlaybookResponse)()
            return deliver(
                self.backend.gcs, content, request.playbook_uri, response, "playbook_uri", "playbook_content"
            )

        return self.backend.start_operation(path.project, path.location, work)

    @rpc(playbook_types.ImportPlaybookRequest, operations_pb2.Operation)
    def import_playbook(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, (), "agent")
        source = request.WhichOneof("playbook")
        if source is None:
            raise InvalidArgument(f"import into {path.agent_name}: set playbook_uri or playbook_content")
        content = self.backend.gcs.read(request.playbook_uri) if source == "playbook_uri" else request.playbook_content
        incoming = playbook_transfer.read_playbook_content(content)
        strategy = request.import_strategy
        strategies = playbook_transfer.Strategies(
            strategy.main_playbook_import_strategy,
            strategy.nested_resource_import_strategy,
            strategy.tool_import_strategy,
        )
        store = self.backend.store
        with store.read(path.agent_name) as record:
            playbook_transfer.plan_import(record.package, incoming, strategies)

        def work() -> Any:
            with store.write(path.agent_name) as record:
                plan = playbook_transfer.plan_import(record.package, incoming, strategies)
                playbook = playbook_transfer.apply_import(record.package, plan)
                response = pb(playbook_types.ImportPlaybookResponse)(playbook=f"{record.name}/playbooks/{playbook.id}")
            conflicts = response.conflicting_resources
            conflicts.main_playbook_display_name = next(iter(plan.conflicts.get("main", [])), "")
            conflicts.nested_playbook_display_names.extend(plan.conflicts.get("playbooks", []))
            conflicts.tool_display_names.extend(plan.conflicts.get("tools", []))
            return response

        return self.backend.start_operation(path.project, path.location, work)
