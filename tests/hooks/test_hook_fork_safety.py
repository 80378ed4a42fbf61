"""A hook used in the parent keeps working in 20 forked children (os.fork and multiprocessing fork)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCENARIO = Path(__file__).with_name("fork_scenario.py")
REPO_ROOT = Path(__file__).resolve().parents[2]


def run_scenario() -> dict:
    env = dict(os.environ)
    # This pytest process imported the provider, which set the variable; the scenario must prove that
    # importing the provider sets it, so it starts without it, like a fresh Airflow worker.
    env.pop("GRPC_ENABLE_FORK_SUPPORT", None)
    env.pop("DIALOGFLOW_CX_EMULATOR_HOST", None)
    # The scenario imports its helper as ``tests.hooks.cx_scripted_server``: the repository root must be importable.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, str(SCENARIO)], capture_output=True, text=True, timeout=240, env=env, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_forked_children_build_new_clients_and_all_succeed():
    report = run_scenario()
    assert report["grpc_imported_by_provider"] is False
    assert report["fork_support_env"] == "1"
    assert report["fork_support_active"] is True
    for start_method in ("os_fork", "multiprocessing_fork"):
        results = report[start_method]
        assert len(results) == 20
        failures = [result for result in results if not result["ok"]]
        assert not failures, f"{start_method}: {failures}"
        assert all(result["new_client"] for result in results), start_method
    assert report["parent_after"] is True
    assert report["parent_client_kept"] is True
