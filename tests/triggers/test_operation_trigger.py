"""CXOperationTrigger against the emulator: serialisation and its three events."""

from __future__ import annotations

import json
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
    trigger = CXOperationTrigger(
        "projects/p/locations/global/operations/1", "c", ["sa@x"], 2.0, 60.0, resume={"then": "finish"}
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_cx.triggers.operation.CXOperationTrigger"
    assert kwargs == {
        "operation_name": "projects/p/locations/global/operations/1",
        "gcp_conn_id": "c",
        "impersonation_chain": ["sa@x"],
        "poll_interval": 2.0,
        "timeout": 60.0,
        "resume": {"then": "finish"},
        "retry_policy": None,
    }
    assert CXOperationTrigger(**kwargs).serialize() == (path, kwargs)


def test_success_event(monkeypatch: pytest.MonkeyPatch, cx_emulator: Any) -> None:
    _connect(monkeypatch, cx_emulator)
    name = _start_export(cx_emulator)
    event = _first_event(CXOperationTrigger(name, CONN, poll_interval=0.02, timeout=20, resume={"k": [1]}))
    assert event == {"status": "success", "operation_name": name, "resume": {"k": [1]}}


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
        "operation_name": name,
        "code": "DEADLINE_EXCEEDED",
        "timeout": 0.3,
        "cancelled": True,
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
    assert (event["status"], event["code"], event["cancelled"]) == ("error", "DEADLINE_EXCEEDED", False)
    assert "cancelling it failed, so it may still be running" in event["message"]
    assert not _operation(server, name).done
