"""The standard List/Get/Create/Update/Delete RPCs of one resource kind, over :mod:`..resources`.

Flows, pages, intents, entity types, transition route groups and webhooks are served by a
:class:`ResourceService` subclass each: it names the kind and its name shapes and declares the
RPCs, which parse the request and call the package CRUD in ``resources.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import empty_pb2

from airflow_provider_cx.emulator.convert import References
from airflow_provider_cx.emulator.names import ResourcePath, parse_any
from airflow_provider_cx.emulator.resources import (
    Kind,
    Located,
    create,
    delete,
    find,
    language_of,
    locate,
    message_of,
    update,
)
from airflow_provider_cx.emulator.rpc import Service, paginate
from airflow_provider_cx.package import Resource


class ResourceService(Service):
    """The standard List/Get/Create/Update/Delete of one kind; subclasses declare the RPCs."""

    KIND: Kind
    NAME_SHAPES: tuple[tuple[str, ...], ...]  # shapes of a resource name below the agent
    PARENT_SHAPES: tuple[tuple[str, ...], ...]  # shapes of a parent name below the agent (() = the agent)

    def _parent(self, parent: str) -> ResourcePath:
        return parse_any(parent, list(self.PARENT_SHAPES), f"{self.KIND.what} parent")

    def _name(self, name: str) -> ResourcePath:
        return parse_any(name, list(self.NAME_SHAPES), self.KIND.what)

    def _parent_of(self, path: ResourcePath) -> ResourcePath:
        return ResourcePath(path.project, path.location, path.agent_id, path.segments[:-1])

    def list_page(self, parent: str, page_size: int, page_token: str, language_code: str = "") -> tuple[list[Any], str]:
        path = self._parent(parent)
        with self.backend.store.read(path.agent_name) as record:
            located = locate(record, self.KIND, path)
            language = language_of(record, language_code)
            refs = References(record)
            items, token = paginate(located.items, page_size, page_token)
            return [message_of(located, self.KIND, r, language, refs) for r in items], token

    def get(self, name: str, language_code: str = "") -> Any:
        path = self._name(name)
        with self.backend.store.read(path.agent_name) as record:
            located = locate(record, self.KIND, self._parent_of(path))
            res = find(located, self.KIND, path.segments[-1][1])
            return message_of(located, self.KIND, res, language_of(record, language_code))

    def create(self, parent: str, message: Any, language_code: str = "", defaults: Any = None) -> Any:
        path = self._parent(parent)
        with self.backend.store.write(path.agent_name) as record:
            located = locate(record, self.KIND, path)
            language = language_of(record, language_code)
            extra = defaults(record, language) if callable(defaults) else defaults
            res = create(located, self.KIND, message, language, extra)
            return message_of(located, self.KIND, res, language)

    def update(self, message: Any, update_mask: Any, language_code: str = "") -> Any:
        path = self._name(message.name)
        with self.backend.store.write(path.agent_name) as record:
            located = locate(record, self.KIND, self._parent_of(path))
            res = find(located, self.KIND, path.segments[-1][1])
            language = language_of(record, language_code)
            update(located, self.KIND, res, message, update_mask, language)
            return message_of(located, self.KIND, res, language)

    def delete(self, name: str, force: bool = False, check: Callable[[Located, Resource], None] | None = None) -> Any:
        path = self._name(name)
        with self.backend.store.write(path.agent_name) as record:
            located = locate(record, self.KIND, self._parent_of(path))
            res = find(located, self.KIND, path.segments[-1][1])
            if check is not None:
                check(located, res)
            delete(located, self.KIND, res, force)
        return empty_pb2.Empty()
