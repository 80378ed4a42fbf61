"""Sixteen clients at once, each on its own channel, doing writes, reads, listing and operations."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.emulator.testing import create_test_agent, unique_name, wait_for

CLIENTS = 16


def test_sixteen_concurrent_clients(cx_emulator_factory):
    server = cx_emulator_factory()
    parent = f"projects/{unique_name('concurrent')}/locations/global"

    def session(n: int) -> tuple[str, int, int]:
        agents = server.client(cx.AgentsClient)
        intents = server.client(cx.IntentsClient)
        agent = create_test_agent(agents, f"agent-{n}", parent=parent)
        for i in range(5):
            intents.create_intent(parent=agent.name, intent=cx.Intent(display_name=f"intent-{n}-{i}"))
        listed = len(list(intents.list_intents(parent=agent.name)))
        request = cx.ExportAgentRequest(name=agent.name, data_format=cx.ExportAgentRequest.DataFormat.JSON_PACKAGE)
        exported = wait_for(agents.export_agent(request=request)).agent_content
        return agent.name, listed, len(exported)

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(session, range(CLIENTS)))
    assert len({name for name, _, _ in results}) == CLIENTS
    assert all(listed == 7 for _, listed, _ in results)  # 5 created + the two default intents
    assert all(size > 0 for _, _, size in results)
    names = {a.name for a in server.client(cx.AgentsClient).list_agents(parent=parent)}
    assert names == {name for name, _, _ in results}
    counts = server.admin().counts()
    assert counts["/google.cloud.dialogflow.cx.v3.Intents/CreateIntent"] == CLIENTS * 5
    peers = {c["peer"] for c in server.admin().stats()["callers"]}
    assert len(peers) >= CLIENTS
