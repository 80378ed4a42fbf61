"""Which flows a conversation can reach from the agent's start flow, read through the API.

An environment must pin a version of every such flow, so "all reachable flows" is the default
selection for versioning. The rule is :mod:`airflow_provider_cx.flow_reachability`'s, shared with
the package lint; here each reached flow costs one ListPages and one ListTransitionRouteGroups
(plus one agent-level list if a flow uses agent route groups). Playbooks are not listed: an agent
without a start flow is treated as having every flow in play.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_cx.flow_reachability import flow_targets
from airflow_provider_cx.flow_reachability import reachable_flows as walk

if TYPE_CHECKING:
    from airflow_provider_cx.hooks.agent_calls import AgentCalls


def reachable_flows(hook: AgentCalls, agent: Any, flows: list[Any]) -> list[Any]:
    """The flows of ``flows`` reachable from ``agent.start_flow``, start flow first, then in list order."""
    by_name = {flow.name: flow for flow in flows}
    agent_groups: list[dict[str, Any]] = []  # listed once, when a flow first uses an agent-level group

    def targets_of(name: str) -> set[str]:
        flow = by_name[name]
        pages = hook.list_pages(name)
        groups = {group.name: group for group in hook.list_transition_route_groups(name)}
        used = {group for owner in [flow, *pages] for group in owner.transition_route_groups}
        if used - groups.keys():
            if not agent_groups:
                agent_groups.append({g.name: g for g in hook.list_transition_route_groups(agent.name)})
            groups.update(agent_groups[0])
        owners = [flow, *pages, *(groups[group] for group in used if group in groups)]
        return flow_targets(
            (type(owner).to_dict(owner) for owner in owners), lambda ref: ref if ref in by_name else None
        )

    start = agent.start_flow if agent.start_flow in by_name else None
    reached = walk([start], targets_of)
    if reached is None:
        return list(flows)  # no start flow to walk from (e.g. a playbook agent): everything is in play
    return [flow for flow in flows if flow.name == start] + [
        flow for flow in flows if flow.name in reached and flow.name != start
    ]
