"""google.cloud.dialogflow.cx.v3.SecuritySettingsService: security settings of a location.

Security settings belong to a location, not to an agent, so they are kept by this servicer (in
memory: a data directory does not keep them across a restart). Agents name them in
``security_settings``; settings an agent of the location still names cannot be deleted.
"""

from __future__ import annotations

import re
import threading
import uuid
from typing import TYPE_CHECKING, Any

import grpc
from google.cloud.dialogflowcx_v3.types import security_settings as settings_types
from google.protobuf import empty_pb2, json_format

from airflow_provider_cx.emulator.convert import mask_paths, merge_update
from airflow_provider_cx.emulator.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from airflow_provider_cx.emulator.names import parse_location
from airflow_provider_cx.emulator.rpc import Service, paginate, pb, rpc

if TYPE_CHECKING:
    from airflow_provider_cx.emulator.backend import Backend

SecuritySettings = pb(settings_types.SecuritySettings)
_NAME = re.compile(r"^(projects/[^/]+/locations/[^/]+)/securitySettings/([^/]+)$")
JSON = Any


def split_name(name: str) -> tuple[str, str]:
    """``projects/P/locations/L/securitySettings/S`` -> (location name, settings id)."""
    match = _NAME.match(name or "")
    if match is None:
        raise InvalidArgument(
            f"{name!r} is not a valid security settings name; "
            "expected projects/<project>/locations/<location>/securitySettings/<id>"
        )
    parse_location(match[1])
    return match[1], match[2]


class SecuritySettingsService(Service):
    SERVICE = "google.cloud.dialogflow.cx.v3.SecuritySettingsService"

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        self._lock = threading.Lock()
        self._settings: dict[str, dict[str, dict[str, JSON]]] = {}  # location -> id -> JSON

    def _located(self, name: str) -> tuple[dict[str, dict[str, JSON]], str]:
        location, ident = split_name(name)
        by_id = self._settings.get(location, {})
        if ident not in by_id:
            raise NotFound(f"security settings {name} not found")
        return by_id, ident

    @staticmethod
    def _message(name: str, data: dict[str, JSON]) -> Any:
        message = SecuritySettings()
        json_format.ParseDict(data, message, ignore_unknown_fields=True)
        message.name = name
        return message

    @rpc(settings_types.ListSecuritySettingsRequest, settings_types.ListSecuritySettingsResponse)
    def list_security_settings(self, request: Any, context: grpc.ServicerContext) -> Any:
        parse_location(request.parent)
        with self._lock:
            items = list(self._settings.get(request.parent, {}).items())
        page, token = paginate(items, request.page_size, request.page_token)
        messages = [self._message(f"{request.parent}/securitySettings/{i}", d) for i, d in page]
        return pb(settings_types.ListSecuritySettingsResponse)(security_settings=messages, next_page_token=token)

    @rpc(settings_types.GetSecuritySettingsRequest, settings_types.SecuritySettings)
    def get_security_settings(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            by_id, ident = self._located(request.name)
            return self._message(request.name, by_id[ident])

    @rpc(settings_types.CreateSecuritySettingsRequest, settings_types.SecuritySettings)
    def create_security_settings(self, request: Any, context: grpc.ServicerContext) -> Any:
        parse_location(request.parent)
        display = request.security_settings.display_name
        if not display.strip():
            raise InvalidArgument("cannot create security settings: display_name must be set")
        data = json_format.MessageToDict(request.security_settings)
        data.pop("name", None)
        with self._lock:
            by_id = self._settings.setdefault(request.parent, {})
            if any(str(d.get("displayName", "")).strip() == display.strip() for d in by_id.values()):
                raise AlreadyExists(f"security settings {display!r} already exist in {request.parent}")
            ident = str(uuid.uuid4())
            by_id[ident] = data
            return self._message(f"{request.parent}/securitySettings/{ident}", data)

    @rpc(settings_types.UpdateSecuritySettingsRequest, settings_types.SecuritySettings)
    def update_security_settings(self, request: Any, context: grpc.ServicerContext) -> Any:
        name = request.security_settings.name
        mask = request.update_mask if request.HasField("update_mask") else None
        paths = mask_paths(mask, SecuritySettings.DESCRIPTOR, "SecuritySettings")
        with self._lock:
            by_id, ident = self._located(name)
            raw = by_id[ident]
            norm = json_format.MessageToDict(self._message("", raw))
            norm.pop("name", None)
            merged = merge_update(
                raw, norm, json_format.MessageToDict(request.security_settings), SecuritySettings.DESCRIPTOR, paths
            )
            if not str(merged.get("displayName", "")).strip():
                raise InvalidArgument(f"security settings {name}: display_name must not be empty")
            by_id[ident] = merged
            return self._message(name, merged)

    @rpc(settings_types.DeleteSecuritySettingsRequest, empty_pb2.Empty)
    def delete_security_settings(self, request: Any, context: grpc.ServicerContext) -> Any:
        location, _ = split_name(request.name)
        project, loc = parse_location(location)
        users = [
            r.display_name
            for r in self.backend.store.list(project, loc)
            if r.package.agent.get("securitySettings") == request.name
        ]
        if users:
            raise FailedPrecondition(
                f"security settings {request.name} are used by agent(s) {', '.join(map(repr, users))}"
            )
        with self._lock:
            by_id, ident = self._located(request.name)
            del by_id[ident]
        return empty_pb2.Empty()


SERVICES = [SecuritySettingsService]
