"""Test-wide setup: an isolated AIRFLOW_HOME and the shared real-agent exports."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Airflow reads its home on first import: point it somewhere disposable before anything imports it.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="cx-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
# No scheduler races in-process deferrals here (apache/airflow#71580), so CXOperationTrigger need not hold
# its events back; the trigger's own tests set the minimum explicitly, the e2e stack drops AIRFLOW_* variables.
os.environ.setdefault("AIRFLOW__DIALOGFLOW_CX__TRIGGER_MIN_DEFERRAL", "0")

import pytest

pytest_plugins = ["airflow_provider_cx.emulator.testing"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_AGENTS_ENV = "CX_SHARED_AGENTS"


def shared_agents_dir() -> Path:
    """Where the real agent exports live: ``$CX_SHARED_AGENTS`` or ``../shared/agents``.

    Their absence fails the run: these tests exist to exercise real exports, so skipping them would
    turn a missing fixture into a green build.
    """
    path = Path(os.environ.get(SHARED_AGENTS_ENV, REPO_ROOT.parent / "shared" / "agents"))
    if not path.is_dir():
        raise RuntimeError(f"shared agent exports not found at {path}; set {SHARED_AGENTS_ENV}")
    return path


def shared_agent_paths() -> list[Path]:
    """Every agent export (folder or zip) in the shared directory, sorted by name."""
    root = shared_agents_dir()
    return sorted(p for p in root.iterdir() if p.is_dir() or p.suffix == ".zip")


@pytest.fixture(scope="session")
def shared_agents() -> list[Path]:
    return shared_agent_paths()
