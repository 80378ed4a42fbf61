"""CalculateCoverageResponse protos from the runtime's coverage (display names -> resource names)."""

from __future__ import annotations

from typing import Any

from google.cloud.dialogflowcx_v3.types import page as page_types
from google.cloud.dialogflowcx_v3.types import test_case as tc_types

from airflow_provider_cx.emulator.convert import References, to_message
from airflow_provider_cx.emulator.rpc import pb
from airflow_provider_cx.emulator.runtime.coverage import calculate_coverage
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import Flow

JSON = Any
_Response = pb(tc_types.CalculateCoverageResponse)
_IntentCoverage = pb(tc_types.IntentCoverage)
_TransitionCoverage = pb(tc_types.TransitionCoverage)
_RouteGroupCoverage = pb(tc_types.TransitionRouteGroupCoverage)
_TransitionRoute = pb(page_types.TransitionRoute)
_EventHandler = pb(page_types.EventHandler)
_START_PAGE = "Start Page"


def coverage_message(record: AgentRecord, kind: str) -> Any:
    """The CalculateCoverageResponse of ``kind`` (INTENT, PAGE_TRANSITION, TRANSITION_ROUTE_GROUP)."""
    refs = References(record)
    coverage = calculate_coverage(record.package, kind)
    response = _Response(agent=record.name)
    if "intentCoverage" in coverage:
        response.intent_coverage.CopyFrom(_intents(coverage["intentCoverage"], refs))
    elif "transitionCoverage" in coverage:
        response.transition_coverage.CopyFrom(_transitions(coverage["transitionCoverage"], record, refs))
    else:
        response.route_group_coverage.CopyFrom(_route_groups(coverage["routeGroupCoverage"], record, refs))
    return response


def _intents(coverage: dict[str, JSON], refs: References) -> Any:
    message = _IntentCoverage(coverage_score=coverage["coverageScore"])
    for item in coverage["intents"]:
        message.intents.add(intent=refs.intent_ref(item["intent"]), covered=item["covered"])
    return message


def _transitions(coverage: dict[str, JSON], record: AgentRecord, refs: References) -> Any:
    message = _TransitionCoverage(coverage_score=coverage["coverageScore"])
    for item in coverage["transitions"]:
        flow = record.package.flow(item["source"]["flow"])
        transition = message.transitions.add(index=item["index"], covered=item["covered"])
        _node(transition.source, flow, item["source"]["page"]["displayName"], None, refs)
        target = item["target"]
        if "flow" in target:
            _node(transition.target, None, None, target["flow"]["displayName"], refs)
        else:
            _node(transition.target, flow, target["page"]["displayName"], None, refs)
        if "transitionRoute" in item:
            transition.transition_route.CopyFrom(to_message(item["transitionRoute"], _TransitionRoute, refs, flow))
        else:
            transition.event_handler.CopyFrom(to_message(item["eventHandler"], _EventHandler, refs, flow))
    return message


def _node(node: Any, flow: Flow | None, page: str | None, target_flow: str | None, refs: References) -> None:
    """A TransitionNode: a flow (a flow target, or a flow's start page as source) or a page."""
    if target_flow is not None or page == _START_PAGE:
        display = target_flow if target_flow is not None else (flow.display_name if flow else "")
        node.flow.name = refs.flow_ref(display)
        node.flow.display_name = display
        return
    node.page.name = refs.page_ref(flow, page or "")
    node.page.display_name = page or ""


def _route_groups(coverage: dict[str, JSON], record: AgentRecord, refs: References) -> Any:
    message = _RouteGroupCoverage(coverage_score=coverage["coverageScore"])
    for item in coverage["coverages"]:
        flow = record.package.flow(item["flow"]) if item.get("flow") else None
        display = item["routeGroup"]["displayName"]
        entry = message.coverages.add(coverage_score=item["coverageScore"])
        entry.route_group.name = refs.route_group_ref(flow, display)
        entry.route_group.display_name = display
        for transition in item["transitions"]:
            entry.transitions.add(
                transition_route=to_message(transition["transitionRoute"], _TransitionRoute, refs, flow),
                covered=transition["covered"],
            )
    return message
