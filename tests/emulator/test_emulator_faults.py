"""Fault injection (--faults and the admin interface), call counts and caller records."""

from __future__ import annotations

import os
import time

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.emulator.calls import CALLER_PID_METADATA
from airflow_provider_cx.emulator.faults import FaultPlan, FaultSpecError
from airflow_provider_cx.emulator.testing import create_test_agent, wait_for

GET_AGENT = "/google.cloud.dialogflow.cx.v3.Agents/GetAgent"


def _failures(server, agent_name, calls=40):
    agents = server.client(cx.AgentsClient)
    outcome = []
    for _ in range(calls):
        try:
            agents.get_agent(name=agent_name, retry=None)
            outcome.append(None)
        except exceptions.GoogleAPICallError as err:
            outcome.append(err.grpc_status_code.name)
    return outcome


def test_error_rate_and_codes_are_reproducible_with_a_seed(cx_emulator_factory):
    plan = {"seed": 7, "methods": {"Agents/GetAgent": {"error_rate": 0.5, "codes": ["UNAVAILABLE", "ABORTED"]}}}
    runs = []
    for _ in range(2):
        server = cx_emulator_factory(faults=plan)
        agent = create_test_agent(server.client(cx.AgentsClient))  # CreateAgent has no faults
        runs.append(_failures(server, agent.name))
    assert runs[0] == runs[1]
    assert {"UNAVAILABLE", "ABORTED"} <= set(runs[0])
    assert 5 < runs[0].count(None) < 35


def test_injected_failure_changes_nothing(cx_emulator_factory):
    server = cx_emulator_factory(faults={"methods": {"Agents/UpdateAgent": {"error_rate": 1.0, "codes": ["INTERNAL"]}}})
    agents = server.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    agent.description = "changed"
    with pytest.raises(exceptions.InternalServerError, match="injected fault"):
        agents.update_agent(agent=agent, retry=None)
    assert agents.get_agent(name=agent.name).description == ""


def test_latency_is_added(cx_emulator_factory):
    server = cx_emulator_factory(faults={"methods": {"*GetAgent": {"latency_ms": 300}}})
    agents = server.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    start = time.monotonic()
    agents.get_agent(name=agent.name)
    assert time.monotonic() - start >= 0.3


def test_failed_operations(cx_emulator_factory, shared_agents):
    plan = {"methods": {"Agents/RestoreAgent": {"operation_failure_rate": 1.0, "operation_error_code": "ABORTED"}}}
    server = cx_emulator_factory(faults=plan)
    agents = server.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    op = agents.restore_agent(
        request=cx.RestoreAgentRequest(name=agent.name, agent_content=shared_agents[0].read_bytes())
    )
    with pytest.raises(exceptions.Aborted, match="injected operation failure"):
        wait_for(op)
    assert [f.display_name for f in server.backend.store.get(agent.name).package.flows] == ["Default Start Flow"]


def test_admin_sets_faults_at_run_time_and_reports_counts_and_callers(cx_emulator_factory):
    server = cx_emulator_factory()
    admin = server.admin()
    agents = server.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    admin.reset_stats()
    agents.get_agent(name=agent.name, metadata=[(CALLER_PID_METADATA, str(os.getpid()))])
    admin.set_faults({"methods": {"Agents/GetAgent": {"error_rate": 1.0, "codes": ["RESOURCE_EXHAUSTED"]}}})
    assert admin.faults()["methods"]["Agents/GetAgent"]["error_rate"] == 1.0
    with pytest.raises(exceptions.ResourceExhausted):
        agents.get_agent(name=agent.name, retry=None)
    admin.set_faults(None)
    agents.get_agent(name=agent.name)
    stats = admin.stats()
    assert stats["counts"] == {GET_AGENT: 3}
    first = stats["callers"][0]
    assert first[CALLER_PID_METADATA] == str(os.getpid())
    assert first["peer"].startswith(("ipv4:", "ipv6:"))
    assert "gapic/" in first["x-goog-api-client"]
    assert all("authorization" not in c for c in stats["callers"])


def test_admin_refuses_bad_plans_and_sets_operation_delay(cx_emulator_factory):
    server = cx_emulator_factory(operation_delay=60)
    admin = server.admin()
    with pytest.raises(grpc.RpcError) as err:
        admin.set_faults({"methods": {"*": {"codes": ["NOPE"]}}})
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    admin.set_operation_delay(0.01)
    agents = server.client(cx.AgentsClient)
    assert wait_for(agents.export_agent(request={"name": create_test_agent(agents).name}), timeout=5).agent_content


def test_fault_plan_parsing():
    plan = FaultPlan.parse('{"seed": 3, "methods": {"*": {"error_rate": 0.3, "latency_ms": 5}}}')
    assert plan.seed == 3
    assert plan.methods["*"].codes == ("UNAVAILABLE",)
    for bad, message in (
        ("[1]", "JSON object"),
        ('{"methods": {"*": {"rate": 1}}}', "unknown keys"),
        ('{"methods": {"*": {"latency_ms": -1}}}', "latency_ms"),
        ('{"faults": {}}', "unknown keys"),
        ("{not json", "not valid JSON"),
    ):
        with pytest.raises(FaultSpecError, match=message):
            FaultPlan.parse(bad)
