"""Test-wide setup: an isolated AIRFLOW_HOME, the shared real-agent exports, and the test tiers.

Every test gets exactly one tier marker, so ``-m`` selects a tier (see the README's "Tests" section):

- ``e2e``: runs under a real Airflow scheduler or API server (tests/e2e, tests/demo/*e2e*, tests
  marked ``e2e`` by hand, and the chaos tests, which are also ``chaos``): minutes each.
- ``emulator``: talks gRPC to the CX emulator (uses its fixtures, or starts an ``EmulatorServer``).
- ``unit``: everything else: no server, no network.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

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


# --- test tiers ------------------------------------------------------------------------------------

TESTS = Path(__file__).resolve().parent
EMULATOR_FIXTURES = frozenset({"cx_emulator", "cx_emulator_factory", "cx_client"})
#: Chaos tests start an Airflow API server and kill things under it: e2e-class, also selectable alone.
CHAOS_TESTS = frozenset({"hardening/test_chaos.py"})


def _starts_an_emulator(module: Any) -> bool:
    """Whether a test module starts emulators itself: it holds ``EmulatorServer`` or a helper that uses it.

    Checked by name, so collecting does not import grpc.
    """
    for value in vars(module).values():
        if getattr(value, "__name__", None) == "EmulatorServer":
            return True
        if "EmulatorServer" in (getattr(value, "__globals__", None) or {}):
            return True
    return False


def tier_of(item: pytest.Item) -> str:
    """``e2e``, ``emulator`` or ``unit`` for one collected test (chaos tests are ``e2e``)."""
    relative = item.path.relative_to(TESTS).as_posix()
    if (
        relative.startswith("e2e/")
        or (relative.startswith("demo/") and "e2e" in item.path.name)
        or relative in CHAOS_TESTS
        or item.get_closest_marker("e2e") is not None
    ):
        return "e2e"
    module = getattr(item, "module", None)
    if EMULATOR_FIXTURES & set(getattr(item, "fixturenames", ())) or (module and _starts_an_emulator(module)):
        return "emulator"
    return "unit"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(tier_of(item))
        if item.path.relative_to(TESTS).as_posix() in CHAOS_TESTS:
            item.add_marker("chaos")
