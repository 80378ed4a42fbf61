"""Fixtures for operator tests; the helpers themselves live in ``operator_harness``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from operator_harness import connect, isolate_google_environment, new_agent


@pytest.fixture(autouse=True)
def _isolated_google_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_google_environment(monkeypatch, tmp_path)


@pytest.fixture
def cx_connection(monkeypatch: pytest.MonkeyPatch, cx_emulator: Any) -> Any:
    """The shared emulator, reachable through connection ``operator_harness.CONN_ID``."""
    connect(monkeypatch, cx_emulator)
    return cx_emulator


@pytest.fixture
def sample_agent(cx_connection: Any) -> str:
    """A fresh agent on the shared emulator with the sample agent restored into it."""
    return new_agent(cx_connection)
