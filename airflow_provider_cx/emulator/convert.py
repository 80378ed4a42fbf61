"""Conversion between package JSON (the emulator's state) and API protos.

Package files and protos share field names (the proto JSON names), so conversion is mostly
``json_format``. What differs is how resources refer to each other: a package uses display names
(``"targetPage": "Payment"``, ``"entityType": "@size"``), the API uses resource names
(``projects/…/flows/F/pages/G``, ``projects/-/locations/-/agents/-/entityTypes/sys.date``).
:class:`References` rewrites one into the other for a given agent.

Updates never rebuild a stored resource from a proto: :func:`merge_update` merges the incoming
proto into the stored dict, so fields the proto does not know (and values the proto cannot tell from
their default) survive an API round trip untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import quote, unquote

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from airflow_provider_cx.emulator.api_version import as_caller, as_served, caller_descriptor, for_caller
from airflow_provider_cx.emulator.errors import InvalidArgument
from airflow_provider_cx.emulator.names import SPECIAL_PAGE_NAMES, SPECIAL_PAGES
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import AgentPackage, Flow, Resource

JSON = Any
# A reference that names nothing in the package keeps its display name inside the id segment, so a
# Get followed by an Update gives back exactly what was stored.
UNRESOLVED = "unresolved~"
SYSTEM_ENTITY_PREFIX = "projects/-/locations/-/agents/-/entityTypes/"
_DURATION = "google.protobuf.Duration"
_LEAF_MESSAGES = {
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
    "google.protobuf.Any",
    "google.protobuf.Duration",
    "google.protobuf.Timestamp",
    "google.protobuf.FieldMask",
}


class References:
    """Display-name <-> resource-name look-ups for one agent's package."""

    def __init__(self, record: AgentRecord) -> None:
        self.agent = record.name
        self.package: AgentPackage = record.package
        self._flows = _index(self.package.flows)
        self._intents = _index(self.package.intents)
        self._entity_types = _index(self.package.entity_types)
        self._webhooks = _index(self.package.webhooks)
        self._agent_groups = _index(self.package.route_groups)
        # .get, not resources(): a look-up must not add empty collections to the package.
        self._tools = _index(self.package.collections.get("tools", []))
        self._playbooks = _index(self.package.collections.get("playbooks", []))
        self._pages: dict[str, _Index] = {}
        self._flow_groups: dict[str, _Index] = {}

    # --- resource names of resources ---------------------------------------------------------
    def flow_name(self, flow: Resource) -> str:
        return f"{self.agent}/flows/{flow.id}"

    def page_name(self, flow: Resource, page: Resource) -> str:
        return f"{self.flow_name(flow)}/pages/{page.id}"

    def route_group_name(self, flow: Resource | None, group: Resource) -> str:
        parent = self.flow_name(flow) if flow is not None else self.agent
        return f"{parent}/transitionRouteGroups/{group.id}"

    def name_of(self, collection: str, res: Resource) -> str:
        return f"{self.agent}/{collection}/{res.id}"

    # --- display name -> resource name ---------------------------------------------------------
    def flow_ref(self, display: str) -> str:
        flow = self._flows.by_name(display)
        return self.flow_name(flow) if flow else f"{self.agent}/flows/{_unresolved(display)}"

    def page_ref(self, flow: Flow | None, display: str) -> str:
        if display in SPECIAL_PAGES:
            flow_id = flow.id if flow is not None else "-"
            return f"{self.agent}/flows/{flow_id}/pages/{SPECIAL_PAGES[display]}"
        candidates = [flow] if flow is not None else list(self.package.flows)
        for cand in candidates:
            page = self._page_index(cand).by_name(display)
            if page is not None:
                return self.page_name(cand, page)
        flow_id = flow.id if flow is not None else "-"
        return f"{self.agent}/flows/{flow_id}/pages/{_unresolved(display)}"

    def route_group_ref(self, flow: Flow | None, display: str) -> str:
        if flow is not None:
            group = self._flow_group_index(flow).by_name(display)
            if group is not None:
                return self.route_group_name(flow, group)
        group = self._agent_groups.by_name(display)
        if group is not None:
            return self.route_group_name(None, group)
        return f"{self.agent}/transitionRouteGroups/{_unresolved(display)}"

    def intent_ref(self, display: str) -> str:
        return self._simple_ref("intents", self._intents, display)

    def webhook_ref(self, display: str) -> str:
        return self._simple_ref("webhooks", self._webhooks, display)

    def tool_ref(self, display: str) -> str:
        return self._simple_ref("tools", self._tools, display)

    def playbook_ref(self, display: str) -> str:
        return self._simple_ref("playbooks", self._playbooks, display)

    def entity_type_ref(self, value: str) -> str:
        display = value[1:] if value.startswith("@") else value
        if display.startswith("sys."):
            return SYSTEM_ENTITY_PREFIX + display
        return self._simple_ref("entityTypes", self._entity_types, display)

    def _simple_ref(self, collection: str, index: _Index, display: str) -> str:
        res = index.by_name(display)
        return self.name_of(collection, res) if res else f"{self.agent}/{collection}/{_unresolved(display)}"

    # --- resource name -> display name ---------------------------------------------------------
    def flow_display(self, name: str) -> str:
        return self._display(name, "flows", self._flows, "flow")

    def page_display(self, name: str) -> str:
        flow_id, page_id = _segment(name, "flows"), _segment(name, "pages")
        if page_id is None:
            raise InvalidArgument(f"{name!r} is not a page name")
        if page_id in SPECIAL_PAGE_NAMES:
            return SPECIAL_PAGE_NAMES[page_id]
        if page_id.startswith(UNRESOLVED):
            return unquote(page_id[len(UNRESOLVED) :])
        flows = [self._flows.by_id(flow_id)] if flow_id and flow_id != "-" else list(self.package.flows)
        for flow in flows:
            page = self._page_index(flow).by_id(page_id) if flow else None
            if page is not None:
                return str(page.display_name)
        raise InvalidArgument(f"page {name} does not exist in agent {self.agent}")

    def route_group_display(self, name: str) -> str:
        group_id = _segment(name, "transitionRouteGroups")
        if group_id is None:
            raise InvalidArgument(f"{name!r} is not a transition route group name")
        if group_id.startswith(UNRESOLVED):
            return unquote(group_id[len(UNRESOLVED) :])
        flow_id = _segment(name, "flows")
        flow = self._flows.by_id(flow_id) if flow_id else None
        group = self._flow_group_index(flow).by_id(group_id) if flow else self._agent_groups.by_id(group_id)
        if group is None:
            raise InvalidArgument(f"transition route group {name} does not exist in agent {self.agent}")
        return str(group.display_name)

    def intent_display(self, name: str) -> str:
        return self._display(name, "intents", self._intents, "intent")

    def webhook_display(self, name: str) -> str:
        return self._display(name, "webhooks", self._webhooks, "webhook")

    def tool_display(self, name: str) -> str:
        return self._display(name, "tools", self._tools, "tool")

    def playbook_display(self, name: str) -> str:
        return self._display(name, "playbooks", self._playbooks, "playbook")

    def entity_type_display(self, name: str) -> str:
        if name.startswith("@"):
            return name
        ident = _segment(name, "entityTypes")
        if ident is not None and ident.startswith("sys."):
            return "@" + ident
        return "@" + self._display(name, "entityTypes", self._entity_types, "entity type")

    def _display(self, name: str, collection: str, index: _Index, what: str) -> str:
        ident = _segment(name, collection)
        if ident is None:
            raise InvalidArgument(f"{name!r} is not a{'n' if what[0] in 'aeiou' else ''} {what} name")
        if ident.startswith(UNRESOLVED):
            return unquote(ident[len(UNRESOLVED) :])
        res = index.by_id(ident)
        if res is None:
            raise InvalidArgument(f"{what} {name} does not exist in agent {self.agent}")
        return str(res.display_name)

    # --- per-flow indexes ---------------------------------------------------------------------
    def _page_index(self, flow: Flow) -> _Index:
        if flow.id not in self._pages:
            self._pages[flow.id] = _index(flow.pages)
        return self._pages[flow.id]

    def _flow_group_index(self, flow: Flow) -> _Index:
        if flow.id not in self._flow_groups:
            self._flow_groups[flow.id] = _index(flow.route_groups)
        return self._flow_groups[flow.id]


class _Index:
    def __init__(self, items: list[Resource]) -> None:
        self._by_id = {res.id: res for res in items}
        self._by_name: dict[str, Resource] = {}
        self._by_stripped: dict[str, Resource] = {}
        for res in items:
            self._by_name.setdefault(res.display_name, res)
            self._by_stripped.setdefault(res.display_name.strip(), res)

    def by_id(self, ident: str | None) -> Any:
        return self._by_id.get(ident or "")

    def by_name(self, display: str) -> Any:
        return self._by_name.get(display) or self._by_stripped.get(display.strip())


def _index(items: list[Any]) -> _Index:
    return _Index(items)


def _unresolved(display: str) -> str:
    return UNRESOLVED + quote(display, safe="")


def _segment(name: str, collection: str) -> str | None:
    parts = name.split("/")
    for i in range(len(parts) - 1):
        if parts[i] == collection:
            return parts[i + 1]
    return None


# --- reference rewriting ------------------------------------------------------------------------
def _rewrite(value: JSON, rules: dict[str, Callable[[str], str]]) -> JSON:
    """A copy of ``value`` with every string (or list of strings) under a rule's key rewritten."""
    if isinstance(value, dict):
        out: dict[str, JSON] = {}
        for key, item in value.items():
            rule = rules.get(key)
            if rule is not None and isinstance(item, str) and item:
                out[key] = rule(item)
            elif rule is not None and isinstance(item, list) and all(isinstance(x, str) for x in item):
                out[key] = [rule(x) for x in item]
            else:
                out[key] = _rewrite(item, rules)
        return out
    if isinstance(value, list):
        return [_rewrite(item, rules) for item in value]
    return value


def _to_names(refs: References, flow: Flow | None) -> dict[str, Callable[[str], str]]:
    return {
        "intent": refs.intent_ref,
        "targetPage": lambda v: refs.page_ref(flow, v),
        "targetFlow": refs.flow_ref,
        "webhook": refs.webhook_ref,
        "transitionRouteGroups": lambda v: refs.route_group_ref(flow, v),
        "entityType": refs.entity_type_ref,
        "startFlow": refs.flow_ref,
        # Playbooks name what they may call by display name in the package.
        "referencedTools": refs.tool_ref,
        "referencedPlaybooks": refs.playbook_ref,
        "referencedFlows": refs.flow_ref,
    }


def _to_displays(refs: References) -> dict[str, Callable[[str], str]]:
    return {
        "intent": refs.intent_display,
        "targetPage": refs.page_display,
        "targetFlow": refs.flow_display,
        "webhook": refs.webhook_display,
        "transitionRouteGroups": refs.route_group_display,
        "entityType": refs.entity_type_display,
        "startFlow": refs.flow_display,
        "referencedTools": refs.tool_display,
        "referencedPlaybooks": refs.playbook_display,
        "referencedFlows": refs.flow_display,
    }


# --- package dict <-> message -------------------------------------------------------------------
def to_message(data: dict[str, JSON], message_cls: type[Message], refs: References, flow: Flow | None = None) -> Any:
    """The API message for a package dict (references rewritten, unknown fields left out).

    Parsed with the caller's version of the message, so a v3beta1 caller gets its extra fields back
    (carried as unknown fields of the ``message_cls`` returned).
    """
    spoken = for_caller(message_cls)
    converted = durations_to_proto(_rewrite(data, _to_names(refs, flow)), _descriptor(spoken))
    converted.pop("name", None)
    message = spoken()
    try:
        json_format.ParseDict(converted, message, ignore_unknown_fields=True)
    except json_format.ParseError as err:
        what = f"{message_cls.DESCRIPTOR.name} {data.get('displayName')!r}"
        raise InvalidArgument(f"stored {what} is malformed: {err}") from err
    return as_served(message, message_cls)


def from_message(message: Message, refs: References) -> dict[str, JSON]:
    """The package dict for an API message (references as display names, no ``name``)."""
    message = as_caller(message)
    data = _durations_to_package(json_format.MessageToDict(message), _descriptor(message))
    data.pop("name", None)
    rewritten: dict[str, JSON] = _rewrite(data, _to_displays(refs))
    return rewritten


def _descriptor(message: Message | type[Message]) -> Descriptor:
    # The upb runtime's descriptor class is not the pure-Python one the stubs name; same interface.
    return cast(Descriptor, message.DESCRIPTOR)


def normalise(data: dict[str, JSON], message_cls: type[Message], refs: References, flow: Flow | None) -> JSON:
    """What a stored dict looks like after a trip through the API (the baseline for merges)."""
    return from_message(to_message(data, message_cls, refs, flow), refs)


# --- package JSON dialect: {"seconds": 5} durations and [{"key", "value"}] maps -------------------
def durations_to_proto(value: JSON, descriptor: Descriptor) -> JSON:
    """Package JSON in proto JSON form (durations as "5s", maps as objects), ready for ``ParseDict``."""
    return _adapt(value, descriptor, to_proto=True)


def _durations_to_package(value: JSON, descriptor: Descriptor) -> JSON:
    return _adapt(value, descriptor, to_proto=False)


def _adapt(value: JSON, descriptor: Descriptor, to_proto: bool) -> JSON:
    if not isinstance(value, dict):
        return value
    fields = _json_fields(descriptor)
    out = {}
    for key, item in value.items():
        field = fields.get(key)
        sub = field.message_type if field is not None else None
        if sub is None or (sub.full_name in _LEAF_MESSAGES and sub.full_name != _DURATION):
            out[key] = item
        elif sub.GetOptions().map_entry:
            out[key] = _map_to_proto(item) if to_proto else _map_to_package(item)
        elif sub.full_name == _DURATION:
            convert = _duration_text if to_proto else _duration_object
            out[key] = [convert(x) for x in item] if isinstance(item, list) else convert(item)
        elif isinstance(item, list):
            out[key] = [_adapt(x, sub, to_proto) for x in item]
        else:
            out[key] = _adapt(item, sub, to_proto)
    return out


def _map_to_proto(value: JSON) -> JSON:
    if isinstance(value, list) and all(isinstance(x, dict) and "key" in x for x in value):
        return {x["key"]: x.get("value") for x in value}
    return value


def _map_to_package(value: JSON) -> JSON:
    if isinstance(value, dict):
        return [{"key": k, "value": v} for k, v in value.items()]
    return value


def _duration_text(value: JSON) -> JSON:
    if not isinstance(value, dict):
        return value
    seconds, nanos = int(value.get("seconds", 0) or 0), int(value.get("nanos", 0) or 0)
    return f"{seconds}.{nanos:09d}s" if nanos else f"{seconds}s"


def _duration_object(value: JSON) -> JSON:
    if not isinstance(value, str) or not value.endswith("s"):
        return value
    whole, _, frac = value[:-1].partition(".")
    out: dict[str, int] = {"seconds": int(whole)}
    if frac:
        out["nanos"] = int(frac.ljust(9, "0")[:9])
    return out


# --- update merging -----------------------------------------------------------------------------
def mask_paths(update_mask: Any, descriptor: Descriptor, what: str) -> list[list[str]] | None:
    """The update mask's paths as lists of JSON names; None when the mask is empty (update all)."""
    if update_mask is None or not update_mask.paths:
        return None
    descriptor = caller_descriptor(descriptor)
    paths = []
    for path in update_mask.paths:
        if path == "*":
            return None
        desc: Descriptor | None = descriptor
        json_path = []
        for part in path.split("."):
            field = desc.fields_by_name.get(part) if desc is not None else None
            if field is None:
                raise InvalidArgument(f"update_mask names {path!r}, which is not a field of {what}")
            json_path.append(field.json_name)
            desc = field.message_type
        paths.append(json_path)
    return paths


def merge_update(
    raw: dict[str, JSON],
    norm: dict[str, JSON],
    new: dict[str, JSON],
    descriptor: Descriptor,
    paths: list[list[str]] | None,
    protected: tuple[str, ...] = ("name",),
) -> dict[str, JSON]:
    """``raw`` updated with ``new`` (both package dicts): whole resource, or only the masked paths.

    ``norm`` is ``raw`` after an API round trip; wherever ``new`` still equals it the stored value is
    kept verbatim, so unknown fields and formatting survive.
    """
    descriptor = caller_descriptor(descriptor)
    if paths is None:
        merged = _merge_message(raw, norm, new, descriptor)
    else:
        merged = copy.deepcopy(raw)
        for path in paths:
            _merge_path(merged, norm, new, descriptor, path)
    for key in protected:
        if key in raw:
            merged[key] = raw[key]
        else:
            merged.pop(key, None)
    result: dict[str, JSON] = merged
    return result


def _merge_path(
    target: dict[str, JSON], norm: dict[str, JSON], new: dict[str, JSON], descriptor: Descriptor, path: list[str]
) -> None:
    key, rest = path[0], path[1:]
    field = _json_fields(descriptor).get(key)
    if rest and field is not None and field.message_type is not None and not field.is_repeated:
        child_new: dict[str, JSON] = new[key] if isinstance(new.get(key), dict) else {}
        child_norm: dict[str, JSON] = norm[key] if isinstance(norm.get(key), dict) else {}
        child = target.setdefault(key, {})
        if not isinstance(child, dict):
            child = target[key] = {}
        _merge_path(child, child_norm, child_new, field.message_type, rest)
        return
    if key in new:
        target[key] = _merge_field(target.get(key), norm.get(key), new[key], field)
    elif key in target and (key in norm or field is None):
        del target[key]


def _json_fields(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    return {field.json_name: field for field in descriptor.fields}


def _merge_message(raw: JSON, norm: JSON, new: JSON, descriptor: Descriptor) -> JSON:
    if norm == new:
        return raw
    if not isinstance(raw, dict) or not isinstance(new, dict):
        return new
    norm = norm if isinstance(norm, dict) else {}
    fields = _json_fields(descriptor)
    out: dict[str, JSON] = {}
    for key, old in raw.items():
        field = fields.get(key)
        if field is None:
            out[key] = old  # unknown to the proto: keep
        elif key in new:
            out[key] = _merge_field(old, norm.get(key), new[key], field)
        elif key not in norm:
            out[key] = old  # a default value the proto cannot distinguish from unset
    for key, value in new.items():
        if key not in raw:
            out[key] = value
    return out


def _merge_field(raw: JSON, norm: JSON, new: JSON, field: FieldDescriptor | None) -> JSON:
    if norm == new:
        return raw
    if field is None or field.message_type is None or field.message_type.full_name in _LEAF_MESSAGES:
        return new
    if field.message_type.GetOptions().map_entry:
        return raw if _same_map(norm, new) else new
    if field.is_repeated:
        return _merge_list(raw, norm, new, field.message_type)
    return _merge_message(raw, norm, new, field.message_type)


def _same_map(left: JSON, right: JSON) -> bool:
    """Maps arrive in any order over the wire: compare them as sets of entries."""

    def entries(value: JSON) -> Any:
        if not isinstance(value, list):
            return value
        return sorted((json_key(x) for x in value), key=str)

    def json_key(entry: JSON) -> Any:
        return (entry.get("key"), repr(entry.get("value"))) if isinstance(entry, dict) else repr(entry)

    return bool(entries(left) == entries(right))


def _merge_list(raw: JSON, norm: JSON, new: JSON, descriptor: Descriptor) -> JSON:
    if not (isinstance(raw, list) and isinstance(norm, list) and isinstance(new, list)) or len(raw) != len(norm):
        return new
    used: set[int] = set()
    out = []
    for i, item in enumerate(new):
        match = next((j for j, old in enumerate(norm) if j not in used and old == item), None)
        if match is not None:
            used.add(match)
            out.append(raw[match])
        elif len(new) == len(raw) and i not in used:
            used.add(i)
            out.append(_merge_message(raw[i], norm[i], item, descriptor))
        else:
            out.append(item)
    return out
