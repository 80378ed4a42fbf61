"""google.cloud.dialogflow.cx.v3.Pages: page CRUD within a flow."""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import page as page_types
from google.protobuf import empty_pb2

from airflow_provider_cx.emulator.resources import Kind
from airflow_provider_cx.emulator.rpc import pb, rpc
from airflow_provider_cx.emulator.services.crud import ResourceService

PAGE = Kind("page", "pages", pb(page_types.Page), reference_key="targetPage")


class PagesService(ResourceService):
    SERVICE = "google.cloud.dialogflow.cx.v3.Pages"
    KIND = PAGE
    NAME_SHAPES = (("flows", "pages"),)
    PARENT_SHAPES = (("flows",),)

    @rpc(page_types.ListPagesRequest, page_types.ListPagesResponse)
    def list_pages(self, request: Any, context: grpc.ServicerContext) -> Any:
        pages, token = self.list_page(request.parent, request.page_size, request.page_token, request.language_code)
        return pb(page_types.ListPagesResponse)(pages=pages, next_page_token=token)

    @rpc(page_types.GetPageRequest, page_types.Page)
    def get_page(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.get(request.name, request.language_code)

    @rpc(page_types.CreatePageRequest, page_types.Page)
    def create_page(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.create(request.parent, request.page, request.language_code)

    @rpc(page_types.UpdatePageRequest, page_types.Page)
    def update_page(self, request: Any, context: grpc.ServicerContext) -> Any:
        mask = request.update_mask if request.HasField("update_mask") else None
        return self.update(request.page, mask, request.language_code)

    @rpc(page_types.DeletePageRequest, empty_pb2.Empty)
    def delete_page(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.delete(request.name, request.force)


SERVICES = [PagesService]
