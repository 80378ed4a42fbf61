"""CalculateCoverage over an agent's test cases, computed from their recorded turns (as CX does).

- INTENT: every intent except the negative one; covered when some test case turn records it as the
  triggered intent.
- PAGE_TRANSITION: page-level transition routes and event handlers with a target (route groups
  excluded), plus the flow's own routes and handlers as transitions from its start page; covered when
  some test case moves from the source page to the target (and, for an intent route, the turn that
  moved recorded the route's intent).
- TRANSITION_ROUTE_GROUP: every route of every route group used by a page or flow; an intent route
  is covered when a turn on a page using the group triggered its intent, a condition route with a
  target when a turn moved from such a page to the target.
Results use display names where the API has resource names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_cx.emulator.runtime.index import NEGATIVE_INTENT
from airflow_provider_cx.emulator.runtime.state import END_FLOW, END_SESSION, START_PAGE
from airflow_provider_cx.package.model import AgentPackage, Flow, Resource

COVERAGE_TYPES = ("INTENT", "PAGE_TRANSITION", "TRANSITION_ROUTE_GROUP")


class CoverageTypeError(ValueError):
    """The coverage type is not one of INTENT, PAGE_TRANSITION, TRANSITION_ROUTE_GROUP."""


@dataclass(frozen=True)
class Step:
    """One recorded move: from (flow, page) to (flow, page), with the intent that triggered it."""

    source: tuple[str, str]
    target: tuple[str, str]
    intent: str


def calculate_coverage(package: AgentPackage, kind: str) -> dict[str, Any]:
    """A CalculateCoverageResponse-shaped dict for ``kind``."""
    kind = kind.upper()
    steps = recorded_steps(package)
    if kind == "INTENT":
        return {"intentCoverage": _intent_coverage(package, steps)}
    if kind == "PAGE_TRANSITION":
        return {"transitionCoverage": _transition_coverage(package, steps)}
    if kind == "TRANSITION_ROUTE_GROUP":
        return {"routeGroupCoverage": _route_group_coverage(package, steps)}
    raise CoverageTypeError(f"unknown coverage type {kind!r}; use one of {', '.join(COVERAGE_TYPES)}")


def recorded_steps(package: AgentPackage) -> list[Step]:
    start_flow = package.start_flow_name.strip()
    steps: list[Step] = []
    for test_case in package.test_cases:
        config = test_case.data.get("testConfig") or {}
        where = (str(config.get("flow") or start_flow).strip(), str(config.get("page") or START_PAGE).strip())
        for turn in test_case.data.get("testCaseConversationTurns", []):
            output = turn.get("virtualAgentOutput") or {}
            page = output.get("currentPage") or {}
            flow = str(page.get("flow") or (output.get("currentFlow") or {}).get("name") or where[0]).strip()
            target = (flow, str(page.get("name") or where[1]).strip())
            intent = str((output.get("triggeredIntent") or {}).get("name") or "").strip()
            steps.append(Step(where, target, intent))
            where = target
    return steps


def _score(covered: int, total: int) -> float:
    return covered / total if total else 0.0


def _intent_coverage(package: AgentPackage, steps: list[Step]) -> dict[str, Any]:
    triggered = {s.intent for s in steps if s.intent}
    intents = [
        {"intent": i.display_name, "covered": i.display_name.strip() in triggered}
        for i in package.intents
        if i.display_name.strip() != NEGATIVE_INTENT and not i.data.get("isFallback")
    ]
    return {"intents": intents, "coverageScore": _score(sum(bool(i["covered"]) for i in intents), len(intents))}


def _target_of(flow: Flow, handler: dict[str, Any]) -> tuple[str, str] | None:
    if handler.get("targetFlow"):
        return (str(handler["targetFlow"]).strip(), START_PAGE)
    if handler.get("targetPage"):
        return (flow.display_name.strip(), str(handler["targetPage"]).strip())
    return None


def _reached(step: Step, target: tuple[str, str]) -> bool:
    if target[1] in (END_FLOW, END_SESSION):
        return step.target[1] in (END_FLOW, END_SESSION) or step.target[0] != target[0]
    if target[1] == START_PAGE:
        return step.target[0] == target[0]
    return step.target == target


def _covered(steps: list[Step], source: tuple[str, str], target: tuple[str, str], intent: str) -> bool:
    return any(
        s.source == source and s.source != s.target and _reached(s, target) and (not intent or s.intent == intent)
        for s in steps
    )


def _transition_coverage(package: AgentPackage, steps: list[Step]) -> dict[str, Any]:
    transitions = []
    for flow in package.flows:
        owners = [(START_PAGE, flow.data)] + [(p.display_name.strip(), p.data) for p in flow.pages]
        for page_name, data in owners:
            source = (flow.display_name.strip(), page_name)
            handlers = [("transitionRoute", h) for h in data.get("transitionRoutes", [])]
            handlers += [("eventHandler", h) for h in data.get("eventHandlers", [])]
            for index, (detail, handler) in enumerate(handlers):
                target = _target_of(flow, handler)
                if target is None:
                    continue
                covered = _covered(steps, source, target, str(handler.get("intent") or "").strip())
                transitions.append(
                    {
                        "source": {"page": {"displayName": page_name}, "flow": flow.display_name},
                        "index": index,
                        "target": {"flow": {"displayName": target[0]}}
                        if handler.get("targetFlow")
                        else {"page": {"displayName": target[1]}},
                        detail: handler,
                        "covered": covered,
                    }
                )
    score = _score(sum(t["covered"] for t in transitions), len(transitions))
    return {"transitions": transitions, "coverageScore": score}


def _route_group_coverage(package: AgentPackage, steps: list[Step]) -> dict[str, Any]:
    users: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for flow in package.flows:
        owners = [(START_PAGE, flow.data)] + [(p.display_name.strip(), p.data) for p in flow.pages]
        for page_name, data in owners:
            for group_name in data.get("transitionRouteGroups", []):
                scope = flow.display_name.strip() if flow.route_group(str(group_name)) else ""
                users.setdefault((scope, str(group_name).strip()), []).append((flow.display_name.strip(), page_name))
    coverages = []
    total = covered_total = 0
    groups: list[tuple[str, Flow | None, Resource]] = [
        (f.display_name.strip(), f, g) for f in package.flows for g in f.route_groups
    ]
    groups += [("", None, g) for g in package.route_groups]
    for scope, owner, group in groups:
        pages = users.get((scope, group.display_name.strip()), [])
        transitions = []
        for route in group.data.get("transitionRoutes", []):
            intent = str(route.get("intent") or "").strip()
            if intent:
                covered = any(s.source in pages and s.intent == intent for s in steps)
            else:
                covered = any(
                    _covered(steps, page, target, "")
                    for page in pages
                    if (target := _target_of(owner or _owner_flow(package, page), route)) is not None
                )
            transitions.append({"transitionRoute": route, "covered": covered})
        done = sum(t["covered"] for t in transitions)
        total += len(transitions)
        covered_total += done
        coverages.append(
            {
                "routeGroup": {"displayName": group.display_name},
                "flow": scope,  # the flow a flow-scoped group belongs to ("" for agent-level groups)
                "transitions": transitions,
                "coverageScore": _score(done, len(transitions)),
            }
        )
    return {"coverages": coverages, "coverageScore": _score(covered_total, total)}


def _owner_flow(package: AgentPackage, page: tuple[str, str]) -> Flow:
    flow = package.flow(page[0])
    if flow is None:  # pragma: no cover - pages come from the package's own flows
        raise KeyError(page[0])
    return flow
