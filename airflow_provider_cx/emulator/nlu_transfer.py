"""Intent and entity type export/import: chosen resources of one collection moved between agents.

The content is a partial package holding only those resources (their language files included) as
the emulator's BLOB or a JSON-package zip. Import resolves display-name clashes by the request's
merge option: REPLACE swaps the content in (keeping the existing id), MERGE adds the incoming
training phrases / entities the existing one lacks, RENAME imports under ``<name>_<n>``, KEEP keeps
the agent's own, REPORT_CONFLICT (and the deprecated REJECT) imports nothing when anything clashes
and reports the clashes instead. References stay display names, resolved in the importing agent.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_cx.emulator.blob import encode_blob
from airflow_provider_cx.emulator.errors import InvalidArgument, NotFound
from airflow_provider_cx.emulator.flow_transfer import free_name, fresh_identity, read_flow_content
from airflow_provider_cx.package import AgentPackage, Resource, write_zip

JSON = Any
# ImportIntentsRequest.MergeOption / ImportEntityTypesRequest.MergeOption share these numbers.
REJECT, REPLACE, MERGE, RENAME, REPORT_CONFLICT, KEEP = 1, 2, 3, 4, 5, 6
_KNOWN = (REJECT, REPLACE, MERGE, RENAME, REPORT_CONFLICT, KEEP)
# Per-language files whose lists MERGE unions: intents' phrases, entity types' entities.
_LANGUAGE_LISTS = {"intents": ("trainingPhrases/", "trainingPhrases"), "entityTypes": ("entities/", "entities")}


def export_resources(package: AgentPackage, collection: str, ids: list[str], as_zip: bool) -> bytes:
    """The content of an Export{Intents,EntityTypes}: the resources named by ``ids``."""
    by_id = {r.id: r for r in package.resources(collection)}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise NotFound(f"{collection} not found in the agent: {', '.join(missing)}")
    out = AgentPackage(agent=copy.deepcopy(package.agent))
    out.resources(collection).extend(copy.deepcopy([by_id[i] for i in ids]))
    return write_zip(out) if as_zip else encode_blob(out)


@dataclass
class NluImport:
    collection: str
    incoming: list[Resource]
    conflicts: list[str] = field(default_factory=list)


def plan_import(target: AgentPackage, incoming: AgentPackage, collection: str, merge_option: int) -> NluImport:
    if merge_option not in _KNOWN:
        raise InvalidArgument("merge_option must be set (REPLACE, MERGE, RENAME, REPORT_CONFLICT or KEEP)")
    items = incoming.collections.get(collection, [])
    if not items:
        raise InvalidArgument(f"the content holds no {collection}")
    existing = {r.display_name.strip() for r in target.resources(collection)}
    conflicts = [r.display_name for r in items if r.display_name.strip() in existing]
    return NluImport(collection, copy.deepcopy(items), conflicts)


def apply_import(target: AgentPackage, plan: NluImport, merge_option: int) -> list[Resource]:
    """Carry out the import; the resources the agent now has for the incoming ones (none if refused)."""
    if plan.conflicts and merge_option in (REJECT, REPORT_CONFLICT):
        return []
    items = target.resources(plan.collection)
    existing = {r.display_name.strip(): r for r in items}
    taken = set(existing)
    ids = {res.id for _, res in target.iter_resources()}
    result = []
    for res in plan.incoming:
        mine = existing.get(res.display_name.strip())
        if mine is None or merge_option == RENAME:
            if mine is not None:
                res.data["displayName"] = free_name(res.display_name.strip(), taken)
            taken.add(res.display_name.strip())
            fresh_identity(res, ids, items)
            items.append(res)
            result.append(res)
        elif merge_option == REPLACE:
            mine.data = {**res.data, "name": mine.id, "displayName": mine.display_name}
            mine.parts = res.parts
            result.append(mine)
        elif merge_option == MERGE:
            _merge_lists(plan.collection, mine, res)
            result.append(mine)
        else:  # KEEP
            result.append(mine)
    return result


def _merge_lists(collection: str, mine: Resource, incoming: Resource) -> None:
    folder, key = _LANGUAGE_LISTS[collection]
    for path, part in incoming.parts.items():
        if not path.startswith(folder) or not isinstance(part, dict):
            continue
        current = mine.parts.get(path)
        if not isinstance(current, dict):
            mine.parts[path] = copy.deepcopy(part)
            continue
        have = current.setdefault(key, [])
        for value in part.get(key, []):
            if _without_id(value) not in [_without_id(v) for v in have]:
                have.append(copy.deepcopy(value))


def _without_id(value: JSON) -> JSON:
    # Training phrases carry an id of their own; two phrases with the same parts are the same phrase.
    return {k: v for k, v in value.items() if k != "id"} if isinstance(value, dict) else value


def read_content(content: bytes, what: str) -> AgentPackage:
    return read_flow_content(content, what)
