"""Fixtures for the hardening tests: the operator harness, and a guard that proves nothing changed.

The operators are driven exactly as in ``tests/operators`` (``operator_harness``: a connection to the
emulator, a task context, deferral round trips), so that module is put on the import path here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "operators"))

from operator_harness import connect, isolate_google_environment, new_agent

from airflow_provider_cx.emulator.testing import wait_for

#: RPC name prefixes that change server state; a refused input must not have reached any of them.
MUTATING_PREFIXES = ("Create", "Update", "Delete", "Restore", "Deploy", "Load", "Batch", "Run", "Import", "Train")


@pytest.fixture(autouse=True)
def _isolated_google_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_google_environment(monkeypatch, tmp_path)


@pytest.fixture
def cx_connection(monkeypatch: pytest.MonkeyPatch, cx_emulator: Any) -> Any:
    """The shared emulator, reachable through connection ``operator_harness.CONN_ID``."""
    connect(monkeypatch, cx_emulator)
    return cx_emulator


@pytest.fixture(scope="module")
def target_agent(cx_emulator: Any) -> str:
    """One sample agent per module: every test in it must leave it exactly as it was."""
    return new_agent(cx_emulator)


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
