"""google.cloud.dialogflow.cx.v3.Generators: generator CRUD over the package's generators/ folder.

An export keeps a generator's prompt per language beside it (``phrases/<lang>.json`` holding
``{"promptTexts": [{"text": …, "languageCode": …}]}``) while the API has one ``prompt_text`` per
call language. The prompt is moved into the body for the generic resource functions and back into
its language file afterwards, so every other key of that file survives an update.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import generator as generator_types
from google.protobuf import empty_pb2

from airflow_provider_cx.emulator import resources
from airflow_provider_cx.emulator.convert import References
from airflow_provider_cx.emulator.resources import Kind, Located, find, language_of, locate
from airflow_provider_cx.emulator.rpc import paginate, pb, rpc
from airflow_provider_cx.emulator.services.crud import ResourceService
from airflow_provider_cx.package import Resource

# Fulfillments name generators by resource name (id), not display name: renames need no rewriting.
GENERATOR = Kind("generator", "generators", pb(generator_types.Generator))
PROMPT = "promptText"
JSON = Any


def _part_path(language: str) -> str:
    return f"phrases/{language}.json"


def inline_view(res: Resource, language: str) -> Resource:
    """A copy of ``res`` whose body carries the prompt of ``language`` as ``promptText``."""
    data = dict(res.data)
    texts = _texts(res, language)
    if texts:
        data[PROMPT] = {"text": texts[0].get("text", "")}
    return Resource(res.collection, res.stem, data, res.parts)


def _texts(res: Resource, language: str) -> list[JSON]:
    part = res.parts.get(_part_path(language))
    texts = part.get("promptTexts") if isinstance(part, dict) else None
    return [t for t in texts if isinstance(t, dict)] if isinstance(texts, list) else []


def store_prompt(res: Resource, language: str) -> None:
    """Move ``promptText`` from the body back into the language file (the rest of it untouched)."""
    prompt = res.data.pop(PROMPT, None)
    text = prompt.get("text") if isinstance(prompt, dict) else None
    path = _part_path(language)
    part = dict(res.parts.get(path) or {})
    old = _texts(res, language)
    if text and old and old[0].get("text") == text:
        return  # unchanged: the file stays byte for byte as it was
    if text:
        first = {**(old[0] if old else {}), "text": text, "languageCode": language}
        part["promptTexts"] = [first, *old[1:]]
        res.parts[path] = part
    elif old:
        part.pop("promptTexts", None)
        if part:
            res.parts[path] = part
        else:
            res.parts.pop(path, None)


@contextmanager
def prompt_inline(res: Resource, language: str) -> Iterator[None]:
    """Hold the prompt in the body while the generic resource functions work on ``res``."""
    res.data = inline_view(res, language).data
    try:
        yield
    finally:
        store_prompt(res, language)


class GeneratorsService(ResourceService):
    SERVICE = "google.cloud.dialogflow.cx.v3.Generators"
    KIND = GENERATOR
    NAME_SHAPES = (("generators",),)
    PARENT_SHAPES = ((),)

    def _message(self, located: Located, res: Resource, language: str, refs: References | None = None) -> Any:
        return resources.message_of(located, GENERATOR, inline_view(res, language), language, refs)

    @rpc(generator_types.ListGeneratorsRequest, generator_types.ListGeneratorsResponse)
    def list_generators(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = self._parent(request.parent)
        with self.backend.store.read(path.agent_name) as record:
            located = locate(record, GENERATOR, path)
            language = language_of(record, request.language_code)
            refs = References(record)
            items, token = paginate(located.items, request.page_size, request.page_token)
            messages = [self._message(located, r, language, refs) for r in items]
        return pb(generator_types.ListGeneratorsResponse)(generators=messages, next_page_token=token)

    @rpc(generator_types.GetGeneratorRequest, generator_types.Generator)
    def get_generator(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = self._name(request.name)
        with self.backend.store.read(path.agent_name) as record:
            located = locate(record, GENERATOR, self._parent_of(path))
            res = find(located, GENERATOR, path.segments[-1][1])
            return self._message(located, res, language_of(record, request.language_code))

    @rpc(generator_types.CreateGeneratorRequest, generator_types.Generator)
    def create_generator(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = self._parent(request.parent)
        with self.backend.store.write(path.agent_name) as record:
            located = locate(record, GENERATOR, path)
            language = language_of(record, request.language_code)
            res = resources.create(located, GENERATOR, request.generator, language)
            store_prompt(res, language)
            return self._message(located, res, language)

    @rpc(generator_types.UpdateGeneratorRequest, generator_types.Generator)
    def update_generator(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = self._name(request.generator.name)
        mask = request.update_mask if request.HasField("update_mask") else None
        with self.backend.store.write(path.agent_name) as record:
            located = locate(record, GENERATOR, self._parent_of(path))
            res = find(located, GENERATOR, path.segments[-1][1])
            language = language_of(record, request.language_code)
            with prompt_inline(res, language):
                resources.update(located, GENERATOR, res, request.generator, mask, language)
            return self._message(located, res, language)

    @rpc(generator_types.DeleteGeneratorRequest, empty_pb2.Empty)
    def delete_generator(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.delete(request.name, request.force)


SERVICES = [GeneratorsService]
