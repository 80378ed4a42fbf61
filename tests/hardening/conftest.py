"""Fixtures for the hardening tests (helpers: ``change_guard``).

The operators are driven exactly as in ``tests/operators`` (``operator_harness``: a connection to the
emulator, a task context, deferral round trips), so that module is put on the import path here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "operators"))

from operator_harness import connect, isolate_google_environment, new_agent


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
