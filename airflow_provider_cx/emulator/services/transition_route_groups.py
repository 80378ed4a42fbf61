"""google.cloud.dialogflow.cx.v3.TransitionRouteGroups: agent-level and flow-level route groups."""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import transition_route_group as group_types
from google.protobuf import empty_pb2

from airflow_provider_cx.emulator.resources import Kind
from airflow_provider_cx.emulator.rpc import pb, rpc
from airflow_provider_cx.emulator.services.crud import ResourceService

ROUTE_GROUP = Kind(
    "transition route group",
    "transitionRouteGroups",
    pb(group_types.TransitionRouteGroup),
    reference_key="transitionRouteGroups",
)


class TransitionRouteGroupsService(ResourceService):
    SERVICE = "google.cloud.dialogflow.cx.v3.TransitionRouteGroups"
    KIND = ROUTE_GROUP
    NAME_SHAPES = (("flows", "transitionRouteGroups"), ("transitionRouteGroups",))
    PARENT_SHAPES = (("flows",), ())

    @rpc(group_types.ListTransitionRouteGroupsRequest, group_types.ListTransitionRouteGroupsResponse)
    def list_transition_route_groups(self, request: Any, context: grpc.ServicerContext) -> Any:
        items, token = self.list_page(request.parent, request.page_size, request.page_token, request.language_code)
        return pb(group_types.ListTransitionRouteGroupsResponse)(transition_route_groups=items, next_page_token=token)

    @rpc(group_types.GetTransitionRouteGroupRequest, group_types.TransitionRouteGroup)
    def get_transition_route_group(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.get(request.name, request.language_code)

    @rpc(group_types.CreateTransitionRouteGroupRequest, group_types.TransitionRouteGroup)
    def create_transition_route_group(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.create(request.parent, request.transition_route_group, request.language_code)

    @rpc(group_types.UpdateTransitionRouteGroupRequest, group_types.TransitionRouteGroup)
    def update_transition_route_group(self, request: Any, context: grpc.ServicerContext) -> Any:
        mask = request.update_mask if request.HasField("update_mask") else None
        return self.update(request.transition_route_group, mask, request.language_code)

    @rpc(group_types.DeleteTransitionRouteGroupRequest, empty_pb2.Empty)
    def delete_transition_route_group(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.delete(request.name, request.force)


SERVICES = [TransitionRouteGroupsService]
