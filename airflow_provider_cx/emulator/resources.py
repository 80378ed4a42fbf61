"""CRUD of the resources inside an agent package, shared by the flows, pages, intents… services.

A :class:`Kind` describes one resource type: the collection it lives in, its proto message, and
which of its fields are per language (an intent's training phrases live in
``trainingPhrases/<lang>.json``, an entity type's entities in ``entities/<lang>.json``). The
functions here find, view, create, update, rename and delete resources of any kind, and keep the
package's display-name references consistent: a rename rewrites the references to the old name, a
forced delete clears them the way Dialogflow CX documents, an unforced delete of a referenced
resource is FAILED_PRECONDITION.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_cx.emulator.convert import (
    References,
    from_message,
    mask_paths,
    merge_update,
    normalise,
    to_message,
)
from airflow_provider_cx.emulator.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from airflow_provider_cx.emulator.names import ResourcePath
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import Flow, Resource, encode_stem, new_id

JSON = Any


@dataclass(frozen=True)
class Kind:
    what: str  # for messages: "page", "entity type"
    collection: str  # name segment and package collection: "pages", "entityTypes"
    message: Any  # the protobuf class
    language_folder: str | None = None  # "trainingPhrases" -> trainingPhrases/<lang>.json
    language_fields: tuple[str, ...] = ()  # fields of the message kept in that per-language file
    reference_key: str | None = None  # the key other resources use to name this kind


@dataclass
class Located:
    """Where a kind's resources live for one parent: the list, and the flow when they are flow-scoped."""

    record: AgentRecord
    items: list[Resource]
    flow: Flow | None
    parent: str


# --- locating -------------------------------------------------------------------------------------
def flow_by_id(record: AgentRecord, flow_id: str) -> Flow:
    for flow in record.package.flows:
        if flow.id == flow_id:
            return flow
    raise NotFound(f"flow {record.name}/flows/{flow_id} not found")


def locate(record: AgentRecord, kind: Kind, parent: ResourcePath) -> Located:
    """The list of ``kind`` under ``parent`` (an agent, or a flow for pages and flow route groups)."""
    flow_id = parent.id_of("flows")
    parent_name = parent.agent_name + (f"/flows/{flow_id}" if flow_id else "")
    if kind.collection == "flows":
        return Located(record, record.package.flows, None, parent_name)  # type: ignore[arg-type]
    if flow_id is not None:
        flow = flow_by_id(record, flow_id)
        items = flow.pages if kind.collection == "pages" else flow.route_groups
        return Located(record, items, flow, parent_name)
    return Located(record, record.package.resources(kind.collection), None, parent_name)


def find(located: Located, kind: Kind, ident: str) -> Resource:
    for res in located.items:
        if res.id == ident:
            return res
    raise NotFound(f"{kind.what} {located.parent}/{kind.collection}/{ident} not found")


def resource_name(located: Located, kind: Kind, res: Resource) -> str:
    return f"{located.parent}/{kind.collection}/{res.id}"


# --- views: the resource as one dict, language fields included --------------------------------------
def language_of(record: AgentRecord, language_code: str) -> str:
    language = language_code or record.package.default_language
    if language not in record.package.languages():
        raise InvalidArgument(
            f"language {language!r} is not enabled for agent {record.name}; "
            f"it supports {', '.join(record.package.languages())}"
        )
    return language


def view(kind: Kind, res: Resource, language: str) -> dict[str, JSON]:
    data = dict(res.data)
    if kind.language_folder:
        part = res.parts.get(f"{kind.language_folder}/{language}.json")
        for key in kind.language_fields:
            if isinstance(part, dict) and key in part:
                data[key] = part[key]
    return data


def store_view(kind: Kind, res: Resource, data: dict[str, JSON], language: str) -> None:
    data = dict(data)
    if kind.language_folder:
        path = f"{kind.language_folder}/{language}.json"
        part = dict(res.parts.get(path) or {})
        for key in kind.language_fields:
            values = data.pop(key, None)
            if values:
                part[key] = [_with_language(v, language) for v in values]
            else:
                part.pop(key, None)
        if any(part.get(key) for key in kind.language_fields):
            res.parts[path] = part
        else:
            res.parts.pop(path, None)
    res.data = data


def _with_language(value: JSON, language: str) -> JSON:
    # Exports tag every phrase/entity with its language; new ones get the tag too.
    if isinstance(value, dict) and "languageCode" not in value:
        return {**value, "languageCode": language}
    return value


def message_of(located: Located, kind: Kind, res: Resource, language: str, refs: References | None = None) -> Any:
    refs = refs or References(located.record)
    flow = res if isinstance(res, Flow) else located.flow
    message = to_message(view(kind, res, language), kind.message, refs, flow)
    message.name = resource_name(located, kind, res)
    return message


# --- create / update -----------------------------------------------------------------------------
def create(
    located: Located, kind: Kind, message: Any, language: str, defaults: dict[str, JSON] | None = None
) -> Resource:
    display = message.display_name
    if not display.strip():
        raise InvalidArgument(f"cannot create {kind.what}: display_name must be set")
    _check_unique(located, kind, display, None)
    refs = References(located.record)
    data = {"name": new_id(), **(defaults or {}), **from_message(message, refs)}
    data["name"] = data.get("name") or new_id()
    stem = _unique_stem(located.items, display, None)
    res: Resource = (
        Flow(kind.collection, stem, {}) if kind.collection == "flows" else Resource(kind.collection, stem, {})
    )
    store_view(kind, res, data, language)
    located.items.append(res)
    return res


def update(located: Located, kind: Kind, res: Resource, message: Any, update_mask: Any, language: str) -> None:
    paths = mask_paths(update_mask, kind.message.DESCRIPTOR, kind.message.DESCRIPTOR.name)
    refs = References(located.record)
    flow = res if isinstance(res, Flow) else located.flow
    raw = view(kind, res, language)
    norm = normalise(raw, kind.message, refs, flow)
    new = from_message(message, refs)
    merged = merge_update(raw, norm, new, kind.message.DESCRIPTOR, paths)
    old_display, new_display = res.display_name, str(merged.get("displayName", ""))
    if new_display != old_display:
        if not new_display.strip():
            raise InvalidArgument(f"{kind.what} {resource_name(located, kind, res)}: display_name must not be empty")
        _check_unique(located, kind, new_display, res)
        rename_references(located, kind, res, old_display, new_display)
        res.stem = _unique_stem(located.items, new_display, res)
    store_view(kind, res, merged, language)


def _check_unique(located: Located, kind: Kind, display: str, exclude: Resource | None) -> None:
    for other in located.items:
        if other is not exclude and other.display_name.strip() == display.strip():
            raise AlreadyExists(f"{kind.what} {display!r} already exists in {located.parent}")


def _unique_stem(items: list[Resource], display: str, exclude: Resource | None) -> str:
    taken = {r.stem.lower() for r in items if r is not exclude}
    base = encode_stem(display)
    stem, n = base, 1
    while stem.lower() in taken:
        n += 1
        stem = f"{base}_{n}"
    return stem


# --- references ----------------------------------------------------------------------------------
def _holders(located: Located, kind: Kind, res: Resource) -> Iterator[dict[str, JSON]]:
    """Every resource body that may refer to ``res``."""
    package = located.record.package
    page_scoped = kind.collection == "pages" or (kind.collection == "transitionRouteGroups" and located.flow)
    flows = [located.flow] if page_scoped and located.flow is not None else package.flows
    for flow in flows:
        yield flow.data
        for child in (*flow.pages, *flow.route_groups):
            yield child.data
    for group in package.route_groups:
        yield group.data
    if kind.collection == "entityTypes":
        for intent in package.intents:
            yield intent.data


def _matches(value: JSON, kind: Kind, display: str) -> bool:
    if not isinstance(value, str):
        return False
    if kind.collection == "entityTypes":
        return value.startswith("@") and value[1:].strip() == display.strip()
    return value.strip() == display.strip()


def _visit(obj: JSON, key: str, hit: Callable[[dict[str, JSON]], None], kind: Kind, display: str) -> int:
    count = 0
    if isinstance(obj, dict):
        value = obj.get(key)
        if _matches(value, kind, display) or (
            isinstance(value, list) and any(_matches(v, kind, display) for v in value)
        ):
            count += 1
            hit(obj)
        for item in list(obj.values()):
            count += _visit(item, key, hit, kind, display)
    elif isinstance(obj, list):
        for item in obj:
            count += _visit(item, key, hit, kind, display)
    return count


def count_references(located: Located, kind: Kind, res: Resource) -> int:
    key = kind.reference_key
    if key is None:
        return 0
    own = res.data
    return sum(
        _visit(holder, key, lambda _d: None, kind, res.display_name)
        for holder in _holders(located, kind, res)
        if holder is not own
    )


def rename_references(located: Located, kind: Kind, res: Resource, old: str, new: str) -> None:
    key = kind.reference_key
    if key is None:
        return
    replacement = "@" + new if kind.collection == "entityTypes" else new

    def rename(holder: dict[str, JSON]) -> None:
        value = holder[key]
        if isinstance(value, list):
            holder[key] = [replacement if _matches(v, kind, old) else v for v in value]
        else:
            holder[key] = replacement

    for holder in _holders(located, kind, res):
        _visit(holder, key, rename, kind, old)


def clear_references(located: Located, kind: Kind, res: Resource) -> None:
    """What a forced delete does to the resources that referred to ``res``."""
    key = kind.reference_key
    if key is None:
        return
    display = res.display_name

    def clear(holder: dict[str, JSON]) -> None:
        value = holder[key]
        if isinstance(value, list):
            holder[key] = [v for v in value if not _matches(v, kind, display)]
        elif kind.collection == "entityTypes":
            holder[key] = "@sys.any"
        else:
            del holder[key]
            if kind.collection == "webhooks":
                holder.pop("tag", None)

    if kind.collection == "entityTypes":
        for intent in located.record.package.intents:
            params = intent.data.get("parameters")
            if isinstance(params, list):
                intent.data["parameters"] = [p for p in params if not _matches(p.get("entityType"), kind, display)]
    for holder in _holders(located, kind, res):
        if holder is not res.data:
            _visit(holder, key, clear, kind, display)


def delete(located: Located, kind: Kind, res: Resource, force: bool, always_clear: bool = False) -> None:
    """Delete ``res``; refuse if something refers to it unless ``force`` (then clear the references)."""
    refs = count_references(located, kind, res)
    if refs and not (force or always_clear):
        raise FailedPrecondition(
            f"{kind.what} {resource_name(located, kind, res)} ({res.display_name!r}) is referenced "
            f"{refs} time(s); delete with force=true to remove it and clear those references"
        )
    if refs:
        clear_references(located, kind, res)
    located.items.remove(res)
