"""CXOperationGroupTrigger against the emulator: serialisation, its three events and the minimum deferral."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_cx.emulator.testing import TEST_PARENT, create_test_agent
from airflow_provider_cx.triggers.operation_group import CXOperationGroupTrigger

CONN = "cx_group_trigger_test"
FAILING_EXPORTS = {
    "methods": {"Agents/ExportAgent": {"operation_failure_rate": 1.0, "operation_error_code": "ABORTED"}}
}


def _connect(monkeypatch: pytest.MonkeyPatch, server: Any) -> None:
    extra = {"emulator_host": server.address, "project": "test-project"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", json.dumps({"conn_type": "dialogflow_cx", "extra": extra}))


def _start_exports(server: Any, count: int) -> list[str]:
    """``count`` export operations, each of a new agent."""
    from google.cloud import dialogflowcx_v3 as cx

    client = server.client(cx.AgentsClient)
    agents = [create_test_agent(client, parent=TEST_PARENT) for _ in range(count)]
    return [client.export_agent(request={"name": agent.name}).operation.name for agent in agents]


def _operation(server: Any, name: str) -> Any:
    from google.cloud import dialogflowcx_v3 as cx

    return server.client(cx.AgentsClient).get_operation(request={"name": name})


def _first_event(trigger: CXOperationGroupTrigger, timeout: float = 20) -> dict[str, Any]:
    async def first() -> Any:
        agen = trigger.run()
        try:
            return await agen.__anext__()
        finally:
            await agen.aclose()

    return asyncio.run(asyncio.wait_for(first(), timeout)).payload


def test_serialize_names_exactly_its_arguments() -> None:
    deferred_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    names = ["projects/p/locations/global/operations/1", "projects/p/locations/global/operations/2"]
    trigger = CXOperationGroupTrigger(
        [*names, names[0]], "c", ["sa@x"], 2.0, 60.0, resume={"flows": [{"flow": "A"}]}, min_deferral=7.5,
        deferred_at=deferred_at,
    )  # fmt: skip
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_cx.triggers.operation.CXOperationTrigger"  # one trigger class now
    assert kwargs == {
        "operation_names": names,  # the repeat is dropped
        "gcp_conn_id": "c",
        "impersonation_chain": ["sa@x"],
        "poll_interval": 2.0,
        "timeout": 60.0,
        "resume": {"flows": [{"flow": "A"}]},
        "retry_policy": None,
        "min_deferral": 7.5,
        "deferred_at": deferred_at,
    }
    assert CXOperationGroupTrigger(**kwargs).serialize() == (path, kwargs)


@pytest.mark.parametrize("serde", ["task_sdk", "trigger_table"])
def test_the_names_and_the_deferral_start_survive_airflow_serialisation(serde: str) -> None:
    """What the worker hands over (dag.test's serde) and what the triggerer reads back (the trigger row)."""
    deferred_at = datetime.now(UTC) - timedelta(seconds=30)
    names = ["projects/p/locations/global/operations/1", "projects/p/locations/global/operations/2"]
    trigger = CXOperationGroupTrigger(names, "c", min_deferral=60.0, deferred_at=deferred_at, resume={"k": [1]})
    if serde == "task_sdk":
        from airflow.sdk.serde import deserialize, serialize

        kwargs = deserialize(serialize(trigger.serialize()[1]))
    else:
        from airflow.models.trigger import Trigger

        kwargs = Trigger.from_object(trigger).kwargs
    rebuilt = CXOperationGroupTrigger(**kwargs)
    assert rebuilt.serialize() == trigger.serialize()
    assert 20 < rebuilt._deferral_remaining() <= 30  # counted from the original start, not from the rebuild


@pytest.mark.parametrize("names", [[], "", ["projects/p/locations/global/operations/1", ""], [None]])
def test_no_operations_or_a_blank_name_is_refused(names: Any) -> None:
    with pytest.raises(ValueError, match="operation_names must be a non-empty list"):
        CXOperationGroupTrigger(names)


def test_a_bare_string_is_a_group_of_one() -> None:
    """The former group trigger is the one trigger: a single name is the single-operation case."""
    from airflow_provider_cx.triggers.operation import CXOperationTrigger

    assert CXOperationGroupTrigger is CXOperationTrigger
    name = "projects/p/locations/global/operations/1"
    assert CXOperationGroupTrigger(name).operation_names == [name]


def test_one_success_event_once_every_operation_is_done(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any
) -> None:
    server = cx_emulator_factory(operation_delay=0.3)
    _connect(monkeypatch, server)
    names = _start_exports(server, 3)
    event = _first_event(CXOperationGroupTrigger(names, CONN, poll_interval=0.02, timeout=20, resume={"k": 1}))
    assert event == {"status": "success", "operation_names": names, "resume": {"k": 1}}
    assert all(_operation(server, name).done for name in names)


def test_the_first_failure_is_reported_and_the_others_are_left_running(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any
) -> None:
    server = cx_emulator_factory(operation_delay=30)
    _connect(monkeypatch, server)
    admin = server.admin()
    slow = _start_exports(server, 2)  # still running when the failure is seen
    admin.set_operation_delay(0.05)
    admin.set_faults(FAILING_EXPORTS)
    (failing,) = _start_exports(server, 1)
    event = _first_event(CXOperationGroupTrigger([*slow, failing], CONN, poll_interval=0.02, timeout=20))
    assert (event["status"], event["operation_name"], event["code"]) == ("error", failing, "ABORTED")
    assert "injected operation failure" in event["message"]
    assert event["operation_names"] == [*slow, failing]
    assert not any(_operation(server, name).done for name in slow)  # not cancelled: not this trigger's call


def test_on_timeout_what_still_runs_is_cancelled_and_the_event_lists_it(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any
) -> None:
    server = cx_emulator_factory(operation_delay=0.05)
    _connect(monkeypatch, server)
    finished = _start_exports(server, 1)
    server.admin().set_operation_delay(30)
    running = _start_exports(server, 2)
    names = [*finished, *running]
    event = _first_event(CXOperationGroupTrigger(names, CONN, poll_interval=0.05, timeout=0.5, resume={"k": 1}))
    message = event.pop("message")
    assert event == {
        "status": "error",
        "code": "DEADLINE_EXCEEDED",
        "timeout": 0.5,
        "running": running,
        "cancelled": running,
        "operation_names": names,
        "resume": {"k": 1},
    }
    assert message.startswith("2 of 3 long-running operation(s) not done after 0.5s; cancellation requested for 2")
    for name in running:
        operation = _operation(server, name)
        assert (operation.done, operation.error.code) == (True, 1)  # CANCELLED
    assert not _operation(server, finished[0]).HasField("error")


def test_a_refused_cancellation_is_reported_in_the_event(
    monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any
) -> None:
    faults = {"methods": {"Operations/CancelOperation": {"error_rate": 1.0, "codes": ["PERMISSION_DENIED"]}}}
    server = cx_emulator_factory(operation_delay=30, faults=faults)
    _connect(monkeypatch, server)
    names = _start_exports(server, 2)
    event = _first_event(CXOperationGroupTrigger(names, CONN, poll_interval=0.05, timeout=0.3))
    assert (event["status"], event["code"], event["running"], event["cancelled"]) == (
        "error",
        "DEADLINE_EXCEEDED",
        names,
        [],
    )
    assert not any(_operation(server, name).done for name in names)


def test_no_event_before_the_minimum_deferral(monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any) -> None:
    server = cx_emulator_factory(operation_delay=0.05)
    _connect(monkeypatch, server)
    names = _start_exports(server, 2)
    deferred_at = datetime.now(UTC)
    trigger = CXOperationGroupTrigger(
        names, CONN, poll_interval=0.02, timeout=20, min_deferral=1.5, deferred_at=deferred_at
    )
    event = _first_event(trigger)
    assert (datetime.now(UTC) - deferred_at).total_seconds() >= 1.5
    assert event["status"] == "success"
