"""google.cloud.dialogflow.cx.v3.Versions: immutable flow versions, loading them back, comparing them.

A version is captured when CreateVersion is called (see :mod:`airflow_provider_cx.emulator.snapshots`)
and committed when its operation finishes, so a failed or cancelled operation leaves no version
behind and version ids stay consecutive per flow. Ids are never reused after a delete.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import version as version_types
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2, json_format

from airflow_provider_cx.emulator import snapshots
from airflow_provider_cx.emulator.errors import InvalidArgument
from airflow_provider_cx.emulator.names import ResourcePath, parse
from airflow_provider_cx.emulator.resources import flow_by_id, language_of
from airflow_provider_cx.emulator.rpc import Service, paginate, pb, rpc
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import AgentPackage

Version = pb(version_types.Version)
DRAFT_VERSION_ID = "0"  # CompareVersions: version id 0 is the draft flow
_UPDATABLE = {"display_name", "description"}


def version_message(record: AgentRecord, flow_id: str, version_id: str) -> Any:
    stored = snapshots.flow_versions(record, flow_id)["versions"][version_id]
    message = Version()
    json_format.ParseDict(stored, message, ignore_unknown_fields=True)
    message.name = f"{record.name}/flows/{flow_id}/versions/{version_id}"
    return message


def _nlu_settings(flow_data: dict[str, Any]) -> dict[str, Any]:
    settings = flow_data.get("nluSettings")
    if not isinstance(settings, dict):
        return {}
    try:
        json_format.ParseDict({"nluSettings": settings}, Version(), ignore_unknown_fields=True)
    except json_format.ParseError:
        return {}
    return settings


class VersionsService(Service):
    SERVICE = "google.cloud.dialogflow.cx.v3.Versions"

    # --- reads ------------------------------------------------------------------------------------
    @rpc(version_types.ListVersionsRequest, version_types.ListVersionsResponse)
    def list_versions(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, ("flows",), "flow")
        flow_id = path.segments[0][1]
        with self.backend.store.read(path.agent_name) as record:
            flow_by_id(record, flow_id)
            newest_first = snapshots.version_ids_newest_first(record, flow_id)
            page, token = paginate(newest_first, request.page_size, request.page_token)
            versions = [version_message(record, flow_id, vid) for vid in page]
        return pb(version_types.ListVersionsResponse)(versions=versions, next_page_token=token)

    @rpc(version_types.GetVersionRequest, version_types.Version)
    def get_version(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = snapshots.version_path(request.name)
        flow_id, version_id = _ids(path)
        with self.backend.store.read(path.agent_name) as record:
            snapshots.version_snapshot(record, flow_id, version_id)
            return version_message(record, flow_id, version_id)

    # --- create / update / delete -------------------------------------------------------------------
    @rpc(version_types.CreateVersionRequest, operations_pb2.Operation)
    def create_version(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, ("flows",), "flow")
        flow_id = path.segments[0][1]
        version = request.version
        snapshots.check_text(f"version of flow {request.parent}", version.display_name, version.description)
        store = self.backend.store
        with store.read(path.agent_name) as record:
            flow = flow_by_id(record, flow_id)
            captured = snapshots.capture_flow(record.package, flow)
            nlu = _nlu_settings(flow.data)
        created = snapshots.now()

        def work() -> Any:
            with store.write(path.agent_name) as record:
                flow_by_id(record, flow_id)  # not deleted while the version was being made
                stored = {
                    "displayName": version.display_name,
                    "description": version.description,
                    "nluSettings": nlu,
                    "createTime": created.ToJsonString(),
                    "state": "SUCCEEDED",
                }
                version_id = snapshots.add_version(record, flow_id, stored, captured)
                return version_message(record, flow_id, version_id)

        metadata = pb(version_types.CreateVersionOperationMetadata)()
        return self.backend.start_operation(path.project, path.location, work, metadata=metadata, key=path.agent_name)

    @rpc(version_types.UpdateVersionRequest, version_types.Version)
    def update_version(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = snapshots.version_path(request.version.name)
        flow_id, version_id = _ids(path)
        paths = set(request.update_mask.paths)
        if not paths:
            raise InvalidArgument("update_mask is required; only display_name and description can be updated")
        if not paths <= _UPDATABLE:
            raise InvalidArgument(
                f"update_mask names {', '.join(sorted(paths - _UPDATABLE))}; "
                "only display_name and description of a version can be updated"
            )
        with self.backend.store.write(path.agent_name, content=False) as record:
            snapshots.update_version_text(
                record,
                flow_id,
                version_id,
                display_name=request.version.display_name if "display_name" in paths else None,
                description=request.version.description if "description" in paths else None,
            )
            return version_message(record, flow_id, version_id)

    @rpc(version_types.DeleteVersionRequest, empty_pb2.Empty)
    def delete_version(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = snapshots.version_path(request.name)
        flow_id, version_id = _ids(path)
        with self.backend.store.write(path.agent_name) as record:
            snapshots.delete_version(record, flow_id, version_id)
        return empty_pb2.Empty()

    # --- load / compare ---------------------------------------------------------------------------------
    @rpc(version_types.LoadVersionRequest, operations_pb2.Operation)
    def load_version(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = snapshots.version_path(request.name)
        flow_id, version_id = _ids(path)
        store = self.backend.store
        with store.read(path.agent_name) as record:
            flow_by_id(record, flow_id)
            snapshots.version_snapshot(record, flow_id, version_id)

        def work() -> None:
            with store.write(path.agent_name) as record:
                snapshot = snapshots.version_snapshot(record, flow_id, version_id)
                package = record.package.copy()
                snapshots.load_into_draft(package, flow_id, snapshot, request.allow_override_agent_resources)
                record.package = package

        return self.backend.start_operation(path.project, path.location, work, key=path.agent_name)

    @rpc(version_types.CompareVersionsRequest, version_types.CompareVersionsResponse)
    def compare_versions(self, request: Any, context: grpc.ServicerContext) -> Any:
        base = snapshots.version_path(request.base_version)
        target = snapshots.version_path(request.target_version)
        if base.agent_name != target.agent_name or _ids(base)[0] != _ids(target)[0]:
            raise InvalidArgument(
                f"base_version {request.base_version} and target_version {request.target_version} "
                "must be versions of the same flow"
            )
        with self.backend.store.read(base.agent_name) as record:
            language = language_of(record, request.language_code)
            base_json = _content_json(record, base, language)
            target_json = _content_json(record, target, language)
        return pb(version_types.CompareVersionsResponse)(
            base_version_content_json=base_json,
            target_version_content_json=target_json,
            compare_time=snapshots.now(),
        )


def _ids(path: ResourcePath) -> tuple[str, str]:
    return path.segments[0][1], path.segments[1][1]


def _content_json(record: AgentRecord, path: ResourcePath, language: str) -> str:
    flow_id, version_id = _ids(path)
    if version_id == DRAFT_VERSION_ID:
        flow = flow_by_id(record, flow_id)
        snapshot: AgentPackage = snapshots.capture_flow(record.package, flow)
    else:
        snapshot = snapshots.version_snapshot(record, flow_id, version_id)
    return json.dumps(snapshots.version_content(snapshot, language), indent=2, sort_keys=True, ensure_ascii=False)


SERVICES = [VersionsService]
