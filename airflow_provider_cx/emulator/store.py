"""The emulator's state: agents held as agent packages, plus whatever services attach to them.

Each agent is an :class:`AgentRecord` whose ``package`` is an :class:`AgentPackage` in the export
format (resources refer to each other by display name and carry their UUID in ``"name"``). Export is
therefore ``write_zip(record.package)`` and restore is ``read_package``: lossless both ways.

Services attach their own state to a record: ``extras[<service key>]`` for JSON data and
``snapshots[<key>]`` for whole packages (flow versions, for instance); both are persisted with the
agent. Each agent has its own re-entrant lock, so work on one agent (an export encoding a large
package, a restore saving it) never waits for another agent; the store's lock guards only the
set of agents. Lock order is always an agent's lock, then the store's, never the reverse.
Mutations go through :meth:`AgentStore.write` so they are saved (atomically) when a data
directory is configured.
"""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_cx.emulator.errors import NotFound
from airflow_provider_cx.emulator.names import agent_name
from airflow_provider_cx.package import AgentPackage, new_id


@dataclass
class AgentRecord:
    """One agent: its identity, its package and the state services keep beside it."""

    project: str
    location: str
    agent_id: str
    display_name: str
    package: AgentPackage
    create_time: float = field(default_factory=time.time)
    extras: dict[str, Any] = field(default_factory=dict)
    snapshots: dict[str, AgentPackage] = field(default_factory=dict)
    # Bumped by every AgentStore.write that may change what the agent is (package, versions,
    # environments), so caches built from it (conversation engines) know when to rebuild.
    revision: int = 0
    # Held by AgentStore.read/write; never persisted, never compared.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @property
    def name(self) -> str:
        return agent_name(self.project, self.location, self.agent_id)

    def extra(self, key: str) -> dict[str, Any]:
        """The JSON-serialisable state a service keeps for this agent (created empty on first use)."""
        state: dict[str, Any] = self.extras.setdefault(key, {})
        return state


class AgentStore:
    """All agents by resource name; thread-safe, optionally persisted after every mutation."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._agents: dict[str, AgentRecord] = {}
        self._on_change: list[Callable[[AgentRecord | None, str], None]] = []

    # --- observers (persistence) ------------------------------------------------------------------
    def on_change(self, callback: Callable[[AgentRecord | None, str], None]) -> None:
        """Call ``callback(record_or_None, agent_name)`` after every committed mutation (None = deleted)."""
        self._on_change.append(callback)

    def _changed(self, record: AgentRecord | None, name: str) -> None:
        for callback in self._on_change:
            callback(record, name)

    # --- agents ------------------------------------------------------------------------------
    def create(
        self, project: str, location: str, display_name: str, package: AgentPackage, agent_id: str | None = None
    ) -> AgentRecord:
        with self.lock:
            record = AgentRecord(project, location, agent_id or new_id(), display_name, package)
            self._agents[record.name] = record
            self._changed(record, record.name)
            return record

    def add(self, record: AgentRecord) -> None:
        """Insert a record as it is (used when loading persisted state); does not notify observers."""
        with self.lock:
            self._agents[record.name] = record

    def get(self, name: str) -> AgentRecord:
        with self.lock:
            record = self._agents.get(name)
            if record is None:
                raise NotFound(f"agent {name} not found")
            return record

    def list(self, project: str, location: str) -> builtins.list[AgentRecord]:
        with self.lock:
            return sorted(
                (r for r in self._agents.values() if r.project == project and r.location == location),
                key=lambda r: (r.create_time, r.agent_id),
            )

    def all(self) -> builtins.list[AgentRecord]:
        with self.lock:
            return list(self._agents.values())

    def delete(self, name: str) -> None:
        record = self.get(name)
        with record.lock, self.lock:  # a writer of this agent finishes (and saves) before it goes
            if self._agents.get(name) is not record:
                raise NotFound(f"agent {name} not found")
            del self._agents[name]
            self._changed(None, name)

    @contextmanager
    def _held(self, name: str) -> Iterator[AgentRecord]:
        record = self.get(name)
        with record.lock:
            if self._agents.get(name) is not record:  # deleted or replaced while we waited
                raise NotFound(f"agent {name} not found")
            yield record

    @contextmanager
    def read(self, name: str) -> Iterator[AgentRecord]:
        """Hold the agent's lock while reading it, so no writer changes it half-way."""
        with self._held(name) as record:
            yield record

    @contextmanager
    def write(self, name: str, *, content: bool = True) -> Iterator[AgentRecord]:
        """Hold the lock while changing an agent; the change is saved when the block exits cleanly.

        A block that raises must not have changed the record: check, then mutate. ``content=False``
        says the block only records results beside the agent (test results) and leaves the agent
        itself as it was, so its revision stays.
        """
        with self._held(name) as record:
            yield record
            if content:
                record.revision += 1
            self._changed(record, name)

    def clear(self) -> None:
        with self.lock:
            names = list(self._agents)
            self._agents.clear()
            for name in names:
                self._changed(None, name)
