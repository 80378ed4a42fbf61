"""Killing a task cancels the long-running operation it waits for, against the emulator."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from operator_harness import CONN_ID, connect, make_context, new_agent

from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
from airflow_provider_cx.hooks.errors import CXOperationFailedError
from airflow_provider_cx.operators.base import CXLongRunningOperator
from airflow_provider_cx.operators.export_agent import CXExportAgentOperator
from airflow_provider_cx.operators.restore_agent import CXRestoreAgentOperator
from airflow_provider_cx.package import read_package, write_zip
from airflow_provider_cx.sample_agent import sample_agent_path

#: Long enough that only a cancellation ends the operation while the test runs.
SLOW_OPERATION = 60.0


def _slow_server(monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any) -> tuple[Any, str]:
    server = cx_emulator_factory()
    connect(monkeypatch, server)
    agent = new_agent(server)  # restored at the factory's short delay
    server.backend.operations.delay = SLOW_OPERATION
    return server, agent


def _kill_while_waiting(operator: CXLongRunningOperator) -> tuple[str, BaseException | None]:
    """Run ``execute`` in a thread and call ``on_kill`` once it waits on an operation.

    Returns that operation's name and what ``execute`` raised.
    """
    outcome: dict[str, BaseException | None] = {"error": None}

    def run() -> None:
        try:
            operator.execute(make_context())
        except BaseException as error:
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    deadline = time.monotonic() + 20
    while not operator._running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert operator._running, "execute never started waiting on an operation"
    (name,) = operator._running.copy()
    operator.on_kill()
    worker.join(30)
    assert not worker.is_alive(), "execute kept waiting after the operation was cancelled"
    return name, outcome["error"]


def _assert_cancelled(name: str) -> None:
    operation = DialogflowCXHook(gcp_conn_id=CONN_ID).get_operation(name)
    assert operation.done
    assert operation.error.code == 1  # CANCELLED


def test_killing_an_export_cancels_it(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any, tmp_path: Path
) -> None:
    _, agent = _slow_server(monkeypatch, cx_emulator_factory)
    operator = CXExportAgentOperator(
        task_id="export", agent=agent, gcp_conn_id=CONN_ID, destination=str(tmp_path / "agent.zip"), poll_interval=0.05
    )
    name, error = _kill_while_waiting(operator)
    _assert_cancelled(name)
    assert isinstance(error, CXOperationFailedError)
    assert error.code == "CANCELLED"
    assert not (tmp_path / "agent.zip").exists()
    assert not operator._running


def test_killing_a_restore_cancels_it(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any, tmp_path: Path
) -> None:
    _, agent = _slow_server(monkeypatch, cx_emulator_factory)
    source = tmp_path / "source.zip"
    source.write_bytes(write_zip(read_package(sample_agent_path())))
    operator = CXRestoreAgentOperator(
        task_id="restore", agent=agent, gcp_conn_id=CONN_ID, source=str(source), poll_interval=0.05
    )
    name, error = _kill_while_waiting(operator)
    _assert_cancelled(name)
    assert isinstance(error, CXOperationFailedError)
    assert error.code == "CANCELLED"


def test_on_kill_with_nothing_running_calls_nothing(monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any) -> None:
    server, agent = _slow_server(monkeypatch, cx_emulator_factory)
    before = server.backend.calls.snapshot()["counts"]
    operator = CXExportAgentOperator(task_id="export", agent=agent, gcp_conn_id=CONN_ID, destination="/tmp/unused.zip")
    operator.on_kill()  # no hook is even built
    assert "hook" not in operator.__dict__
    assert server.backend.calls.snapshot()["counts"] == before  # not one RPC, CancelOperation included
