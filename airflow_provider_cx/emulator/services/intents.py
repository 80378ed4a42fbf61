"""google.cloud.dialogflow.cx.v3.Intents: intent CRUD; training phrases are per language."""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import intent as intent_types
from google.protobuf import empty_pb2

from airflow_provider_cx.emulator.resources import Kind
from airflow_provider_cx.emulator.rpc import pb, rpc
from airflow_provider_cx.emulator.services.crud import ResourceService
from airflow_provider_cx.emulator.services.nlu_io import IntentTransferRpcs

INTENT = Kind(
    "intent",
    "intents",
    pb(intent_types.Intent),
    language_folder="trainingPhrases",
    language_fields=("trainingPhrases",),
    reference_key="intent",
)
_PARTIAL = intent_types.IntentView.INTENT_VIEW_PARTIAL


class IntentsService(IntentTransferRpcs, ResourceService):
    SERVICE = "google.cloud.dialogflow.cx.v3.Intents"
    KIND = INTENT
    NAME_SHAPES = (("intents",),)
    PARENT_SHAPES = ((),)

    @rpc(intent_types.ListIntentsRequest, intent_types.ListIntentsResponse)
    def list_intents(self, request: Any, context: grpc.ServicerContext) -> Any:
        intents, token = self.list_page(request.parent, request.page_size, request.page_token, request.language_code)
        if request.intent_view == _PARTIAL:
            for intent in intents:
                del intent.training_phrases[:]
        return pb(intent_types.ListIntentsResponse)(intents=intents, next_page_token=token)

    @rpc(intent_types.GetIntentRequest, intent_types.Intent)
    def get_intent(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.get(request.name, request.language_code)

    @rpc(intent_types.CreateIntentRequest, intent_types.Intent)
    def create_intent(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.create(request.parent, request.intent, request.language_code)

    @rpc(intent_types.UpdateIntentRequest, intent_types.Intent)
    def update_intent(self, request: Any, context: grpc.ServicerContext) -> Any:
        mask = request.update_mask if request.HasField("update_mask") else None
        return self.update(request.intent, mask, request.language_code)

    @rpc(intent_types.DeleteIntentRequest, empty_pb2.Empty)
    def delete_intent(self, request: Any, context: grpc.ServicerContext) -> Any:
        # DeleteIntent has no force flag: routes that used the intent lose their intent trigger.
        return self.delete(request.name, force=True)


SERVICES = [IntentsService]
