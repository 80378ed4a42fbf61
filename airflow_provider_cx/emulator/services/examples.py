"""google.cloud.dialogflow.cx.v3.Examples: a playbook's examples, kept as files beside the playbook.

An export holds each example as ``playbooks/<playbook>/examples/<example>.json``; in the package
that is a file of the playbook resource (``parts["examples/<stem>.json"]``), so examples need no
collection of their own and travel with the playbook (and its versions).
"""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import example as example_types
from google.protobuf import empty_pb2

from airflow_provider_cx.emulator.convert import (
    References,
    from_message,
    mask_paths,
    merge_update,
    normalise,
    to_message,
)
from airflow_provider_cx.emulator.errors import AlreadyExists, InvalidArgument, NotFound
from airflow_provider_cx.emulator.names import ResourcePath, parse
from airflow_provider_cx.emulator.resources import Kind as _Kind
from airflow_provider_cx.emulator.resources import find, language_of, locate, resource_name
from airflow_provider_cx.emulator.rpc import Service, paginate, pb, rpc
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import Resource, encode_stem, new_id

Example = pb(example_types.Example)
FOLDER = "examples/"
# Only locate()/find() need the playbook kind here; its message is irrelevant to them.
_PLAYBOOKS = _Kind("playbook", "playbooks", Example)
JSON = Any


def example_files(playbook: Resource) -> list[tuple[str, dict[str, JSON]]]:
    """The playbook's example files, ``(path, body)`` in path order."""
    return sorted(
        (path, body)
        for path, body in playbook.parts.items()
        if path.startswith(FOLDER)
        and path.endswith(".json")
        and "/" not in path[len(FOLDER) :]
        and isinstance(body, dict)
    )


def example_id(path: str, body: dict[str, JSON]) -> str:
    return str(body.get("name") or path[len(FOLDER) : -len(".json")])


def example_message(refs: References, playbook_name: str, path: str, body: dict[str, JSON]) -> Any:
    message = to_message(body, Example, refs)
    message.name = f"{playbook_name}/examples/{example_id(path, body)}"
    return message


def example_messages(refs: References, playbook_name: str, playbook: Resource, language: str) -> list[Any]:
    return [
        example_message(refs, playbook_name, path, body)
        for path, body in example_files(playbook)
        if not language or body.get("languageCode", language) == language
    ]


class ExamplesService(Service):
    SERVICE = "google.cloud.dialogflow.cx.v3.Examples"

    def _playbook(self, record: AgentRecord, path: ResourcePath) -> tuple[str, Resource]:
        located = locate(record, _PLAYBOOKS, ResourcePath(path.project, path.location, path.agent_id, ()))
        playbook = find(located, _PLAYBOOKS, path.segments[0][1])
        return resource_name(located, _PLAYBOOKS, playbook), playbook

    def _find(self, playbook: Resource, ident: str, name: str) -> tuple[str, dict[str, JSON]]:
        for path, body in example_files(playbook):
            if example_id(path, body) == ident:
                return path, body
        raise NotFound(f"example {name} not found")

    @rpc(example_types.ListExamplesRequest, example_types.ListExamplesResponse)
    def list_examples(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, ("playbooks",), "playbook")
        with self.backend.store.read(path.agent_name) as record:
            language = language_of(record, request.language_code) if request.language_code else ""
            playbook_name, playbook = self._playbook(record, path)
            messages = example_messages(References(record), playbook_name, playbook, language)
        page, token = paginate(messages, request.page_size, request.page_token)
        return pb(example_types.ListExamplesResponse)(examples=page, next_page_token=token)

    @rpc(example_types.GetExampleRequest, example_types.Example)
    def get_example(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("playbooks", "examples"), "example")
        with self.backend.store.read(path.agent_name) as record:
            playbook_name, playbook = self._playbook(record, path)
            file, body = self._find(playbook, path.segments[1][1], request.name)
            return example_message(References(record), playbook_name, file, body)

    @rpc(example_types.CreateExampleRequest, example_types.Example)
    def create_example(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, ("playbooks",), "playbook")
        display = request.example.display_name
        if not display.strip():
            raise InvalidArgument("cannot create example: display_name must be set")
        with self.backend.store.write(path.agent_name) as record:
            playbook_name, playbook = self._playbook(record, path)
            self._check_unique(playbook, display, None)
            refs = References(record)
            body = {"name": new_id(), **from_message(request.example, refs)}
            body.setdefault("languageCode", language_of(record, request.example.language_code))
            file = self._free_path(playbook, display, None)
            playbook.parts[file] = body
            return example_message(refs, playbook_name, file, body)

    @rpc(example_types.UpdateExampleRequest, example_types.Example)
    def update_example(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.example.name, ("playbooks", "examples"), "example")
        mask = request.update_mask if request.HasField("update_mask") else None
        paths = mask_paths(mask, Example.DESCRIPTOR, "Example")
        with self.backend.store.write(path.agent_name) as record:
            playbook_name, playbook = self._playbook(record, path)
            file, raw = self._find(playbook, path.segments[1][1], request.example.name)
            refs = References(record)
            merged = merge_update(
                raw, normalise(raw, Example, refs, None), from_message(request.example, refs), Example.DESCRIPTOR, paths
            )
            new_display = str(merged.get("displayName", ""))
            if new_display != raw.get("displayName"):
                if not new_display.strip():
                    raise InvalidArgument(f"example {request.example.name}: display_name must not be empty")
                self._check_unique(playbook, new_display, file)
                del playbook.parts[file]
                file = self._free_path(playbook, new_display, file)
            playbook.parts[file] = merged
            return example_message(refs, playbook_name, file, merged)

    @rpc(example_types.DeleteExampleRequest, empty_pb2.Empty)
    def delete_example(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("playbooks", "examples"), "example")
        with self.backend.store.write(path.agent_name) as record:
            _, playbook = self._playbook(record, path)
            file, _ = self._find(playbook, path.segments[1][1], request.name)
            del playbook.parts[file]
        return empty_pb2.Empty()

    @staticmethod
    def _check_unique(playbook: Resource, display: str, exclude: str | None) -> None:
        for file, body in example_files(playbook):
            if file != exclude and str(body.get("displayName", "")).strip() == display.strip():
                raise AlreadyExists(f"example {display!r} already exists in playbook {playbook.display_name!r}")

    @staticmethod
    def _free_path(playbook: Resource, display: str, exclude: str | None) -> str:
        taken = {p.lower() for p in playbook.parts if p != exclude}
        base = encode_stem(display)
        stem, n = base, 1
        while f"{FOLDER}{stem}.json".lower() in taken:
            n += 1
            stem = f"{base}_{n}"
        return f"{FOLDER}{stem}.json"


SERVICES = [ExamplesService]
