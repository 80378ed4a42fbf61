"""Agents.GetGenerativeSettings / UpdateGenerativeSettings over the package's generativeSettings/<lang>.json.

A mixin of the Agents servicer. The settings of each language are one file of the export
(``generativeSettings/en.json``, kept as it is in the package's other files), so an update merges
into that file and everything the API does not know about survives.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import agent as agent_types
from google.cloud.dialogflowcx_v3.types import generative_settings as gs_types

from airflow_provider_cx.emulator.convert import References, from_message, mask_paths, merge_update, normalise
from airflow_provider_cx.emulator.convert import to_message as package_to_message
from airflow_provider_cx.emulator.names import parse_singleton
from airflow_provider_cx.emulator.resources import language_of
from airflow_provider_cx.emulator.rpc import Service, pb, rpc
from airflow_provider_cx.emulator.store import AgentRecord

GenerativeSettings = pb(gs_types.GenerativeSettings)
SUFFIX = "generativeSettings"


def settings_path(language: str) -> str:
    return f"{SUFFIX}/{language}.json"


def settings_message(record: AgentRecord, language: str) -> Any:
    stored = record.package.other_files.get(settings_path(language))
    data = dict(stored) if isinstance(stored, dict) else {}
    message = package_to_message(data, GenerativeSettings, References(record))
    message.name = f"{record.name}/{SUFFIX}"
    message.language_code = language
    return message


class GenerativeSettingsRpcs(Service):
    """Get/UpdateGenerativeSettings, mixed into the Agents servicer (same proto service)."""

    @rpc(agent_types.GetGenerativeSettingsRequest, gs_types.GenerativeSettings)
    def get_generative_settings(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse_singleton(request.name, (), SUFFIX, "generative settings")
        with self.backend.store.read(path.agent_name) as record:
            return settings_message(record, language_of(record, request.language_code))

    @rpc(agent_types.UpdateGenerativeSettingsRequest, gs_types.GenerativeSettings)
    def update_generative_settings(self, request: Any, context: grpc.ServicerContext) -> Any:
        incoming = request.generative_settings
        path = parse_singleton(incoming.name, (), SUFFIX, "generative settings")
        mask = request.update_mask if request.HasField("update_mask") else None
        paths = mask_paths(mask, GenerativeSettings.DESCRIPTOR, "GenerativeSettings")
        with self.backend.store.write(path.agent_name) as record:
            language = language_of(record, incoming.language_code)
            refs = References(record)
            stored = record.package.other_files.get(settings_path(language))
            raw = dict(stored) if isinstance(stored, dict) else {"languageCode": language}
            norm = normalise(raw, GenerativeSettings, refs, None)
            new = from_message(incoming, refs)
            new["languageCode"] = language
            merged = merge_update(
                raw, norm, new, GenerativeSettings.DESCRIPTOR, paths, protected=("name", "languageCode")
            )
            merged.setdefault("languageCode", language)
            record.package.other_files[settings_path(language)] = merged
            return settings_message(record, language)
