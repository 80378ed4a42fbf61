"""google.cloud.dialogflow.cx.v3.Tools: tool CRUD and tool versions over the package's tools/ folder.

Playbooks name the tools they may call by display name (``referencedTools``), so a rename rewrites
those references, and deleting a tool a playbook still names needs ``force`` (which drops the
references).
"""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import tool as tool_types
from google.protobuf import empty_pb2

from airflow_provider_cx.emulator import playbook_references, resource_versions, resources
from airflow_provider_cx.emulator.errors import FailedPrecondition
from airflow_provider_cx.emulator.names import ResourcePath, parse
from airflow_provider_cx.emulator.resources import Kind, Located, find, locate
from airflow_provider_cx.emulator.rpc import paginate, pb, rpc
from airflow_provider_cx.emulator.services.crud import ResourceService
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import Resource

TOOL = Kind("tool", "tools", pb(tool_types.Tool))
ToolVersion = pb(tool_types.ToolVersion)
REFERENCE_KEY = "referencedTools"


class ToolsService(ResourceService):
    SERVICE = "google.cloud.dialogflow.cx.v3.Tools"
    KIND = TOOL
    NAME_SHAPES = (("tools",),)
    PARENT_SHAPES = ((),)

    # --- tools ----------------------------------------------------------------------------------
    @rpc(tool_types.ListToolsRequest, tool_types.ListToolsResponse)
    def list_tools(self, request: Any, context: grpc.ServicerContext) -> Any:
        items, token = self.list_page(request.parent, request.page_size, request.page_token)
        return pb(tool_types.ListToolsResponse)(tools=items, next_page_token=token)

    @rpc(tool_types.GetToolRequest, tool_types.Tool)
    def get_tool(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.get(request.name)

    @rpc(tool_types.CreateToolRequest, tool_types.Tool)
    def create_tool(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.create(request.parent, request.tool)

    @rpc(tool_types.UpdateToolRequest, tool_types.Tool)
    def update_tool(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = self._name(request.tool.name)
        mask = request.update_mask if request.HasField("update_mask") else None
        with self.backend.store.write(path.agent_name) as record:
            located = locate(record, TOOL, self._parent_of(path))
            res = find(located, TOOL, path.segments[-1][1])
            old = res.display_name
            resources.update(located, TOOL, res, request.tool, mask, record.package.default_language)
            if res.display_name != old:
                playbook_references.rename_everywhere(record.package, playbook_references.TOOLS, old, res.display_name)
            return resources.message_of(located, TOOL, res, record.package.default_language)

    @rpc(tool_types.DeleteToolRequest, empty_pb2.Empty)
    def delete_tool(self, request: Any, context: grpc.ServicerContext) -> Any:
        def check(located: Located, res: Resource) -> None:
            users = playbook_references.playbooks_naming(located.record.package, REFERENCE_KEY, res.display_name)
            if users and not request.force:
                raise FailedPrecondition(
                    f"tool {request.name} ({res.display_name!r}) is referenced by playbook(s) "
                    f"{', '.join(repr(p.display_name) for p in users)}; delete with force=true to drop those references"
                )
            playbook_references.rewrite(located.record.package, REFERENCE_KEY, res.display_name, None)
            resource_versions.forget(located.record, res)

        return self.delete(request.name, False, check)

    # --- versions -------------------------------------------------------------------------------
    def _tool(self, record: AgentRecord, path: ResourcePath) -> tuple[Located, Resource]:
        located = locate(record, TOOL, ResourcePath(path.project, path.location, path.agent_id, ()))
        return located, find(located, TOOL, path.segments[0][1])

    def _version_message(self, located: Located, res: Resource, version_id: str, entry: dict[str, Any]) -> Any:
        saved = resource_versions.as_resource(res, entry)
        tool_name = resources.resource_name(located, TOOL, res)
        message = ToolVersion(
            name=f"{tool_name}/versions/{version_id}",
            display_name=entry.get("displayName", ""),
            tool=resources.message_of(located, TOOL, saved, located.record.package.default_language),
        )
        message.tool.name = tool_name
        message.create_time.FromNanoseconds(int(entry["createTime"] * 1e9))
        message.update_time.FromNanoseconds(int(entry["createTime"] * 1e9))
        return message

    @rpc(tool_types.CreateToolVersionRequest, tool_types.ToolVersion)
    def create_tool_version(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, ("tools",), "tool")
        with self.backend.store.write(path.agent_name, content=False) as record:
            located, res = self._tool(record, path)
            version_id, entry = resource_versions.create(
                record, res, {"displayName": request.tool_version.display_name}
            )
            return self._version_message(located, res, version_id, entry)

    @rpc(tool_types.ListToolVersionsRequest, tool_types.ListToolVersionsResponse)
    def list_tool_versions(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, ("tools",), "tool")
        with self.backend.store.read(path.agent_name) as record:
            located, res = self._tool(record, path)
            page, token = paginate(resource_versions.listed(record, res), request.page_size, request.page_token)
            versions = [self._version_message(located, res, vid, entry) for vid, entry in page]
        return pb(tool_types.ListToolVersionsResponse)(tool_versions=versions, next_page_token=token)

    @rpc(tool_types.GetToolVersionRequest, tool_types.ToolVersion)
    def get_tool_version(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("tools", "versions"), "tool version")
        with self.backend.store.read(path.agent_name) as record:
            located, res = self._tool(record, path)
            entry = resource_versions.get(record, res, path.segments[1][1], request.name)
            return self._version_message(located, res, path.segments[1][1], entry)

    @rpc(tool_types.DeleteToolVersionRequest, empty_pb2.Empty)
    def delete_tool_version(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("tools", "versions"), "tool version")
        with self.backend.store.write(path.agent_name, content=False) as record:
            _, res = self._tool(record, path)
            resource_versions.delete(record, res, path.segments[1][1], request.name)
        return empty_pb2.Empty()

    @rpc(tool_types.RestoreToolVersionRequest, tool_types.RestoreToolVersionResponse)
    def restore_tool_version(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("tools", "versions"), "tool version")
        with self.backend.store.write(path.agent_name) as record:
            located, res = self._tool(record, path)
            entry = resource_versions.get(record, res, path.segments[1][1], request.name)
            resource_versions.restore(res, entry)
            tool = resources.message_of(located, TOOL, res, record.package.default_language)
        return pb(tool_types.RestoreToolVersionResponse)(tool=tool)


SERVICES = [ToolsService]
