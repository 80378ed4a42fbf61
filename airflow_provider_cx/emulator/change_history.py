"""Change history: every design-time change to an agent, as the Changelogs service lists it.

:class:`ChangeHistory` watches the agent store (``AgentStore.on_change``) and, after each write
that changed the agent, compares a fingerprint of every resource with the one it took after the
previous write: a new resource is a ``Create``, a missing one a ``Delete``, a different one an
``Update``. So every path that changes an agent (CRUD, restore, flow import, version load) is
recorded without each service having to report it. Entries and fingerprints live in the record's
extras (``changelogs``), so they are saved and restored with the agent.

The emulator has no signed-in users: entries name :data:`USER`.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from airflow_provider_cx.emulator.store import AgentRecord, AgentStore
from airflow_provider_cx.package import Flow

EXTRA_KEY = "changelogs"
USER = "anonymous@cx-emulator.local"
MAX_ENTRIES = 10_000
JSON = Any


@dataclass(frozen=True)
class Fingerprint:
    resource: str  # resource name
    type: str  # collection: "flows", "pages", "intents" … ("agents" for the agent itself)
    display_name: str
    digest: str


def fingerprints(record: AgentRecord) -> dict[str, Fingerprint]:
    """Every resource of the agent (the agent itself included) by resource name."""
    package = record.package
    out = {record.name: _fingerprint(record.name, "agents", record.display_name, package.agent)}
    for collection, items in package.collections.items():
        for res in items:
            name = f"{record.name}/{collection}/{res.id}"
            out[name] = _fingerprint(name, collection, res.display_name, [res.data, res.parts])
            if isinstance(res, Flow):
                for kind, children in (("pages", res.pages), ("transitionRouteGroups", res.route_groups)):
                    for child in children:
                        child_name = f"{name}/{kind}/{child.id}"
                        out[child_name] = _fingerprint(child_name, kind, child.display_name, [child.data, child.parts])
    return out


def _fingerprint(name: str, kind: str, display_name: str, body: JSON) -> Fingerprint:
    text = json.dumps(body, sort_keys=True, default=_bytes_digest)
    return Fingerprint(name, kind, display_name, hashlib.sha256(text.encode()).hexdigest())


def _bytes_digest(value: Any) -> str:
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


def diff(old: dict[str, Fingerprint], new: dict[str, Fingerprint]) -> list[tuple[str, Fingerprint]]:
    """``(action, fingerprint)`` for every resource created, updated or deleted between the two."""
    changes = [("Create", fp) for name, fp in new.items() if name not in old]
    changes += [("Update", fp) for name, fp in new.items() if name in old and old[name].digest != fp.digest]
    changes += [("Delete", fp) for name, fp in old.items() if name not in new]
    return changes


class ChangeHistory:
    """Records the changes of every agent of ``store`` into the agent's extras."""

    def __init__(self, store: AgentStore) -> None:
        # (record identity, revision) last looked at, per agent: revisions are not persisted, so
        # they only tell a content write from a results-only write within one record's lifetime.
        self._seen: dict[str, tuple[int, int]] = {}
        store.on_change(self._changed)

    def _changed(self, record: AgentRecord | None, name: str) -> None:
        if record is None:
            self._seen.pop(name, None)
            return
        state = record.extra(EXTRA_KEY)
        seen = (id(record), record.revision)
        if self._seen.get(name) == seen and "fingerprints" in state:
            return  # a write that only recorded results beside the agent
        self._seen[name] = seen
        now = fingerprints(record)
        if "fingerprints" not in state:
            # First sight of this agent (just created): one entry, and the baseline.
            changes = [("Create", now[record.name])]
        else:
            changes = diff(_decode(state["fingerprints"]), now)
        entries = state.setdefault("entries", [])
        stamp = time.time()
        for action, fp in changes:
            entries.append(_entry(record, action, fp, stamp))
        del entries[:-MAX_ENTRIES]
        state["fingerprints"] = {n: [fp.type, fp.display_name, fp.digest] for n, fp in now.items()}


def _decode(stored: dict[str, list[str]]) -> dict[str, Fingerprint]:
    return {name: Fingerprint(name, kind, display, digest) for name, (kind, display, digest) in stored.items()}


def _entry(record: AgentRecord, action: str, fp: Fingerprint, stamp: float) -> dict[str, JSON]:
    return {
        "id": str(uuid.uuid4()),
        "action": action,
        "type": fp.type,
        "resource": fp.resource,
        "displayName": fp.display_name,
        "userEmail": USER,
        "createTime": stamp,
        "languageCode": record.package.default_language,
    }


def entries(record: AgentRecord) -> list[dict[str, JSON]]:
    """The agent's change history, newest first."""
    stored = record.extras.get(EXTRA_KEY, {}).get("entries", [])
    return list(reversed(stored))
