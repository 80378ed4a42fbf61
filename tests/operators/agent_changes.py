"""Edits to a restored sample agent that tests use to make a gate fail, through the stock clients."""

from __future__ import annotations

from typing import Any

from google.cloud import dialogflowcx_v3 as cx

#: Sample-agent test cases that reach the Transfers flow's Confirm Transfer page and answer it.
CONFIRMING_TRANSFER_TESTS = {
    "Transfer to a payee in one sentence",
    "Large transfer needs a security review",
    "Cancel a transfer at confirmation",
}


def flows_by_name(server: Any, agent: str) -> dict[str, str]:
    return {f.display_name: f.name for f in server.client(cx.FlowsClient).list_flows(parent=agent)}


def break_transfers(server: Any, agent: str) -> None:
    """Drop every route of the draft's Confirm Transfer page: "yes"/"no" there no longer go anywhere."""
    pages = server.client(cx.PagesClient)
    flow = flows_by_name(server, agent)["Transfers"]
    (confirm,) = [p for p in pages.list_pages(parent=flow) if p.display_name == "Confirm Transfer"]
    del confirm.transition_routes[:]
    pages.update_page(page=confirm, update_mask={"paths": ["transition_routes"]})


def cases_by_name(server: Any, agent: str) -> dict[str, str]:
    client = server.client(cx.TestCasesClient)
    return {t.display_name: t.name for t in client.list_test_cases(request={"parent": agent, "page_size": 100})}


def environment_pins(server: Any, environment: str) -> list[str]:
    found = server.client(cx.EnvironmentsClient).get_environment(name=environment)
    return sorted(config.version for config in found.version_configs)


def drop_transfer_route(server: Any, agent: str) -> None:
    """Remove the Default Start Flow's ``transfer.create`` route: asking for a transfer goes nowhere."""
    flows = server.client(cx.FlowsClient)
    intents = {i.display_name: i.name for i in server.client(cx.IntentsClient).list_intents(parent=agent)}
    start = flows.get_flow(name=flows_by_name(server, agent)["Default Start Flow"])
    kept = [route for route in start.transition_routes if route.intent != intents["transfer.create"]]
    assert len(kept) == len(start.transition_routes) - 1
    start.transition_routes = kept
    flows.update_flow(flow=start, update_mask={"paths": ["transition_routes"]})
