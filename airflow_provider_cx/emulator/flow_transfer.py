"""Flow export and import: one flow (and what it refers to) moved between agents as package content.

The content of an exported flow is the emulator's BLOB (``blob.py``) of a partial agent package: the
source's ``agent.json`` (for its languages), the flow with its pages and flow route groups, and every
intent, entity type, webhook and agent route group the flow refers to by display name; with
``include_referenced_flows`` also the flows it transitions to, transitively. A JSON-package zip of
the same shape is accepted on import too.

Import merges that content into an agent. The flow lands under its display name: a flow of the same
name is replaced in place (it keeps its id, so a start flow stays the start flow). The resources it
brought follow the request's import strategy when the agent already has one of the same display
name: CREATE_NEW (the default) adds it under ``<name>_<n>`` and points the imported references at
the new name, REPLACE swaps the content in (keeping the existing id), KEEP keeps the agent's own,
THROW_ERROR refuses. A resource with the same id and name as the agent's (the default intents every
agent has) is the same resource and is kept. MERGE is refused: the emulator does not merge bodies.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_cx.emulator.blob import decode_blob, encode_blob, is_blob
from airflow_provider_cx.emulator.errors import AlreadyExists, InvalidArgument, NotFound
from airflow_provider_cx.package import AgentPackage, Flow, Resource, encode_stem, new_id, read_package

JSON = Any
_ZIP_MAGIC = b"PK\x03\x04"
# Package keys that name another resource by display name, per collection.
_REFERENCE_KEYS = {
    "intents": ("intent",),
    "webhooks": ("webhook",),
    "transitionRouteGroups": ("transitionRouteGroups",),
    "entityTypes": ("entityType",),
    "flows": ("targetFlow",),
}
SHARED_COLLECTIONS = ("intents", "entityTypes", "webhooks", "transitionRouteGroups")

# google.cloud.dialogflow.cx.v3.ImportStrategy
CREATE_NEW, REPLACE, KEEP, MERGE, THROW_ERROR = 1, 2, 3, 4, 5
_STRATEGY_NAMES = {0: "UNSPECIFIED", 1: "CREATE_NEW", 2: "REPLACE", 3: "KEEP", 4: "MERGE", 5: "THROW_ERROR"}


# --- export ---------------------------------------------------------------------------------------
def export_flow(package: AgentPackage, flow_id: str, include_referenced_flows: bool) -> bytes:
    """The content of an ExportFlow: a BLOB of the flow and the resources it refers to."""
    return encode_blob(flow_package(package, flow_id, include_referenced_flows))


def flow_package(package: AgentPackage, flow_id: str, include_referenced_flows: bool) -> AgentPackage:
    flows = [f for f in package.flows if f.id == flow_id]
    if not flows:
        raise NotFound(f"flow {flow_id} not found")
    if include_referenced_flows:
        flows = _with_referenced_flows(package, flows[0])
    out = AgentPackage(agent=copy.deepcopy(package.agent))
    out.flows.extend(copy.deepcopy(flows))
    wanted = _referenced(out.flows, package)
    for collection in SHARED_COLLECTIONS:
        names = wanted.get(collection, set())
        chosen = [r for r in package.resources(collection) if r.display_name.strip() in names]
        if chosen:
            out.resources(collection).extend(copy.deepcopy(chosen))
    return out


def _with_referenced_flows(package: AgentPackage, first: Flow) -> list[Flow]:
    chosen, queue = [first], [first]
    while queue:
        flow = queue.pop()
        for name in _names_under(_bodies_of(flow), "targetFlow"):
            target = next((f for f in package.flows if f.display_name.strip() == name), None)
            if target is not None and all(target is not c for c in chosen):
                chosen.append(target)
                queue.append(target)
    return chosen


def _bodies_of(flow: Flow) -> Iterator[JSON]:
    yield flow.data
    for child in (*flow.pages, *flow.route_groups):
        yield child.data


def _referenced(flows: list[Flow], package: AgentPackage) -> dict[str, set[str]]:
    """Display names the flows refer to, per collection (entity types via intents too)."""
    bodies = [body for flow in flows for body in _bodies_of(flow)]
    wanted: dict[str, set[str]] = {}
    for collection in ("intents", "webhooks", "transitionRouteGroups"):
        (key,) = _REFERENCE_KEYS[collection]
        wanted[collection] = set(_names_under(bodies, key))
    groups = [g for g in package.route_groups if g.display_name.strip() in wanted["transitionRouteGroups"]]
    for group in groups:  # agent route groups refer to intents and webhooks of their own
        wanted["intents"] |= set(_names_under([group.data], "intent"))
        wanted["webhooks"] |= set(_names_under([group.data], "webhook"))
    intents = [i for i in package.intents if i.display_name.strip() in wanted["intents"]]
    entity_refs = _names_under([*bodies, *(i.data for i in intents)], "entityType")
    wanted["entityTypes"] = {name[1:] for name in entity_refs if name.startswith("@") and not name.startswith("@sys.")}
    return wanted


def _names_under(bodies: Any, key: str) -> Iterator[str]:
    for body in bodies:
        yield from _walk(body, key)


def _walk(value: JSON, key: str) -> Iterator[str]:
    if isinstance(value, dict):
        for k, item in value.items():
            if k == key and isinstance(item, str):
                yield item.strip()
            elif k == key and isinstance(item, list):
                yield from (x.strip() for x in item if isinstance(x, str))
            else:
                yield from _walk(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, key)


# --- import ---------------------------------------------------------------------------------------
def read_flow_content(content: bytes, what: str = "flow") -> AgentPackage:
    """The package inside ImportFlow (or ImportPlaybook) content: an emulator BLOB or a JSON-package zip."""
    if is_blob(content):
        return decode_blob(content)
    if content.startswith(_ZIP_MAGIC):
        return read_package(content)
    raise InvalidArgument(f"{what} content is neither a {what} exported by this emulator nor a JSON-package zip")


@dataclass
class ImportPlan:
    """What an import will do, decided before anything changes (so a refusal changes nothing)."""

    flows: list[Flow]
    renames: dict[str, dict[str, str]] = field(default_factory=dict)  # collection -> old -> new name
    added: dict[str, list[Resource]] = field(default_factory=dict)
    replaced: list[tuple[Resource, Resource]] = field(default_factory=list)  # (existing, incoming)


def plan_import(target: AgentPackage, incoming: AgentPackage, strategy: int) -> ImportPlan:
    if strategy == MERGE:
        raise InvalidArgument("import strategy MERGE is not supported by the emulator; use CREATE_NEW, REPLACE or KEEP")
    if strategy not in _STRATEGY_NAMES:
        raise InvalidArgument(f"unknown import strategy {strategy}")
    if not incoming.flows:
        raise InvalidArgument("the flow content holds no flow")
    strategy = strategy or CREATE_NEW
    plan = ImportPlan(flows=copy.deepcopy(incoming.flows))
    conflicts = []
    for collection in SHARED_COLLECTIONS:
        existing = {r.display_name.strip(): r for r in target.resources(collection)}
        taken = set(existing)
        for res in incoming.resources(collection):
            name = res.display_name.strip()
            mine = existing.get(name)
            if mine is None:
                plan.added.setdefault(collection, []).append(copy.deepcopy(res))
            elif mine.id == res.id or strategy == KEEP:
                continue
            elif strategy == REPLACE:
                plan.replaced.append((mine, copy.deepcopy(res)))
            elif strategy == THROW_ERROR:
                conflicts.append(f"{collection} {name!r}")
            else:
                new_name = free_name(name, taken)
                taken.add(new_name)
                plan.renames.setdefault(collection, {})[name] = new_name
                renamed = copy.deepcopy(res)
                renamed.data["displayName"] = new_name
                plan.added.setdefault(collection, []).append(renamed)
    if strategy == THROW_ERROR:
        conflicts += [f"flows {f.display_name!r}" for f in incoming.flows if target.flow(f.display_name) is not None]
    if conflicts:
        raise AlreadyExists(f"import conflicts with existing resources: {', '.join(conflicts)} (strategy THROW_ERROR)")
    return plan


def free_name(name: str, taken: set[str]) -> str:
    """``name_1``, ``name_2`` … : the first not in ``taken`` (CREATE_NEW on a clash)."""
    n = 1
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"


def apply_import(target: AgentPackage, plan: ImportPlan) -> Flow:
    """Carry out ``plan`` on ``target``; returns the (first) imported flow as it now is in the agent."""
    _rename_references(plan)
    ids = {res.id for _, res in target.iter_resources()}
    for collection, items in plan.added.items():
        for res in items:
            fresh_identity(res, ids, target.resources(collection))
            target.resources(collection).append(res)
    for mine, incoming in plan.replaced:
        mine.data = {**incoming.data, "name": mine.data.get("name", incoming.id), "displayName": mine.display_name}
        mine.parts = incoming.parts
    landed: list[Flow] = []
    for flow in plan.flows:
        existing = target.flow(flow.display_name)
        if existing is not None:
            flow.data["name"] = existing.id
            flow.stem = existing.stem
            target.flows[target.flows.index(existing)] = flow
        else:
            fresh_identity(flow, ids, target.flows)
            target.flows.append(flow)
        for child in (*flow.pages, *flow.route_groups):
            if child.id in ids:
                child.data["name"] = new_id()
        ids |= {flow.id, *(c.id for c in (*flow.pages, *flow.route_groups))}
        landed.append(flow)
    return landed[0]


def fresh_identity(res: Resource, ids: set[str], siblings: Sequence[Resource]) -> None:
    """Give an incoming resource an id not in ``ids`` and a file name free among ``siblings``."""
    if not res.id or res.id in ids:
        res.data["name"] = new_id()
    ids.add(res.id)
    stems = {s.stem.lower() for s in siblings}
    base, stem, n = encode_stem(res.display_name), encode_stem(res.display_name), 1
    while stem.lower() in stems:
        n += 1
        stem = f"{base}_{n}"
    res.stem = stem


def _rename_references(plan: ImportPlan) -> None:
    """Point the imported bodies at the names their resources got in the target (CREATE_NEW)."""
    if not plan.renames:
        return
    bodies: list[JSON] = [b for flow in plan.flows for b in _bodies_of(flow)]
    bodies += [res.data for items in plan.added.values() for res in items]
    for collection, renames in plan.renames.items():
        for key in _REFERENCE_KEYS[collection]:
            for body in bodies:
                rename_in(body, key, renames, entity=collection == "entityTypes")


def rename_in(value: JSON, key: str, renames: dict[str, str], entity: bool) -> None:
    """Rewrite every display name under ``key`` found in ``renames`` (``@name`` for entity types)."""

    def renamed(name: JSON) -> JSON:
        if not isinstance(name, str):
            return name
        bare = name[1:].strip() if entity and name.startswith("@") else name.strip()
        if bare not in renames:
            return name
        return "@" + renames[bare] if entity else renames[bare]

    if isinstance(value, dict):
        for k, item in list(value.items()):
            if k == key and isinstance(item, list):
                value[k] = [renamed(x) for x in item]
            elif k == key:
                value[k] = renamed(item)
            else:
                rename_in(item, key, renames, entity)
    elif isinstance(value, list):
        for item in value:
            rename_in(item, key, renames, entity)
