"""The findings of a CX agent validation: flattened, filtered by an allow-list and rendered as reports.

Kept apart from :mod:`.validate_agent` so that DAG parsing, which only builds the operator, loads none
of it; the operator imports it when it runs.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

SEVERITIES = ("INFO", "WARNING", "ERROR")  # least to most severe
_RULE = re.compile(r"^\[([^\]]+)\]\s*")


@dataclass(frozen=True)
class ValidationFinding:
    """One ValidationMessage of one flow's result, flattened for filtering and reports."""

    flow: str  # display name
    flow_name: str  # resource name
    severity: str
    resource_type: str
    resources: tuple[str, ...]  # display names (resource names when the API gives none)
    detail: str
    rule: str  # the "[rule-id]" prefix of the detail when there is one, else ""

    def reaches(self, severity: str) -> bool:
        return SEVERITIES.index(self.severity) >= SEVERITIES.index(severity)


def allow_matches(entry: str | Mapping[str, str], finding: ValidationFinding) -> bool:
    """Whether an allow-list entry accepts ``finding``.

    A string is a glob matched against the rule id and against the whole detail. A mapping may
    name ``rule``, ``flow``, ``resource`` (any of the finding's resources) and ``detail`` globs;
    every key given must match.
    """
    if isinstance(entry, str):
        return fnmatch.fnmatchcase(finding.rule, entry) or fnmatch.fnmatchcase(finding.detail, entry)
    checks = {
        "rule": [finding.rule],
        "flow": [finding.flow],
        "resource": list(finding.resources),
        "detail": [finding.detail],
    }
    return all(any(fnmatch.fnmatchcase(value, str(entry[key])) for value in checks[key]) for key in entry)


def summary_head(agent: str, fail_on: str | None, counts: dict[str, int]) -> dict[str, Any]:
    return {"agent": agent, "fail_on": fail_on, "counts": counts}


def grouped(findings: list[ValidationFinding]) -> list[dict[str, Any]]:
    """``[{"flow", "name", "findings": {severity: [finding, ...]}}]``, flows in API order, most severe first."""
    flows: dict[str, dict[str, Any]] = {}
    for finding in findings:
        entry = flows.setdefault(finding.flow_name, {"flow": finding.flow, "name": finding.flow_name, "findings": {}})
        entry["findings"].setdefault(finding.severity, []).append(
            {k: v for k, v in asdict(finding).items() if k not in ("flow", "flow_name", "severity")}
        )
    for entry in flows.values():
        entry["findings"] = {s: entry["findings"][s] for s in reversed(SEVERITIES) if s in entry["findings"]}
    return list(flows.values())


def render_markdown(head: dict[str, Any], findings: list[ValidationFinding]) -> str:
    from airflow_provider_cx.package.reports import markdown_code, markdown_escape, markdown_table

    counts = ", ".join(f"{n} {severity}" for severity, n in head["counts"].items())
    failed = head["fail_on"] and any(f.reaches(head["fail_on"]) for f in findings)
    verdict = "**FAILED**" if failed else "**passed**"
    lines = [
        "# Agent validation report",
        "",
        f"Agent: {markdown_code(head['agent'])}",
        "",
        f"{verdict} (gate: {head['fail_on'] or 'none'}); {len(findings)} finding(s): {counts}.",
        "",
    ]
    if not findings:
        lines.append("No findings.")
    for flow in grouped(findings):
        lines += [f"## Flow {markdown_escape(flow['flow'])}", ""]
        for severity, items in flow["findings"].items():
            lines += [f"### {severity} ({len(items)})", ""]
            rows = [(item["rule"] or "-", ", ".join(item["resources"]), _detail_text(item)) for item in items]
            lines += [markdown_table(["Rule", "Resources", "Detail"], rows), ""]
    return "\n".join(lines).rstrip() + "\n"


def _detail_text(item: dict[str, Any]) -> str:
    return _RULE.sub("", item["detail"])


def finding_from_message(flow: str, flow_name: str, message: Any) -> ValidationFinding:
    """Flatten one ``ValidationMessage``; an unknown severity counts as INFO rather than failing a gate."""
    names = tuple(n.display_name or n.name for n in message.resource_names) or tuple(message.resources)
    rule = _RULE.match(message.detail)
    severity = message.severity.name if message.severity.name in SEVERITIES else "INFO"
    return ValidationFinding(
        flow=flow,
        flow_name=flow_name,
        severity=severity,
        resource_type=message.resource_type.name,
        resources=names,
        detail=message.detail,
        rule=rule.group(1) if rule else "",
    )
