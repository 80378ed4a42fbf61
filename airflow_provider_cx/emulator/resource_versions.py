"""Saved versions of single resources (playbook versions, tool versions) kept beside the agent.

A version is a snapshot of the resource's package body and files, so restoring it puts back exactly
what was exported at that point. State, in the record's extras (saved with the agent)::

    extras["resourceVersions"][<collection>][<resource id>] =
        {"nextId": 3, "versions": {"1": {"snapshot": {...}, "createTime": 1.7e9, ...}, "2": {...}}}

Files that are not JSON are kept base64-encoded so the extras stay JSON.
"""

from __future__ import annotations

import base64
import copy
import time
from typing import Any

from airflow_provider_cx.emulator.errors import NotFound
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import Resource

EXTRA_KEY = "resourceVersions"
JSON = Any
_BYTES = "$base64"


def _state(record: AgentRecord, collection: str, res_id: str) -> dict[str, JSON]:
    by_collection = record.extra(EXTRA_KEY).setdefault(collection, {})
    state: dict[str, JSON] = by_collection.setdefault(res_id, {"nextId": 1, "versions": {}})
    return state


def snapshot(res: Resource) -> dict[str, JSON]:
    parts = {
        path: ({_BYTES: base64.b64encode(v).decode()} if isinstance(v, bytes) else v) for path, v in res.parts.items()
    }
    return copy.deepcopy({"stem": res.stem, "data": res.data, "parts": parts})


def as_resource(res: Resource, entry: dict[str, JSON]) -> Resource:
    """The resource as the version saved it (a new object; ``res`` is left alone)."""
    snap = copy.deepcopy(entry["snapshot"])
    parts = {
        path: (base64.b64decode(v[_BYTES]) if isinstance(v, dict) and set(v) == {_BYTES} else v)
        for path, v in snap["parts"].items()
    }
    return Resource(res.collection, snap["stem"], snap["data"], parts)


def create(record: AgentRecord, res: Resource, fields: dict[str, JSON]) -> tuple[str, dict[str, JSON]]:
    """Save a version of ``res`` with the API fields given (description, displayName …)."""
    state = _state(record, res.collection, res.id)
    version_id = str(state["nextId"])
    state["nextId"] += 1
    entry = {**fields, "snapshot": snapshot(res), "createTime": time.time()}
    state["versions"][version_id] = entry
    return version_id, entry


def listed(record: AgentRecord, res: Resource) -> list[tuple[str, dict[str, JSON]]]:
    """Every version of ``res``, newest first."""
    versions = record.extras.get(EXTRA_KEY, {}).get(res.collection, {}).get(res.id, {}).get("versions", {})
    return sorted(versions.items(), key=lambda item: int(item[0]), reverse=True)


def get(record: AgentRecord, res: Resource, version_id: str, name: str) -> dict[str, JSON]:
    for vid, entry in listed(record, res):
        if vid == version_id:
            return entry
    raise NotFound(f"version {name} not found")


def delete(record: AgentRecord, res: Resource, version_id: str, name: str) -> None:
    get(record, res, version_id, name)
    del _state(record, res.collection, res.id)["versions"][version_id]


def forget(record: AgentRecord, res: Resource) -> None:
    """Drop every version of a deleted resource."""
    record.extras.get(EXTRA_KEY, {}).get(res.collection, {}).pop(res.id, None)


def restore(res: Resource, entry: dict[str, JSON]) -> None:
    """Put the saved body and files back into ``res`` (its id, display name and file name stay)."""
    saved = as_resource(res, entry)
    res.data = {**saved.data, "name": res.data.get("name", saved.id), "displayName": res.display_name}
    res.parts = saved.parts
