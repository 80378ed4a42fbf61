"""The tier markers tests/conftest.py gives: chaos tests are e2e, emulator tests are not unit, one tier each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = (
    "tests/dags/test_pipeline_results.py",  # pure logic
    "tests/emulator/test_emulator_agents.py",  # uses the cx_emulator fixtures
    "tests/emulator/test_emulator_persistence.py",  # starts EmulatorServer itself
    "tests/demo/test_stack_e2e.py",
    "tests/hardening/test_chaos.py",
)
# A plugin for the child pytest: print each collected test's tier markers as JSON (nothing runs).
REPORTER = """
import json
def pytest_collection_finish(session):
    tiers = {"unit", "emulator", "e2e", "chaos"}
    print("TIERS=" + json.dumps({item.nodeid: sorted({m.name for m in item.iter_markers()} & tiers)
                                 for item in session.items}))
"""


@pytest.fixture(scope="module")
def tiers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    plugins = tmp_path_factory.mktemp("plugin")
    (plugins / "tier_reporter.py").write_text(REPORTER)
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p", "tier_reporter"]
    result = subprocess.run(
        [*command, *SAMPLES],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(plugins)])},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("TIERS=")]
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines, result.stdout
    return dict(json.loads(lines[0].removeprefix("TIERS=")))


def of_file(tiers: dict[str, list[str]], path: str) -> set[tuple[str, ...]]:
    found = {tuple(markers) for node, markers in tiers.items() if node.startswith(f"{path}::")}
    assert found, f"nothing collected from {path}"
    return found


@pytest.mark.parametrize(
    ("path", "markers"),
    [
        ("tests/dags/test_pipeline_results.py", ("unit",)),
        ("tests/emulator/test_emulator_agents.py", ("emulator",)),
        ("tests/emulator/test_emulator_persistence.py", ("emulator",)),
        ("tests/demo/test_stack_e2e.py", ("e2e",)),
        ("tests/hardening/test_chaos.py", ("chaos", "e2e")),  # so -m "not e2e" leaves them out
    ],
)
def test_each_test_gets_one_tier_by_folder_and_fixture(tiers: dict[str, list[str]], path: str, markers: tuple) -> None:
    assert of_file(tiers, path) == {markers}


def test_every_collected_test_has_exactly_one_of_unit_emulator_e2e(tiers: dict[str, list[str]]) -> None:
    assert all(len(set(markers) & {"unit", "emulator", "e2e"}) == 1 for markers in tiers.values())
