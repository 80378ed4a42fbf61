"""Playbook export and import: a playbook, what it calls, moved between agents as package content.

The content of an exported playbook is a partial package (the emulator's BLOB, or a JSON-package
zip for ``data_format=JSON``): the playbook with its examples, the playbooks it names
(``referencedPlaybooks``, transitively) and every tool any of them names. Flows a playbook names
are not carried: they stay references, resolved in the agent it is imported into.

Import follows the request's three strategies (main playbook, nested playbooks, tools) for
resources whose display name the agent already uses, with the semantics of ``flow_transfer.py``:
CREATE_NEW (the default) imports under ``<name>_<n>`` and repoints the imported references,
REPLACE swaps the content in keeping the existing id, KEEP keeps the agent's own, THROW_ERROR
refuses, MERGE is refused as unsupported. Every clash is reported back by display name.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_cx.emulator.blob import encode_blob
from airflow_provider_cx.emulator.errors import AlreadyExists, InvalidArgument, NotFound
from airflow_provider_cx.emulator.flow_transfer import (
    CREATE_NEW,
    KEEP,
    MERGE,
    REPLACE,
    THROW_ERROR,
    free_name,
    fresh_identity,
    read_flow_content,
    rename_in,
)
from airflow_provider_cx.package import AgentPackage, Resource, write_zip

JSON = Any
PLAYBOOKS, TOOLS = "playbooks", "tools"
# Where a playbook (its body and its examples' actions) names other playbooks and tools.
_KEYS = {PLAYBOOKS: ("referencedPlaybooks", "playbook"), TOOLS: ("referencedTools", "tool")}


# --- export ---------------------------------------------------------------------------------------
def export_playbook(package: AgentPackage, playbook_id: str, as_zip: bool) -> bytes:
    out = playbook_package(package, playbook_id)
    return write_zip(out) if as_zip else encode_blob(out)


def playbook_package(package: AgentPackage, playbook_id: str) -> AgentPackage:
    playbooks = package.collections.get(PLAYBOOKS, [])
    main = next((p for p in playbooks if p.id == playbook_id), None)
    if main is None:
        raise NotFound(f"playbook {playbook_id} not found")
    chosen, queue = [main], [main]
    while queue:
        for name in _names(queue.pop().data, "referencedPlaybooks"):
            nested = next((p for p in playbooks if p.display_name.strip() == name), None)
            if nested is not None and all(nested is not c for c in chosen):
                chosen.append(nested)
                queue.append(nested)
    tool_names = {name for p in chosen for name in _names(p.data, "referencedTools")}
    out = AgentPackage(agent=copy.deepcopy(package.agent))
    out.resources(PLAYBOOKS).extend(copy.deepcopy(chosen))
    tools = [t for t in package.collections.get(TOOLS, []) if t.display_name.strip() in tool_names]
    if tools:
        out.resources(TOOLS).extend(copy.deepcopy(tools))
    return out


def _names(body: JSON, key: str) -> Iterator[str]:
    values = body.get(key) if isinstance(body, dict) else None
    for value in values if isinstance(values, list) else []:
        if isinstance(value, str):
            yield value.strip()


# --- import ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Strategies:
    main: int
    nested: int
    tools: int


@dataclass
class PlaybookImport:
    """What an import will do, decided before anything changes."""

    main: Resource
    main_existing: Resource | None = None
    main_kept: bool = False
    added: dict[str, list[Resource]] = field(default_factory=dict)
    replaced: list[tuple[Resource, Resource]] = field(default_factory=list)
    renames: dict[str, dict[str, str]] = field(default_factory=dict)
    conflicts: dict[str, list[str]] = field(default_factory=dict)  # "main" / "playbooks" / "tools"


def read_playbook_content(content: bytes) -> AgentPackage:
    package = read_flow_content(content, "playbook")
    if not package.collections.get(PLAYBOOKS):
        raise InvalidArgument("the playbook content holds no playbook")
    return package


def plan_import(target: AgentPackage, incoming: AgentPackage, strategies: Strategies) -> PlaybookImport:
    for strategy in (strategies.main, strategies.nested, strategies.tools):
        if strategy == MERGE:
            raise InvalidArgument(
                "import strategy MERGE is not supported by the emulator; use CREATE_NEW, REPLACE or KEEP"
            )
        if strategy not in (0, CREATE_NEW, REPLACE, KEEP, THROW_ERROR):
            raise InvalidArgument(f"unknown import strategy {strategy}")
    main, *nested = incoming.resources(PLAYBOOKS)
    plan = PlaybookImport(main=copy.deepcopy(main))
    refused: list[str] = []
    groups = ((PLAYBOOKS, [main], strategies.main, "main"), (PLAYBOOKS, nested, strategies.nested, PLAYBOOKS))
    for collection, items, strategy, label in (*groups, (TOOLS, incoming.resources(TOOLS), strategies.tools, TOOLS)):
        existing = {r.display_name.strip(): r for r in target.collections.get(collection, [])}
        taken = set(existing) | set(plan.renames.get(collection, {}).values())
        for res in items:
            name = res.display_name.strip()
            mine = existing.get(name)
            incoming_copy = plan.main if res is main else copy.deepcopy(res)
            if mine is None:
                if res is not main:
                    plan.added.setdefault(collection, []).append(incoming_copy)
                continue
            plan.conflicts.setdefault(label, []).append(name)
            chosen = strategy or CREATE_NEW
            if chosen == THROW_ERROR:
                refused.append(f"{collection} {name!r}")
            elif chosen == KEEP:
                if res is main:
                    plan.main_existing, plan.main_kept = mine, True
            elif chosen == REPLACE:
                if res is main:
                    plan.main_existing = mine
                else:
                    plan.replaced.append((mine, incoming_copy))
            else:
                new_name = free_name(name, taken)
                taken.add(new_name)
                plan.renames.setdefault(collection, {})[name] = new_name
                incoming_copy.data["displayName"] = new_name
                if res is not main:
                    plan.added.setdefault(collection, []).append(incoming_copy)
    if refused:
        raise AlreadyExists(f"import conflicts with existing resources: {', '.join(refused)} (strategy THROW_ERROR)")
    return plan


def apply_import(target: AgentPackage, plan: PlaybookImport) -> Resource:
    """Carry out ``plan``; returns the main playbook as it now is in the agent."""
    bodies = [plan.main, *(r for items in plan.added.values() for r in items), *(r for _, r in plan.replaced)]
    for collection, renames in plan.renames.items():
        for key in _KEYS[collection]:
            for res in bodies:
                rename_in(res.data, key, renames, entity=False)
                for part in res.parts.values():
                    rename_in(part, key, renames, entity=False)
    ids = {res.id for _, res in target.iter_resources()}
    for collection, items in plan.added.items():
        for res in items:
            fresh_identity(res, ids, target.resources(collection))
            target.resources(collection).append(res)
    for mine, incoming in plan.replaced:
        mine.data = {**incoming.data, "name": mine.data.get("name", incoming.id), "displayName": mine.display_name}
        mine.parts = incoming.parts
    if plan.main_kept and plan.main_existing is not None:
        return plan.main_existing
    if plan.main_existing is not None:
        existing = plan.main_existing
        existing.data = {**plan.main.data, "name": existing.id, "displayName": existing.display_name}
        existing.parts = plan.main.parts
        return existing
    fresh_identity(plan.main, ids, target.resources(PLAYBOOKS))
    target.resources(PLAYBOOKS).append(plan.main)
    return plan.main
