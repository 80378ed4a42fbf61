"""A guard that proves a refused input changed nothing on the emulator (``from change_guard import ...``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_cx.emulator.testing import wait_for

#: RPC name prefixes that change server state; a refused input must not have reached any of them.
MUTATING_PREFIXES = ("Create", "Update", "Delete", "Restore", "Deploy", "Load", "Batch", "Run", "Import", "Train")


def mutating_calls(counts: dict[str, int]) -> dict[str, int]:
    """The state-changing methods among ``{"/pkg.Service/Method": n}`` call counts."""
    return {name: n for name, n in counts.items() if name.rsplit("/", 1)[-1].startswith(MUTATING_PREFIXES)}


@dataclass
class ChangeGuard:
    """What happened on the server between entering and leaving :func:`nothing_changes`."""

    calls: dict[str, int] = field(default_factory=dict)

    @property
    def mutations(self) -> dict[str, int]:
        return mutating_calls(self.calls)


_clients: dict[str, tuple[Any, Any]] = {}


def _admin_and_agents(server: Any) -> tuple[Any, Any]:
    """One admin client and one AgentsClient per server (a channel each), reused by every guard."""
    from google.cloud import dialogflowcx_v3 as cx

    if server.address not in _clients:
        _clients[server.address] = (server.admin(), server.client(cx.AgentsClient))
    return _clients[server.address]


def export_of(server: Any, agent: str) -> bytes:
    """The agent's draft as a JSON package (the emulator's exports are byte-for-byte deterministic)."""
    from google.cloud import dialogflowcx_v3 as cx

    _, agents = _admin_and_agents(server)
    request = {"name": agent, "data_format": cx.ExportAgentRequest.DataFormat.JSON_PACKAGE}
    return wait_for(agents.export_agent(request=request)).agent_content


@contextmanager
def nothing_changes(server: Any, agent: str, *, refused_by_server: tuple[str, ...] = ()) -> Iterator[ChangeGuard]:
    """Assert that ``agent``'s export is byte-identical afterwards and that no state-changing RPC ran.

    ``refused_by_server`` names methods (e.g. ``"RestoreAgent"``) that may be called because only the
    server can judge the input; it must refuse them, which the unchanged export then proves.
    """
    admin, _ = _admin_and_agents(server)
    before = export_of(server, agent)
    counts_before = admin.counts()
    guard = ChangeGuard()
    yield guard
    counts_after = admin.counts()
    guard.calls = {
        name: n - counts_before.get(name, 0) for name, n in counts_after.items() if n > counts_before.get(name, 0)
    }
    allowed = tuple(f"/{method}" for method in refused_by_server)
    unexpected = {name: n for name, n in guard.mutations.items() if not (allowed and name.endswith(allowed))}
    assert not unexpected, f"state-changing calls reached the server: {unexpected}"
    assert export_of(server, agent) == before, f"the export of {agent} changed"
