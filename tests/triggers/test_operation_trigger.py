"""CXOperationTrigger on one operation (the common case) against the emulator: serialisation, its three
events and the minimum deferral. Several operations at once: test_operation_group_trigger.py."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_cx.emulator.testing import TEST_PARENT, create_test_agent
from airflow_provider_cx.triggers.operation import CXOperationTrigger

CONN = "cx_trigger_test"


def _connect(monkeypatch: pytest.MonkeyPatch, server: Any) -> None:
    extra = {"emulator_host": server.address, "project": "test-project"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", json.dumps({"conn_type": "dialogflow_cx", "extra": extra}))


def _start_export(server: Any) -> str:
    from google.cloud import dialogflowcx_v3 as cx

    client = server.client(cx.AgentsClient)
    agent = create_test_agent(client, parent=TEST_PARENT)
    return client.export_agent(request={"name": agent.name}).operation.name


def _first_event(trigger: CXOperationTrigger) -> dict[str, Any]:
    import asyncio

    async def first() -> Any:
        agen = trigger.run()
        try:
            return await agen.__anext__()
        finally:
            await agen.aclose()

    return asyncio.run(asyncio.wait_for(first(), 20)).payload


def test_serialize_names_exactly_its_arguments() -> None:
    deferred_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    trigger = CXOperationTrigger(
        "projects/p/locations/global/operations/1",
        "c",
        ["sa@x"],
        2.0,
        60.0,
        resume={"then": "finish"},
        min_deferral=7.5,
        deferred_at=deferred_at,
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_cx.triggers.operation.CXOperationTrigger"
    assert kwargs == {
        "operation_names": ["projects/p/locations/global/operations/1"],
        "gcp_conn_id": "c",
        "impersonation_chain": ["sa@x"],
        "poll_interval": 2.0,
        "timeout": 60.0,
        "resume": {"then": "finish"},
        "retry_policy": None,
        "min_deferral": 7.5,
        "deferred_at": deferred_at,
    }
    assert CXOperationTrigger(**kwargs).serialize() == (path, kwargs)


def test_a_trigger_serialised_by_an_earlier_release_still_builds() -> None:
    """Earlier releases serialised ``operation_name``; a task deferred before an upgrade resumes after it."""
    old = {"operation_name": "projects/p/locations/global/operations/1", "gcp_conn_id": "c", "min_deferral": 0}
    path, kwargs = CXOperationTrigger(**old).serialize()
    assert path == "airflow_provider_cx.triggers.operation.CXOperationTrigger"
    assert kwargs["operation_names"] == ["projects/p/locations/global/operations/1"]


def test_success_event(monkeypatch: pytest.MonkeyPatch, cx_emulator: Any) -> None:
    _connect(monkeypatch, cx_emulator)
    name = _start_export(cx_emulator)
    event = _first_event(CXOperationTrigger(name, CONN, poll_interval=0.02, timeout=20, resume={"k": [1]}))
    assert event == {"status": "success", "operation_names": [name], "resume": {"k": [1]}}


def test_error_event_carries_code_and_message(monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any) -> None:
    plan = {"methods": {"Agents/ExportAgent": {"operation_failure_rate": 1.0, "operation_error_code": "ABORTED"}}}
    server = cx_emulator_factory(faults=plan)
    _connect(monkeypatch, server)
    name = _start_export(server)
    event = _first_event(CXOperationTrigger(name, CONN, poll_interval=0.02, timeout=20))
    assert event["status"] == "error"
    assert event["code"] == "ABORTED"
    assert event["message"]


def _operation(server: Any, name: str) -> Any:
    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook

    return DialogflowCXHook(gcp_conn_id=CONN).get_operation(name)


def test_on_timeout_the_operation_is_cancelled_and_an_error_event_says_so(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any
) -> None:
    server = cx_emulator_factory(operation_delay=30)
    _connect(monkeypatch, server)
    name = _start_export(server)
    event = _first_event(CXOperationTrigger(name, CONN, poll_interval=0.05, timeout=0.3, resume={"k": 1}))
    message = event.pop("message")
    assert event == {
        "status": "error",
        "code": "DEADLINE_EXCEEDED",
        "timeout": 0.3,
        "running": [name],
        "cancelled": [name],
        "operation_names": [name],
        "resume": {"k": 1},
    }
    assert message == f"long-running operation {name} not done after 0.3s; cancellation was requested " + (
        "(the server cancels on a best-effort basis)"
    )
    operation = _operation(server, name)
    assert operation.done
    assert operation.error.code == 1  # CANCELLED


def test_a_refused_cancellation_is_reported_in_the_event(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any
) -> None:
    faults = {"methods": {"Operations/CancelOperation": {"error_rate": 1.0, "codes": ["PERMISSION_DENIED"]}}}
    server = cx_emulator_factory(operation_delay=30, faults=faults)
    _connect(monkeypatch, server)
    name = _start_export(server)
    event = _first_event(CXOperationTrigger(name, CONN, poll_interval=0.05, timeout=0.3))
    assert (event["status"], event["code"], event["running"], event["cancelled"]) == (
        "error",
        "DEADLINE_EXCEEDED",
        [name],
        [],
    )
    assert "cancelling it failed, so it may still be running" in event["message"]
    assert not _operation(server, name).done


# --- minimum deferral (apache/airflow#71580) -----------------------------------------------------------


def _finished_export(server: Any) -> str:
    """An export operation that is already done, so the trigger's first poll sees it finished."""
    name = _start_export(server)
    deadline = time.monotonic() + 10
    while not _operation(server, name).done:
        assert time.monotonic() < deadline, f"{name} not done within 10 s"
        time.sleep(0.02)
    return name


def _seconds_since(moment: datetime) -> float:
    return (datetime.now(UTC) - moment).total_seconds()


def test_min_deferral_comes_from_airflow_config_else_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_cx.triggers.operation import DEFAULT_MIN_DEFERRAL

    variable = "AIRFLOW__DIALOGFLOW_CX__TRIGGER_MIN_DEFERRAL"
    monkeypatch.setenv(variable, "3.5")
    assert CXOperationTrigger("projects/p/locations/global/operations/1").min_deferral == 3.5
    monkeypatch.delenv(variable)
    assert CXOperationTrigger("projects/p/locations/global/operations/1").min_deferral == DEFAULT_MIN_DEFERRAL
    assert CXOperationTrigger("projects/p/locations/global/operations/1", min_deferral=1).min_deferral == 1.0


def test_deferred_at_defaults_to_when_the_trigger_is_built() -> None:
    before = datetime.now(UTC)
    trigger = CXOperationTrigger("projects/p/locations/global/operations/1", min_deferral=5)
    assert before <= trigger.deferred_at <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_deferral": -1}, "min_deferral must be >= 0 seconds, got -1"),
        ({"deferred_at": datetime(2026, 1, 1)}, "deferred_at must be timezone-aware, got 2026-01-01T00:00:00"),
    ],
)
def test_bad_deferral_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CXOperationTrigger("projects/p/locations/global/operations/1", **kwargs)


def test_a_done_operation_is_not_reported_before_the_minimum_deferral(
    monkeypatch: pytest.MonkeyPatch, cx_emulator: Any
) -> None:
    _connect(monkeypatch, cx_emulator)
    name = _finished_export(cx_emulator)
    deferred_at = datetime.now(UTC)
    trigger = CXOperationTrigger(name, CONN, poll_interval=0.02, timeout=20, min_deferral=1.5, deferred_at=deferred_at)
    event = _first_event(trigger)
    assert _seconds_since(deferred_at) >= 1.5
    assert event == {"status": "success", "operation_names": [name], "resume": None}


def test_a_timeout_event_also_waits_for_the_minimum_deferral(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any
) -> None:
    server = cx_emulator_factory(operation_delay=30)
    _connect(monkeypatch, server)
    name = _start_export(server)
    deferred_at = datetime.now(UTC)
    trigger = CXOperationTrigger(name, CONN, poll_interval=0.05, timeout=0.2, min_deferral=1.0, deferred_at=deferred_at)
    event = _first_event(trigger)
    assert _seconds_since(deferred_at) >= 1.0
    assert (event["status"], event["code"]) == ("error", "DEADLINE_EXCEEDED")


@pytest.mark.parametrize("serde", ["task_sdk", "trigger_table"])
def test_the_deferral_start_survives_serialisation(serde: str) -> None:
    """What the worker hands over (dag.test's serde) and what the triggerer reads back (the trigger row)."""
    deferred_at = datetime.now(UTC) - timedelta(seconds=30)
    trigger = CXOperationTrigger(
        "projects/p/locations/global/operations/1", "c", min_deferral=60.0, deferred_at=deferred_at
    )
    if serde == "task_sdk":
        from airflow.sdk.serde import deserialize, serialize

        kwargs = deserialize(serialize(trigger.serialize()[1]))
    else:
        from airflow.models.trigger import Trigger

        kwargs = Trigger.from_object(trigger).kwargs
    rebuilt = CXOperationTrigger(**kwargs)
    assert (rebuilt.min_deferral, rebuilt.deferred_at) == (60.0, deferred_at)
    assert 20 < rebuilt._deferral_remaining() <= 30  # counted from the original start, not from the rebuild


def test_a_restart_past_the_minimum_deferral_reports_at_once(monkeypatch: pytest.MonkeyPatch, cx_emulator: Any) -> None:
    _connect(monkeypatch, cx_emulator)
    name = _finished_export(cx_emulator)
    _, kwargs = CXOperationTrigger(
        name,
        CONN,
        poll_interval=0.02,
        timeout=20,
        min_deferral=10,
        deferred_at=datetime.now(UTC) - timedelta(seconds=30),
    ).serialize()
    started = time.monotonic()
    event = _first_event(CXOperationTrigger(**kwargs))  # the triggerer rebuilding it after a restart
    assert time.monotonic() - started < 5  # far less than the 10 s minimum a reset would impose
    assert event["status"] == "success"


def test_a_restart_within_the_minimum_deferral_waits_only_the_remainder(
    monkeypatch: pytest.MonkeyPatch, cx_emulator: Any
) -> None:
    _connect(monkeypatch, cx_emulator)
    name = _finished_export(cx_emulator)
    deferred_at = datetime.now(UTC) - timedelta(seconds=1.0)
    _, kwargs = CXOperationTrigger(
        name, CONN, poll_interval=0.02, timeout=20, min_deferral=2.5, deferred_at=deferred_at
    ).serialize()
    started = time.monotonic()
    event = _first_event(CXOperationTrigger(**kwargs))
    waited = time.monotonic() - started
    assert _seconds_since(deferred_at) >= 2.5
    assert waited < 2.3  # counted from the deferral (1 s ago), not from the rebuild
    assert event["status"] == "success"
