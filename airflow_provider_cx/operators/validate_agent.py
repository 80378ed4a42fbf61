"""CXValidateAgentOperator: Dialogflow CX's own validation of an agent, as a gate and a report."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_cx import storage
from airflow_provider_cx.operators.base import CXBaseOperator
from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError

if TYPE_CHECKING:
    from airflow_provider_cx.reports.validation_findings import ValidationFinding

ALLOW_KEYS = ("rule", "flow", "resource", "detail")
REPORT_NAME = "validation-report"
#: How many blocking messages the XCom and the failure message quote.
_QUOTED = 10


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
        from airflow_provider_cx.reports.validation_findings import SEVERITIES

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
        from airflow_provider_cx.reports.validation_findings import SEVERITIES, allow_matches, summary_head

        self.check_inputs()
        fail_on = str(self.fail_on).upper() if self.fail_on is not None else None
        self.persist_agent_link(context)
        findings = self.fetch_findings()
        kept = [f for f in findings if not any(allow_matches(entry, f) for entry in self.allow)]
        blocking = [f for f in kept if fail_on and f.reaches(fail_on)]
        counts = {severity: sum(1 for f in kept if f.severity == severity) for severity in reversed(SEVERITIES)}
        quoted = [f"{f.flow}: {f.detail}"[:300] for f in blocking[:_QUOTED]]
        summary = {
            "agent": self.agent_name,
            "fail_on": fail_on,
            "failed": bool(blocking),
            "counts": counts,
            "allowed": len(findings) - len(kept),
            "flows_with_findings": len({f.flow_name for f in kept}),
            "blocking": quoted,
            "reports": self.write_reports(summary_head(self.agent_name, fail_on, counts), kept),
        }
        self.log.info("validation of %s: %s", self.agent_name, counts)
        if blocking:
            self.push_xcom(context, "return_value", summary)
            more = f" (and {len(blocking) - _QUOTED} more)" if len(blocking) > _QUOTED else ""
            raise CXGateFailedError(
                f"validation of {self.agent_name} has {len(blocking)} finding(s) at or above {fail_on}: "
                + "; ".join(quoted)
                + more
            )
        return summary

    def fetch_findings(self) -> list[ValidationFinding]:
        """Validate (or read the last validation of) the agent; findings in flow order."""
        from airflow_provider_cx.reports.validation_findings import finding_from_message

        if self.revalidate:
            result = self.hook.validate_agent(self.agent_name, self.language_code)
        else:
            result = self.hook.get_agent_validation_result(self.agent_name, self.language_code)
        flow_names = {flow.name: flow.display_name for flow in self.hook.list_flows(self.agent_name)}
        findings = []
        for flow_result in result.flow_validation_results:
            flow_name = flow_result.name.removesuffix("/validationResult")
            for message in flow_result.validation_messages:
                findings.append(finding_from_message(flow_names.get(flow_name, flow_name), flow_name, message))
        return findings

    def write_reports(self, head: dict[str, Any], findings: list[ValidationFinding]) -> dict[str, str]:
        from airflow_provider_cx.reports.validation_findings import grouped, render_markdown

        if self.report_to is None:
            return {}
        markdown = render_markdown(head, findings)
        document = {**head, "flows": grouped(findings)}
        return {
            "markdown": self.write_artifact(storage.join(self.report_to, f"{REPORT_NAME}.md"), markdown.encode()),
            "json": self.write_artifact(
                storage.join(self.report_to, f"{REPORT_NAME}.json"),
                (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode(),
            ),
        }
