"""ValidateAgent / ValidateFlow: the package lint's findings, reported the way the API reports them.

There is one implementation of the checks: :func:`airflow_provider_cx.package.lint.lint_package`.
This module runs it on the stored package (rules about test cases and writing style are left out:
Dialogflow's own validation does not look at those) and turns each finding into a
``ValidationMessage`` — resource type, resource names and display names, severity, and a detail
starting with the rule id in brackets.

Findings are grouped per flow as the API groups them: a finding about a flow, a page or a
flow-scoped route group goes to that flow; one about intents goes to every flow whose routes use
them; everything else (agent, webhooks, entity types, unused intents…) to the start flow. Results
are stored with the agent (``extras["validation"]``) for GetAgentValidationResult and
GetFlowValidationResult.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from google.cloud.dialogflowcx_v3.types import agent as agent_types
from google.cloud.dialogflowcx_v3.types import flow as flow_types
from google.cloud.dialogflowcx_v3.types import validation_message as vm_types
from google.protobuf import json_format, timestamp_pb2

from airflow_provider_cx.emulator.convert import UNRESOLVED, References
from airflow_provider_cx.emulator.errors import InvalidArgument, NotFound
from airflow_provider_cx.emulator.rpc import pb
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import Flow
from airflow_provider_cx.package.lint import RULES, Finding, LintConfig, lint_package

EXTRA_KEY = "validation"
AgentValidationResult = pb(agent_types.AgentValidationResult)
FlowValidationResult = pb(flow_types.FlowValidationResult)
ValidationMessage = pb(vm_types.ValidationMessage)
_TYPE = vm_types.ValidationMessage.ResourceType
_SEVERITY = vm_types.ValidationMessage.Severity

# Rules Dialogflow's validation has no counterpart for: test cases and punctuation/naming style.
_NOT_VALIDATION = (
    "test-case-missing-intent",
    "test-case-missing-page",
    "test-phrase-not-in-intent",
    "intent-not-tested",
    "naming-convention",
    "question-mark-missing",
    "wh-question-punctuation",
    "closed-choice-question-mark",
    "clarifying-question-punctuation",
)
_SINGLE = {
    "agent": _TYPE.AGENT,
    "flow": _TYPE.FLOW,
    "page": _TYPE.PAGE,
    "intent": _TYPE.INTENT,
    "entityType": _TYPE.ENTITY_TYPE,
    "webhook": _TYPE.WEBHOOK,
    "transitionRouteGroup": _TYPE.TRANSITION_ROUTE_GROUP,
}
_PLURAL = {"page": _TYPE.PAGES, "intent": _TYPE.INTENTS, "entityType": _TYPE.ENTITY_TYPES}


def validation_config() -> LintConfig:
    return LintConfig(disabled_rules=frozenset(rule for rule in _NOT_VALIDATION if rule in RULES))


# --- RPC entry points ----------------------------------------------------------------------------------
def validate_agent(record: AgentRecord, language_code: str) -> Any:
    """Lint the agent, store every flow's result, and return them all (the caller holds the write lock)."""
    _check_language(record, language_code)
    results = _flow_results(record)
    state = record.extra(EXTRA_KEY)
    state["flows"] = {flow_id: json_format.MessageToDict(result) for flow_id, result in results.items()}
    state["agent"] = True
    return _agent_result(record, results)


def stored_agent_result(record: AgentRecord) -> Any:
    state = record.extras.get(EXTRA_KEY) or {}
    if not state.get("agent"):
        raise NotFound(f"agent {record.name} has no validation result; call ValidateAgent first")
    results = {flow_id: _parse_flow_result(data) for flow_id, data in state["flows"].items()}
    return _agent_result(record, results)


def validate_flow(record: AgentRecord, flow: Flow, language_code: str) -> Any:
    _check_language(record, language_code)
    result = _flow_results(record)[flow.id]
    record.extra(EXTRA_KEY).setdefault("flows", {})[flow.id] = json_format.MessageToDict(result)
    return result


def stored_flow_result(record: AgentRecord, flow: Flow) -> Any:
    data = (record.extras.get(EXTRA_KEY) or {}).get("flows", {}).get(flow.id)
    if data is None:
        raise NotFound(f"flow {record.name}/flows/{flow.id} has no validation result; call ValidateFlow first")
    return _parse_flow_result(data)


# --- building results --------------------------------------------------------------------------------
def _check_language(record: AgentRecord, language_code: str) -> None:
    if language_code and language_code not in record.package.languages():
        raise InvalidArgument(f"language {language_code!r} is not enabled for agent {record.name}")


def _agent_result(record: AgentRecord, results: dict[str, Any]) -> Any:
    order = [flow.id for flow in record.package.flows if flow.id in results]
    return AgentValidationResult(
        name=f"{record.name}/validationResult", flow_validation_results=[results[i] for i in order]
    )


def _parse_flow_result(data: dict[str, Any]) -> Any:
    result = FlowValidationResult()
    json_format.ParseDict(data, result)
    return result


def _flow_results(record: AgentRecord) -> dict[str, Any]:
    findings = lint_package(record.package, validation_config())
    refs = References(record)
    package = record.package
    start = package.flow(package.start_flow_name) or (package.flows[0] if package.flows else None)
    users = _intent_users(record)
    buckets: dict[str, list[Finding]] = {flow.id: [] for flow in package.flows}
    for finding in findings:
        for flow in _flows_for(finding, record, users, start):
            buckets[flow.id].append(finding)
    now = timestamp_pb2.Timestamp()
    now.FromNanoseconds(time.time_ns())
    return {
        flow.id: FlowValidationResult(
            name=f"{refs.flow_name(flow)}/validationResult",
            validation_messages=[_message(f, record, refs) for f in buckets[flow.id]],
            update_time=now,
        )
        for flow in package.flows
    }


def _flows_for(finding: Finding, record: AgentRecord, users: dict[str, list[Flow]], start: Flow | None) -> list[Flow]:
    package = record.package
    if finding.flow is not None and (flow := package.flow(finding.flow)) is not None:
        return [flow]
    if finding.resource_type == "flow":
        flows = [f for name in finding.resource_display_names if (f := package.flow(name)) is not None]
        if flows:
            return flows
    if finding.resource_type == "intent":
        by_id = {f.id: f for name in finding.resource_display_names for f in users.get(name.strip(), [])}
        if by_id:
            return list(by_id.values())
    return [start] if start is not None else []


def _intent_users(record: AgentRecord) -> dict[str, list[Flow]]:
    """Intent display name (stripped) -> the flows whose routes (own, pages', groups') use it."""
    groups = {g.display_name.strip(): g for g in record.package.route_groups}
    users: dict[str, list[Flow]] = {}
    for flow in record.package.flows:
        bodies = [flow.data, *(p.data for p in flow.pages), *(g.data for g in flow.route_groups)]
        for body in list(bodies):
            for name in body.get("transitionRouteGroups") or []:
                if isinstance(name, str) and name.strip() in groups:
                    bodies.append(groups[name.strip()].data)
        for intent in {name.strip() for body in bodies for name in _values(body, "intent")}:
            users.setdefault(intent, []).append(flow)
    return users


def _values(obj: Any, key: str) -> Iterator[str]:
    if isinstance(obj, dict):
        for k, value in obj.items():
            if k == key and isinstance(value, str):
                yield value
            else:
                yield from _values(value, key)
    elif isinstance(obj, list):
        for item in obj:
            yield from _values(item, key)


def _message(finding: Finding, record: AgentRecord, refs: References) -> Any:
    names = list(finding.resource_display_names)
    kind = finding.resource_type
    resource_type = _PLURAL.get(kind, _SINGLE.get(kind)) if len(names) > 1 else _SINGLE.get(kind)
    if kind == "transitionRouteGroup" and finding.flow is None:
        resource_type = _TYPE.AGENT_TRANSITION_ROUTE_GROUP
    message = ValidationMessage(
        resource_type=resource_type or _TYPE.RESOURCE_TYPE_UNSPECIFIED,
        severity=_SEVERITY.__members__[finding.severity],
        detail=f"[{finding.rule_id}] {finding.message}",
    )
    for display in names or [record.display_name]:
        name = _resource_name(kind, display, finding.flow, record, refs)
        message.resource_names.add(name=name, display_name=display)
        if name:
            message.resources.append(name)
    return message


def _resource_name(kind: str, display: str, flow_name: str | None, record: AgentRecord, refs: References) -> str:
    flow = record.package.flow(flow_name) if flow_name else None
    if kind == "agent":
        return record.name
    resolvers: dict[str, Callable[[str], str]] = {
        "flow": refs.flow_ref,
        "page": lambda d: refs.page_ref(flow, d),
        "intent": refs.intent_ref,
        "entityType": lambda d: refs.entity_type_ref("@" + d.lstrip("@")),
        "webhook": refs.webhook_ref,
        "transitionRouteGroup": lambda d: refs.route_group_ref(flow, d),
    }
    resolve = resolvers.get(kind)
    if resolve is None:
        return ""
    name = resolve(display)
    return "" if UNRESOLVED in name else name
