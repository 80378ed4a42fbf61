"""google.cloud.dialogflow.cx.v3.EntityTypes: entity type CRUD; entities are per language."""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import entity_type as entity_types
from google.protobuf import empty_pb2

from airflow_provider_cx.emulator.resources import Kind
from airflow_provider_cx.emulator.rpc import pb, rpc
from airflow_provider_cx.emulator.services.crud import ResourceService
from airflow_provider_cx.emulator.services.nlu_io import EntityTypeTransferRpcs

ENTITY_TYPE = Kind(
    "entity type",
    "entityTypes",
    pb(entity_types.EntityType),
    language_folder="entities",
    language_fields=("entities", "excludedPhrases"),
    reference_key="entityType",
)


class EntityTypesService(EntityTypeTransferRpcs, ResourceService):
    SERVICE = "google.cloud.dialogflow.cx.v3.EntityTypes"
    KIND = ENTITY_TYPE
    NAME_SHAPES = (("entityTypes",),)
    PARENT_SHAPES = ((),)

    @rpc(entity_types.ListEntityTypesRequest, entity_types.ListEntityTypesResponse)
    def list_entity_types(self, request: Any, context: grpc.ServicerContext) -> Any:
        items, token = self.list_page(request.parent, request.page_size, request.page_token, request.language_code)
        return pb(entity_types.ListEntityTypesResponse)(entity_types=items, next_page_token=token)

    @rpc(entity_types.GetEntityTypeRequest, entity_types.EntityType)
    def get_entity_type(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.get(request.name, request.language_code)

    @rpc(entity_types.CreateEntityTypeRequest, entity_types.EntityType)
    def create_entity_type(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.create(request.parent, request.entity_type, request.language_code)

    @rpc(entity_types.UpdateEntityTypeRequest, entity_types.EntityType)
    def update_entity_type(self, request: Any, context: grpc.ServicerContext) -> Any:
        mask = request.update_mask if request.HasField("update_mask") else None
        return self.update(request.entity_type, mask, request.language_code)

    @rpc(entity_types.DeleteEntityTypeRequest, empty_pb2.Empty)
    def delete_entity_type(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.delete(request.name, request.force)


SERVICES = [EntityTypesService]
