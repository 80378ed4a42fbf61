"""Intents.Export/ImportIntents and EntityTypes.Export/ImportEntityTypes: wire side of ``nlu_transfer.py``.

Mixins of the Intents and EntityTypes servicers. Requests are checked (resource names, formats,
destinations, content) before the operation starts, so bad input fails the call and changes nothing.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import entity_type as entity_types
from google.cloud.dialogflowcx_v3.types import intent as intent_types
from google.longrunning import operations_pb2

from airflow_provider_cx.emulator import nlu_transfer
from airflow_provider_cx.emulator.errors import InvalidArgument
from airflow_provider_cx.emulator.names import ResourcePath, parse
from airflow_provider_cx.emulator.rpc import Service, pb, rpc
from airflow_provider_cx.package import AgentPackage

IntentFormat = intent_types.ExportIntentsRequest.DataFormat
EntityFormat = entity_types.ExportEntityTypesRequest.DataFormat


def _ids(parent: ResourcePath, names: list[str], collection: str, what: str) -> list[str]:
    if not names:
        raise InvalidArgument(f"name the {what}s to export")
    ids = []
    for name in names:
        path = parse(name, (collection,), what)
        if path.agent_name != parent.agent_name:
            raise InvalidArgument(f"{what} {name} does not belong to agent {parent.agent_name}")
        ids.append(path.segments[0][1])
    return ids


class _Transfer(Service):
    """What the two mixins share: checking a destination/source and running the operation."""

    def _export(
        self,
        parent: ResourcePath,
        collection: str,
        ids: list[str],
        as_zip: bool,
        uri: str,
        inline: bool,
        respond: Any,
        metadata: Any,
        keep_language: str = "",
    ) -> Any:
        if bool(uri) == bool(inline):
            raise InvalidArgument("set exactly one destination: a gs:// URI or inline content")
        if uri:
            self.backend.gcs.check(uri)
        store = self.backend.store
        with store.read(parent.agent_name) as record:
            nlu_transfer.export_resources(record.package, collection, ids, as_zip)

        def work() -> Any:
            with store.read(parent.agent_name) as record:
                package = record.package
                if keep_language:
                    package = _one_language(package, collection, ids, keep_language)
                content = nlu_transfer.export_resources(package, collection, ids, as_zip)
            if uri:
                self.backend.gcs.write(uri, content)
            return respond(content if not uri else None)

        return self.backend.start_operation(parent.project, parent.location, work, metadata)

    def _import(
        self,
        parent: ResourcePath,
        collection: str,
        what: str,
        uri: str,
        content: bytes | None,
        merge_option: int,
        respond: Any,
        metadata: Any,
    ) -> Any:
        data = self.backend.gcs.read(uri) if uri else content
        if not data:
            raise InvalidArgument(f"import into {parent.agent_name}: set a gs:// URI or inline content")
        incoming = nlu_transfer.read_content(data, what)
        store = self.backend.store
        with store.read(parent.agent_name) as record:
            nlu_transfer.plan_import(record.package, incoming, collection, merge_option)

        def work() -> Any:
            with store.write(parent.agent_name) as record:
                plan = nlu_transfer.plan_import(record.package, incoming, collection, merge_option)
                landed = nlu_transfer.apply_import(record.package, plan, merge_option)
                names = [f"{record.name}/{collection}/{res.id}" for res in landed]
            return respond(names, plan.conflicts)

        return self.backend.start_operation(parent.project, parent.location, work, metadata)


def _one_language(package: AgentPackage, collection: str, ids: list[str], language: str) -> AgentPackage:
    """A copy of ``package`` whose chosen resources keep only ``language``'s entity files."""
    out = package.copy()
    for res in out.resources(collection):
        if res.id in ids:
            res.parts = {
                p: v for p, v in res.parts.items() if not p.startswith("entities/") or p == f"entities/{language}.json"
            }
    return out


class IntentTransferRpcs(_Transfer):
    """ExportIntents/ImportIntents, mixed into the Intents servicer."""

    @rpc(intent_types.ExportIntentsRequest, operations_pb2.Operation)
    def export_intents(self, request: Any, context: grpc.ServicerContext) -> Any:
        parent = parse(request.parent, (), "agent")
        if request.data_format == IntentFormat.CSV:
            raise InvalidArgument("data_format CSV is not supported by the emulator; use BLOB or JSON")
        ids = _ids(parent, list(request.intents), "intents", "intent")

        def respond(content: bytes | None) -> Any:
            response = pb(intent_types.ExportIntentsResponse)()
            if content is None:
                response.intents_uri = request.intents_uri
            else:
                response.intents_content.content = content
            return response

        as_zip = request.data_format == IntentFormat.JSON
        metadata = pb(intent_types.ExportIntentsMetadata)()
        return self._export(
            parent, "intents", ids, as_zip, request.intents_uri, request.intents_content_inline, respond, metadata
        )

    @rpc(intent_types.ImportIntentsRequest, operations_pb2.Operation)
    def import_intents(self, request: Any, context: grpc.ServicerContext) -> Any:
        parent = parse(request.parent, (), "agent")

        def respond(names: list[str], conflicts: list[str]) -> Any:
            response = pb(intent_types.ImportIntentsResponse)(intents=names)
            response.conflicting_resources.intent_display_names.extend(conflicts)
            return response

        content = request.intents_content.content if request.HasField("intents_content") else None
        metadata = pb(intent_types.ImportIntentsMetadata)()
        return self._import(
            parent, "intents", "intent", request.intents_uri, content, request.merge_option, respond, metadata
        )


class EntityTypeTransferRpcs(_Transfer):
    """ExportEntityTypes/ImportEntityTypes, mixed into the EntityTypes servicer."""

    @rpc(entity_types.ExportEntityTypesRequest, operations_pb2.Operation)
    def export_entity_types(self, request: Any, context: grpc.ServicerContext) -> Any:
        parent = parse(request.parent, (), "agent")
        ids = _ids(parent, list(request.entity_types), "entityTypes", "entity type")

        def respond(content: bytes | None) -> Any:
            response = pb(entity_types.ExportEntityTypesResponse)()
            if content is None:
                response.entity_types_uri = request.entity_types_uri
            else:
                response.entity_types_content.content = content
            return response

        as_zip = request.data_format == EntityFormat.JSON_PACKAGE
        metadata = pb(entity_types.ExportEntityTypesMetadata)()
        return self._export(
            parent,
            "entityTypes",
            ids,
            as_zip,
            request.entity_types_uri,
            request.entity_types_content_inline,
            respond,
            metadata,
            request.language_code,
        )

    @rpc(entity_types.ImportEntityTypesRequest, operations_pb2.Operation)
    def import_entity_types(self, request: Any, context: grpc.ServicerContext) -> Any:
        parent = parse(request.parent, (), "agent")
        if request.target_entity_type:
            raise InvalidArgument("target_entity_type is not supported by the emulator; import whole entity types")

        def respond(names: list[str], conflicts: list[str]) -> Any:
            response = pb(entity_types.ImportEntityTypesResponse)(entity_types=names)
            response.conflicting_resources.entity_type_display_names.extend(conflicts)
            return response

        content = request.entity_types_content.content if request.HasField("entity_types_content") else None
        metadata = pb(entity_types.ImportEntityTypesMetadata)()
        return self._import(
            parent,
            "entityTypes",
            "entity type",
            request.entity_types_uri,
            content,
            request.merge_option,
            respond,
            metadata,
        )
