"""How many calls a wait costs: the worker's backoff and the trigger's interval, counted by the emulator.

bench/api_efficiency.py measures the real thing (a 30 s operation, default intervals: 8 GetOperation
in the worker, 4 in the triggerer + 1 on resume). These tests check the same schedules at a tenth of
the scale (a 3 s operation, intervals / 10), as upper bounds: a slow machine only means fewer polls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from operator_harness import CONN_ID, connect, make_context, run_deferred

from airflow_provider_cx.emulator.testing import create_test_agent
from airflow_provider_cx.operators.export_agent import CXExportAgentOperator

pytestmark = pytest.mark.timeout(60)
GET_OPERATION = "/google.longrunning.Operations/GetOperation"
DELAY = 3.0


@pytest.fixture
def slow_emulator(cx_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A dedicated emulator whose operations take 3 s, connected as ``CONN_ID``."""
    server = cx_emulator_factory(operation_delay=DELAY)
    connect(monkeypatch, server)
    return server


def empty_agent(server: Any) -> str:
    from google.cloud import dialogflowcx_v3 as cx

    return create_test_agent(server.client(cx.AgentsClient)).name


def export_task(agent: str, folder: Path, **kwargs: Any) -> CXExportAgentOperator:
    return CXExportAgentOperator(
        task_id="export", agent=agent, destination=str(folder / "a.zip"), gcp_conn_id=CONN_ID, **kwargs
    )


def get_operation_calls(server: Any, since: dict[str, int]) -> int:
    return server.admin().counts().get(GET_OPERATION, 0) - since.get(GET_OPERATION, 0)


def test_worker_wait_backs_off_to_the_poll_interval(slow_emulator: Any, tmp_path: Path) -> None:
    """``poll_interval=1``: one poll a second (the backoff starts at 1 s), so a 3 s operation costs about 4."""
    agent = empty_agent(slow_emulator)
    before = slow_emulator.admin().counts()
    result = export_task(agent, tmp_path, poll_interval=1.0, operation_timeout=30).execute(make_context())
    assert result["size_bytes"] > 0
    assert 2 <= get_operation_calls(slow_emulator, before) <= 6


def test_scaled_default_schedule(slow_emulator: Any, tmp_path: Path) -> None:
    """The default schedule (1 s x1.5 up to 10 s, 30 s operation) scaled by 1/10: 8 GetOperation, at most 9.

    (api_core's own polling draws each pause from zero to the backoff: about 12 here.)
    """
    from airflow_provider_cx.hooks.operations import PollingPolicy

    agent = empty_agent(slow_emulator)
    task = export_task(agent, tmp_path, operation_timeout=30)
    task.hook.polling_policy = PollingPolicy(initial_delay=0.1, max_delay=1.0, multiplier=1.5, jitter=0.05, timeout=30)
    before = slow_emulator.admin().counts()
    task.execute(make_context())
    assert get_operation_calls(slow_emulator, before) <= 9


def test_deferred_wait_polls_in_the_trigger_and_resumes_with_one_call(slow_emulator: Any, tmp_path: Path) -> None:
    agent = empty_agent(slow_emulator)
    task = export_task(agent, tmp_path, deferrable=True, poll_interval=1.0, operation_timeout=30)
    before = slow_emulator.admin().counts()
    result, event = run_deferred(task, make_context(), timeout=30)
    assert event["status"] == "success"
    assert result["size_bytes"] > 0
    # the trigger: every second for 3 s (4, or 5 when the last poll lands just before the end); resume: 1
    assert get_operation_calls(slow_emulator, before) <= 6
