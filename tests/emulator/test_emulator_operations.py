"""google.longrunning Operations: finished on a timer, polled, listed, cancelled."""

from __future__ import annotations

import time

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx
from google.longrunning import operations_pb2

from airflow_provider_cx.emulator.testing import TEST_PARENT as PARENT
from airflow_provider_cx.emulator.testing import create_test_agent as create_agent
from airflow_provider_cx.emulator.testing import package_bytes as source_bytes


def test_operation_is_pending_then_done_when_polled(cx_emulator_factory):
    server = cx_emulator_factory(operation_delay=0.3)
    agents = server.client(cx.AgentsClient)
    agent = create_agent(agents)
    op = agents.export_agent(request=cx.ExportAgentRequest(name=agent.name))
    name = op.operation.name
    assert name.startswith(f"{PARENT}/operations/")
    assert not agents.get_operation(request={"name": name}).done
    deadline = time.monotonic() + 5
    while not (polled := agents.get_operation(request={"name": name})).done:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert polled.response.type_url.endswith("ExportAgentResponse")
    assert op.result(timeout=1).agent_content


def test_cancel_before_done_stops_the_work(cx_emulator_factory, shared_agents):
    server = cx_emulator_factory(operation_delay=30)
    agents = server.client(cx.AgentsClient)
    agent = create_agent(agents)
    op = agents.restore_agent(
        request=cx.RestoreAgentRequest(name=agent.name, agent_content=source_bytes(shared_agents[0]))
    )
    agents.cancel_operation(request={"name": op.operation.name})
    polled = agents.get_operation(request={"name": op.operation.name})
    assert polled.done
    assert polled.error.code == 1  # CANCELLED
    with pytest.raises(exceptions.GoogleAPICallError):
        op.result(timeout=1)
    assert [f.display_name for f in server.backend.store.get(agent.name).package.flows] == ["Default Start Flow"]


def test_list_operations_pages_and_filters(cx_emulator_factory):
    server = cx_emulator_factory(operation_delay=30)
    agents = server.client(cx.AgentsClient)
    agent = create_agent(agents)
    names = {agents.export_agent(request=cx.ExportAgentRequest(name=agent.name)).operation.name for _ in range(3)}
    agents.cancel_operation(request={"name": sorted(names)[0]})
    channel = server.channel()
    list_ops = channel.unary_unary(
        "/google.longrunning.Operations/ListOperations",
        request_serializer=operations_pb2.ListOperationsRequest.SerializeToString,
        response_deserializer=operations_pb2.ListOperationsResponse.FromString,
    )
    first = list_ops(operations_pb2.ListOperationsRequest(name=PARENT, page_size=2))
    second = list_ops(operations_pb2.ListOperationsRequest(name=PARENT, page_size=2, page_token=first.next_page_token))
    assert {op.name for op in [*first.operations, *second.operations]} == names
    assert not second.next_page_token
    done = list_ops(operations_pb2.ListOperationsRequest(name=PARENT, filter="done=true"))
    assert [op.name for op in done.operations] == [sorted(names)[0]]


def test_unknown_operation_is_not_found(cx_client):
    agents = cx_client(cx.AgentsClient)
    with pytest.raises(exceptions.NotFound, match="operations/nope"):
        agents.get_operation(request={"name": f"{PARENT}/operations/nope"})
