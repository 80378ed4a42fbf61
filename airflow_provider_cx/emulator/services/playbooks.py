"""google.cloud.dialogflow.cx.v3.Playbooks: playbook CRUD, versions (and export/import: playbook_io).

Playbooks live in ``playbooks/<name>/<name>.json`` with their examples beside them
(``examples/<name>.json``, served by ``examples.py``). A playbook version is a snapshot of the
playbook and its examples (``resource_versions.py``); restoring one puts them back.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import playbook as playbook_types
from google.protobuf import empty_pb2

from airflow_provider_cx.emulator import playbook_references, resource_versions, resources
from airflow_provider_cx.emulator.convert import References
from airflow_provider_cx.emulator.errors import FailedPrecondition
from airflow_provider_cx.emulator.names import ResourcePath, parse
from airflow_provider_cx.emulator.resources import Kind, Located, find, locate
from airflow_provider_cx.emulator.rpc import paginate, pb, rpc
from airflow_provider_cx.emulator.services.crud import ResourceService
from airflow_provider_cx.emulator.services.examples import example_messages
from airflow_provider_cx.emulator.services.playbook_io import PlaybookTransferRpcs
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import Resource

PLAYBOOK = Kind("playbook", "playbooks", pb(playbook_types.Playbook))
PlaybookVersion = pb(playbook_types.PlaybookVersion)
REFERENCE_KEY = "referencedPlaybooks"


class PlaybooksService(PlaybookTransferRpcs, ResourceService):
    SERVICE = "google.cloud.dialogflow.cx.v3.Playbooks"
    KIND = PLAYBOOK
    NAME_SHAPES = (("playbooks",),)
    PARENT_SHAPES = ((),)

    # --- playbooks ------------------------------------------------------------------------------
    @rpc(playbook_types.ListPlaybooksRequest, playbook_types.ListPlaybooksResponse)
    def list_playbooks(self, request: Any, context: grpc.ServicerContext) -> Any:
        items, token = self.list_page(request.parent, request.page_size, request.page_token)
        return pb(playbook_types.ListPlaybooksResponse)(playbooks=items, next_page_token=token)

    @rpc(playbook_types.GetPlaybookRequest, playbook_types.Playbook)
    def get_playbook(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.get(request.name)

    @rpc(playbook_types.CreatePlaybookRequest, playbook_types.Playbook)
    def create_playbook(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.create(request.parent, request.playbook)

    @rpc(playbook_types.UpdatePlaybookRequest, playbook_types.Playbook)
    def update_playbook(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = self._name(request.playbook.name)
        mask = request.update_mask if request.HasField("update_mask") else None
        with self.backend.store.write(path.agent_name) as record:
            located, res = self._playbook(record, path)
            old = res.display_name
            resources.update(located, PLAYBOOK, res, request.playbook, mask, record.package.default_language)
            if res.display_name != old:
                playbook_references.rename_everywhere(
                    record.package, playbook_references.PLAYBOOKS, old, res.display_name
                )
                if str(record.package.agent.get("startPlaybook", "")).strip() == old.strip():
                    record.package.agent["startPlaybook"] = res.display_name
            return resources.message_of(located, PLAYBOOK, res, record.package.default_language)

    @rpc(playbook_types.DeletePlaybookRequest, empty_pb2.Empty)
    def delete_playbook(self, request: Any, context: grpc.ServicerContext) -> Any:
        def refuse_start_playbook(located: Located, res: Resource) -> None:
            start = str(located.record.package.agent.get("startPlaybook", ""))
            if start.strip() and start.strip() == res.display_name.strip():
                raise FailedPrecondition(f"playbook {request.name} is the agent's start playbook and cannot be deleted")
            users = playbook_references.playbooks_naming(located.record.package, REFERENCE_KEY, res.display_name)
            users = [p for p in users if p is not res]
            if users:
                raise FailedPrecondition(
                    f"playbook {request.name} ({res.display_name!r}) is referenced by playbook(s) "
                    f"{', '.join(repr(p.display_name) for p in users)}"
                )
            resource_versions.forget(located.record, res)

        return self.delete(request.name, False, refuse_start_playbook)

    # --- versions -------------------------------------------------------------------------------
    def _playbook(self, record: AgentRecord, path: ResourcePath) -> tuple[Located, Resource]:
        located = locate(record, PLAYBOOK, ResourcePath(path.project, path.location, path.agent_id, ()))
        return located, find(located, PLAYBOOK, path.segments[0][1])

    def _version_message(self, located: Located, res: Resource, version_id: str, entry: dict[str, Any]) -> Any:
        saved = resource_versions.as_resource(res, entry)
        language = located.record.package.default_language
        refs = References(located.record)
        playbook_name = resources.resource_name(located, PLAYBOOK, res)
        message = PlaybookVersion(
            name=f"{playbook_name}/versions/{version_id}",
            description=entry.get("description", ""),
            playbook=resources.message_of(located, PLAYBOOK, saved, language, refs),
            examples=example_messages(refs, playbook_name, saved, ""),
        )
        message.playbook.name = playbook_name
        message.update_time.FromNanoseconds(int(entry["createTime"] * 1e9))
        return message

    @rpc(playbook_types.CreatePlaybookVersionRequest, playbook_types.PlaybookVersion)
    def create_playbook_version(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, ("playbooks",), "playbook")
        with self.backend.store.write(path.agent_name, content=False) as record:
            located, res = self._playbook(record, path)
            fields = {"description": request.playbook_version.description}
            version_id, entry = resource_versions.create(record, res, fields)
            return self._version_message(located, res, version_id, entry)

    @rpc(playbook_types.ListPlaybookVersionsRequest, playbook_types.ListPlaybookVersionsResponse)
    def list_playbook_versions(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, ("playbooks",), "playbook")
        with self.backend.store.read(path.agent_name) as record:
            located, res = self._playbook(record, path)
            page, token = paginate(resource_versions.listed(record, res), request.page_size, request.page_token)
            versions = [self._version_message(located, res, vid, entry) for vid, entry in page]
        return pb(playbook_types.ListPlaybookVersionsResponse)(playbook_versions=versions, next_page_token=token)

    @rpc(playbook_types.GetPlaybookVersionRequest, playbook_types.PlaybookVersion)
    def get_playbook_version(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("playbooks", "versions"), "playbook version")
        with self.backend.store.read(path.agent_name) as record:
            located, res = self._playbook(record, path)
            version_id = path.segments[1][1]
            entry = resource_versions.get(record, res, version_id, request.name)
            return self._version_message(located, res, version_id, entry)

    @rpc(playbook_types.DeletePlaybookVersionRequest, empty_pb2.Empty)
    def delete_playbook_version(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("playbooks", "versions"), "playbook version")
        with self.backend.store.write(path.agent_name, content=False) as record:
            _, res = self._playbook(record, path)
            resource_versions.delete(record, res, path.segments[1][1], request.name)
        return empty_pb2.Empty()

    @rpc(playbook_types.RestorePlaybookVersionRequest, playbook_types.RestorePlaybookVersionResponse)
    def restore_playbook_version(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("playbooks", "versions"), "playbook version")
        with self.backend.store.write(path.agent_name) as record:
            located, res = self._playbook(record, path)
            entry = resource_versions.get(record, res, path.segments[1][1], request.name)
            resource_versions.restore(res, entry)
            playbook = resources.message_of(located, PLAYBOOK, res, record.package.default_language)
        return pb(playbook_types.RestorePlaybookVersionResponse)(playbook=playbook)


SERVICES = [PlaybooksService]
