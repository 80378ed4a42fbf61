"""Harness for operator tests: the emulator, a connection to it, agents to act on, a task context,
and a deferral round trip.

Operators are called the way a worker calls them (``execute(context)``), against the emulator over
real gRPC with the stock clients: no mocks. Helpers (``from operator_harness import ...``):

- ``connect(monkeypatch, server)``: define connection ``CONN_ID`` (``AIRFLOW_CONN_CX_EMULATOR``) to a server;
- ``make_context()``: a minimal Airflow context whose ``ti`` records XCom pushes in ``ti.xcom``;
- ``run_deferred(operator, context)``: execute -> TaskDeferred -> trigger ``run()`` to its first
  event -> the completion method; returns ``(result, event_payload)``;
- ``new_agent(server)``: an agent restored from the sample agent (or any package) in a fresh name;
- ``export_files(server, agent)``: the agent's export as ``{path: parsed JSON}`` to compare before/after.

Fixtures: ``cx_connection`` (the shared emulator connected, yields the server), ``sample_agent`` (a
fresh agent restored from the sample agent on the shared emulator).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cx.emulator.testing import (
    TEST_PARENT,
    create_test_agent,
    package_bytes,
    unique_name,
    wait_for,
    zip_files_as_json,
)
from airflow_provider_cx.sample_agent import sample_agent_path

CONN_ID = "cx_emulator"
#: Short waits: the test emulator finishes operations after 0.05 s.
FAST = {"poll_interval": 0.05, "operation_timeout": 30}


def connect(monkeypatch: pytest.MonkeyPatch, server: Any, conn_id: str = CONN_ID, **extra: Any) -> str:
    """Point Airflow connection ``conn_id`` at ``server`` through the ``emulator_host`` extra."""
    body = {
        "conn_type": "dialogflow_cx",
        "extra": {"emulator_host": server.address, "project": "test-project", **extra},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(body))
    return conn_id


def isolate_google_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient emulator host or Google credentials from the machine leak into a test."""
    monkeypatch.delenv("DIALOGFLOW_CX_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")


def new_agent(server: Any, source: str | Path | bytes | None = None, display_name: str | None = None) -> str:
    """Create an agent on ``server`` and restore ``source`` (default: the sample agent) into it."""
    from google.cloud import dialogflowcx_v3 as cx

    client = server.client(cx.AgentsClient)
    agent = create_test_agent(client, display_name or unique_name("op-test"), parent=TEST_PARENT)
    content = source if isinstance(source, bytes) else package_bytes(source or sample_agent_path())
    wait_for(client.restore_agent(request={"name": agent.name, "agent_content": content}))
    return agent.name


def export_bytes(server: Any, agent: str, environment: str | None = None) -> bytes:
    """The agent's (or environment's) JSON package, exported with the stock client."""
    from google.cloud import dialogflowcx_v3 as cx

    client = server.client(cx.AgentsClient)
    request: dict[str, Any] = {"name": agent, "data_format": cx.ExportAgentRequest.DataFormat.JSON_PACKAGE}
    if environment:
        request["environment"] = environment
    return wait_for(client.export_agent(request=request)).agent_content


def export_files(server: Any, agent: str, environment: str | None = None) -> dict[str, Any]:
    """The agent's export as ``{relative path: parsed JSON}``, for before/after comparisons."""
    return zip_files_as_json(export_bytes(server, agent, environment))


def flow_versions(server: Any, agent: str, label: str = "v") -> list[str]:
    """Create a version of every flow of ``agent``; return the version names."""
    from google.cloud import dialogflowcx_v3 as cx

    flows = server.client(cx.FlowsClient).list_flows(parent=agent)
    versions = server.client(cx.VersionsClient)
    return [
        wait_for(versions.create_version(parent=flow.name, version=cx.Version(display_name=label))).name
        for flow in flows
    ]


def new_environment(server: Any, agent: str, display_name: str | None = None) -> str:
    """An environment of ``agent`` serving a fresh version of every flow; returns its name."""
    from google.cloud import dialogflowcx_v3 as cx

    configs = [cx.Environment.VersionConfig(version=name) for name in flow_versions(server, agent)]
    environment = cx.Environment(display_name=display_name or unique_name("env"), version_configs=configs)
    operation = server.client(cx.EnvironmentsClient).create_environment(parent=agent, environment=environment)
    return wait_for(operation).name


def redeploy(server: Any, environment: str, label: str = "v2") -> list[str]:
    """Point ``environment`` at new versions of every flow (UpdateEnvironment); returns them."""
    from google.cloud import dialogflowcx_v3 as cx

    agent = environment.split("/environments/")[0]
    client = server.client(cx.EnvironmentsClient)
    current = client.get_environment(name=environment)
    versions = flow_versions(server, agent, label)
    current.version_configs = [cx.Environment.VersionConfig(version=name) for name in versions]
    wait_for(client.update_environment(environment=current, update_mask={"paths": ["version_configs"]}))
    return versions


# --- a minimal task context ------------------------------------------------------------------------


@dataclass
class RecordingTaskInstance:
    """Stands in for ``context["ti"]``: records pushes, answers pulls from them (or from ``upstream``)."""

    task_id: str = "task"
    dag_id: str = "dag"
    run_id: str = "manual__test"
    try_number: int = 1
    map_index: int = -1
    xcom: dict[str, Any] = field(default_factory=dict)
    upstream: dict[tuple[str, str], Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)  # what a real XCom backend would refuse, refuse here too
        self.xcom[key] = value

    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value", **_: Any) -> Any:
        if task_ids is None or task_ids == self.task_id:
            return self.xcom.get(key)
        return self.upstream.get((task_ids, key))


def make_context(task: Any = None, **extra: Any) -> dict[str, Any]:
    """A context for ``execute``/``render_template_fields``: ti, task, params, run ids and dates."""
    import pendulum
    from airflow.sdk.execution_time.context import OutletEventAccessors

    ti = RecordingTaskInstance(task_id=getattr(task, "task_id", "task"))
    logical_date = pendulum.datetime(2024, 5, 17, tz="UTC")
    context: dict[str, Any] = {
        "ti": ti,
        "task_instance": ti,
        "task": task,
        "params": {},
        "run_id": ti.run_id,
        "dag_run": None,
        "logical_date": logical_date,
        "ds": logical_date.to_date_string(),
        "ds_nodash": logical_date.format("YYYYMMDD"),
        "ts_nodash": logical_date.format("YYYYMMDDTHHmmss"),
        "outlet_events": OutletEventAccessors(),
        "var": {},
    }
    context.update(extra)
    return context


def render(operator: Any, context: dict[str, Any]) -> Any:
    """Render the operator's template fields in place, as the worker does before execute."""
    from jinja2 import Environment, StrictUndefined

    operator.render_template_fields(context, jinja_env=Environment(undefined=StrictUndefined))
    return operator


# --- deferral round trip ------------------------------------------------------------------------------


def first_event(trigger: Any, timeout: float = 30.0) -> dict[str, Any]:
    """Run ``trigger.run()`` until its first event (as the triggerer would) and return the payload."""

    async def take_first() -> Any:
        agen = trigger.run()
        try:
            return await agen.__anext__()
        finally:
            await agen.aclose()

    event = asyncio.run(asyncio.wait_for(take_first(), timeout))
    return event.payload


def run_deferred(operator: Any, context: dict[str, Any], timeout: float = 30.0) -> tuple[Any, dict[str, Any]]:
    """execute -> TaskDeferred -> trigger run() -> the completion method, as often as the task defers.

    Returns ``(result, last event)``; ``operator.deferral_events`` (set here) lists every event.
    """
    from airflow.sdk.exceptions import TaskDeferred
    from airflow.sdk.module_loading import import_string

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    pending: TaskDeferred | None = deferred.value
    events: list[dict[str, Any]] = []
    while pending is not None:
        # What the triggerer receives is the serialised trigger: rebuild it from serialize() to prove it suffices.
        path, kwargs = pending.trigger.serialize()
        event = first_event(import_string(path)(**kwargs), timeout)
        events.append(event)
        method = getattr(operator, pending.method_name)
        try:
            result = method(context, event=event, **(pending.kwargs or {}))
            pending = None
        except TaskDeferred as again:
            pending = again
    operator.deferral_events = events
    return result, events[-1]
