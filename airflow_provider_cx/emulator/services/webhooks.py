"""google.cloud.dialogflow.cx.v3.Webhooks: webhook CRUD."""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import webhook as webhook_types
from google.protobuf import empty_pb2

from airflow_provider_cx.emulator.resources import Kind
from airflow_provider_cx.emulator.rpc import pb, rpc
from airflow_provider_cx.emulator.services.crud import ResourceService

WEBHOOK = Kind("webhook", "webhooks", pb(webhook_types.Webhook), reference_key="webhook")


class WebhooksService(ResourceService):
    SERVICE = "google.cloud.dialogflow.cx.v3.Webhooks"
    KIND = WEBHOOK
    NAME_SHAPES = (("webhooks",),)
    PARENT_SHAPES = ((),)

    @rpc(webhook_types.ListWebhooksRequest, webhook_types.ListWebhooksResponse)
    def list_webhooks(self, request: Any, context: grpc.ServicerContext) -> Any:
        items, token = self.list_page(request.parent, request.page_size, request.page_token)
        return pb(webhook_types.ListWebhooksResponse)(webhooks=items, next_page_token=token)

    @rpc(webhook_types.GetWebhookRequest, webhook_types.Webhook)
    def get_webhook(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.get(request.name)

    @rpc(webhook_types.CreateWebhookRequest, webhook_types.Webhook)
    def create_webhook(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.create(request.parent, request.webhook)

    @rpc(webhook_types.UpdateWebhookRequest, webhook_types.Webhook)
    def update_webhook(self, request: Any, context: grpc.ServicerContext) -> Any:
        mask = request.update_mask if request.HasField("update_mask") else None
        return self.update(request.webhook, mask)

    @rpc(webhook_types.DeleteWebhookRequest, empty_pb2.Empty)
    def delete_webhook(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.delete(request.name, request.force)


SERVICES = [WebhooksService]
