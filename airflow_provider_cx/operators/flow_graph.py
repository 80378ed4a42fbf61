"""Which flows a conversation can reach from the agent's start flow, read through the API.

An environment must pin a version of every such flow, so "all reachable flows" is the default
selection for versioning. A flow reaches another through a ``target_flow`` anywhere in its own
routes and event handlers, its pages (routes, event handlers, form reprompt handlers) and the route
groups those use — the same rule as the package lint's ``reachable_flows``. Costs one ListPages and
one ListTransitionRouteGroups per reachable flow (plus one agent-level list if a flow uses agent
route groups).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook


def reachable_flows(hook: DialogflowCXHook, agent: Any, flows: Sequence[Any]) -> list[Any]:
    """The flows of ``flows`` reachable from ``agent.start_flow``, start flow first, then in list order."""
    by_name = {flow.name: flow for flow in flows}
    start = by_name.get(agent.start_flow)
    if start is None:
        return list(flows)  # no start flow to walk from (e.g. a playbook agent): everything is in play
    agent_groups: dict[str, Any] | None = None
    seen = {start.name}
    todo = [start]
    while todo:
        flow = todo.pop()
        pages = _list(hook, hook.get_pages_client(flow.name).list_pages, flow.name)
        group_client = hook.get_transition_route_groups_client(flow.name)
        groups = {group.name: group for group in _list(hook, group_client.list_transition_route_groups, flow.name)}
        owners = [flow, *pages]
        used = {name for owner in owners for name in owner.transition_route_groups}
        if any(name not in groups for name in used):
            if agent_groups is None:
                client = hook.get_transition_route_groups_client(agent.name)
                agent_groups = {g.name: g for g in _list(hook, client.list_transition_route_groups, agent.name)}
            groups.update(agent_groups)
        owners += [groups[name] for name in used if name in groups]
        for owner in owners:
            for target in _target_flows(type(owner).to_dict(owner)):
                if target in by_name and target not in seen:
                    seen.add(target)
                    todo.append(by_name[target])
    return [flow for flow in flows if flow.name == start.name] + [
        flow for flow in flows if flow.name in seen and flow.name != start.name
    ]


def _list(hook: DialogflowCXHook, method: Any, parent: str) -> list[Any]:
    from airflow_provider_cx.hooks.retry import CallKind

    def every_page() -> list[Any]:
        return list(method(request={"parent": parent, "page_size": 1000}, retry=None))

    return hook.call(every_page, kind=CallKind.READ)


def _target_flows(data: Any) -> Iterator[str]:
    """Every ``target_flow`` value inside a resource's dict form."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "target_flow" and isinstance(value, str) and value:
                yield value
            else:
                yield from _target_flows(value)
    elif isinstance(data, list):
        for item in data:
            yield from _target_flows(item)
