"""CXValidateAgentOperator: Dialogflow CX's own validation of an agent, as a gate and a report."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_cx import storage
from airflow_provider_cx.operators.base import CXBaseOperator
from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError

SEVERITIES = ("INFO", "WARNING", "ERROR")  # least to most severe
ALLOW_KEYS = ("rule", "flow", "resource", "detail")
REPORT_NAME = "validation-report"
_RULE = re.compile(r"^\[([^\]]+)\]\s*")
#: How many blocking messages the XCom and the failure message quote.
_QUOTED = 10


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


class CXValidateAgentOperator(CXBaseOperator):
    """Validate ``agent``'s draft server-side and fail when findings reach ``fail_on``.

    Runs ValidateAgent (or, with ``revalidate=False``, reads the last result with
    GetAgentValidationResult), drops findings the allow-list accepts, writes a report grouped by flow
    and severity, and gates. The same finding reported for several flows counts once per flow, as the
    API reports it.

    :param fail_on: ``"ERROR"``, ``"WARNING"`` or ``"INFO"``: the least severe level that fails the
        task; ``None`` never fails (templated).
    :param allow: findings accepted on purpose: strings (globs on the rule id or the detail) or
        mappings of ``rule`` / ``flow`` / ``resource`` / ``detail`` globs (templated).
    :param report_to: folder (path, URI or ObjectStoragePath) that receives ``validation-report.md``
        and ``validation-report.json``; ``None`` writes no report (templated).
    :param language_code: language to validate; default the agent's default language (templated).
    :param revalidate: run ValidateAgent (default) or only read the latest stored result.
    Plus the parameters of :class:`CXBaseOperator` (agent, gcp_conn_id, impersonation_chain, location).

    Returns (XCom ``return_value``; also pushed when the gate fails)::

        {"agent": "...", "fail_on": "ERROR" | None, "failed": bool,
         "counts": {"ERROR": n, "WARNING": n, "INFO": n},      # after the allow-list
         "allowed": n, "flows_with_findings": n,
         "blocking": ["<flow>: <detail>", ...],                  # first 10 at or above fail_on
         "reports": {"markdown": "<uri>", "json": "<uri>"}}      # {} without report_to

    Raises :class:`CXGateFailedError` (no retry) when the gate fails. Links: ``cx_agent_link``.
    """

    template_fields: Sequence[str] = (
        *CXBaseOperator.template_fields,
        "fail_on",
        "allow",
        "report_to",
        "language_code",
    )

    def __init__(
        self,
        *,
        fail_on: str | None = "ERROR",
        allow: Sequence[str | Mapping[str, str]] = (),
        report_to: storage.Location | None = None,
        language_code: str | None = None,
        revalidate: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fail_on = fail_on
        self.allow = allow
        self.report_to = report_to
        self.language_code = language_code
        self.revalidate = revalidate

    def check_inputs(self) -> None:
        super().check_inputs()
        if self.fail_on is not None and str(self.fail_on).upper() not in SEVERITIES:
            raise CXInvalidInputError(f"fail_on {self.fail_on!r} is not one of {', '.join(SEVERITIES)} or None")
        if isinstance(self.allow, (str, Mapping)) or not isinstance(self.allow, Sequence):
            raise CXInvalidInputError(f"allow must be a list of globs or mappings, got {self.allow!r}")
        for entry in self.allow:
            if isinstance(entry, Mapping):
                unknown = set(entry) - set(ALLOW_KEYS)
                if unknown or not entry:
                    raise CXInvalidInputError(
                        f"allow entry {dict(entry)!r}: keys must be some of {', '.join(ALLOW_KEYS)}"
                    )
            elif not isinstance(entry, str) or not entry:
                raise CXInvalidInputError(f"allow entry {entry!r} must be a non-empty glob or a mapping")
        if self.report_to is not None:
            try:
                storage.uri_of(self.report_to)
            except storage.StorageLocationError as error:
                raise CXInvalidInputError(f"report_to: {error}") from None

    def execute(self, context: Any) -> dict[str, Any]:
        self.check_inputs()
        fail_on = str(self.fail_on).upper() if self.fail_on is not None else None
        self.persist_agent_link(context)
        findings = self.fetch_findings()
        kept = [f for f in findings if not any(allow_matches(entry, f) for entry in self.allow)]
        blocking = [f for f in kept if fail_on and f.reaches(fail_on)]
        counts = {severity: sum(1 for f in kept if f.severity == severity) for severity in reversed(SEVERITIES)}
        summary = {
            "agent": self.agent_name,
            "fail_on": fail_on,
            "failed": bool(blocking),
            "counts": counts,
            "allowed": len(findings) - len(kept),
            "flows_with_findings": len({f.flow_name for f in kept}),
            "blocking": [f"{f.flow}: {f.detail}"[:300] for f in blocking[:_QUOTED]],
            "reports": self.write_reports(summary_head(self.agent_name, fail_on, counts), kept),
        }
        self.log.info("validation of %s: %s", self.agent_name, counts)
        if blocking:
            self.push_xcom(context, "return_value", summary)
            more = f" (and {len(blocking) - _QUOTED} more)" if len(blocking) > _QUOTED else ""
            raise CXGateFailedError(
                f"validation of {self.agent_name} has {len(blocking)} finding(s) at or above {fail_on}: "
                + "; ".join(summary["blocking"])
                + more
            )
        return summary

    def fetch_findings(self) -> list[ValidationFinding]:
        """Validate (or read the last validation of) the agent; findings in flow order."""
        from airflow_provider_cx.operators.lookup import list_flows

        client = self.hook.get_agents_client(self.agent_name)
        if self.revalidate:
            request = {"name": self.agent_name, "language_code": self.language_code or ""}
            result = self.api_call(client.validate_agent, what=f"validation of {self.agent_name}", request=request)
        else:
            name = f"{self.agent_name}/validationResult"
            request = {"name": name, "language_code": self.language_code or ""}
            result = self.api_call(
                client.get_agent_validation_result, what=f"validation result of {self.agent_name}", request=request
            )
        flow_names = {flow.name: flow.display_name for flow in list_flows(self.hook, self.agent_name)}
        findings = []
        for flow_result in result.flow_validation_results:
            flow_name = flow_result.name.removesuffix("/validationResult")
            for message in flow_result.validation_messages:
                findings.append(_finding(flow_names.get(flow_name, flow_name), flow_name, message))
        return findings

    def write_reports(self, head: dict[str, Any], findings: list[ValidationFinding]) -> dict[str, str]:
        if self.report_to is None:
            return {}
        markdown = render_markdown(head, findings)
        document = {**head, "flows": grouped(findings)}
        return {
            "markdown": storage.write_bytes(storage.join(self.report_to, f"{REPORT_NAME}.md"), markdown.encode()),
            "json": storage.write_bytes(
                storage.join(self.report_to, f"{REPORT_NAME}.json"),
                (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode(),
            ),
        }


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


def _finding(flow: str, flow_name: str, message: Any) -> ValidationFinding:
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
