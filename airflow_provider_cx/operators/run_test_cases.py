"""CXRunTestCasesOperator: run an agent's test cases on the draft or an environment, and gate on the pass rate."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_cx import storage
from airflow_provider_cx.links import CXAgentLink, CXTestResultsLink
from airflow_provider_cx.operators.base import CXLongRunningOperator
from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError
from airflow_provider_cx.reports.thresholds import check_fraction

if TYPE_CHECKING:
    from airflow_provider_cx.reports.test_case_report import TestCaseOutcome

#: XCom key of the run summary, pushed before the gate is applied (also the return value).
SUMMARY_XCOM_KEY = "cx_test_run"
JUNIT_FILE = "test_cases.junit.xml"
MARKDOWN_FILE = "test_cases.md"
#: How many failing test cases the XCom lists (the reports list them all).
MAX_FAILING_IN_XCOM = 50


class CXRunTestCasesOperator(CXLongRunningOperator):
    """Run test cases with BatchRunTestCases and fail when fewer than ``min_pass_rate`` of them pass.

    Selection: ``test_cases`` (display names, ids or resource names) and/or ``tags`` (with or
    without ``#``); neither selects every test case. A selection that matches nothing, or an
    explicitly empty list, is an error (:class:`CXInvalidInputError` / ``CXResourceNotFoundError``).

    :param environment: display name, id or resource name of the environment to run in (templated);
        ``None`` runs on the draft agent.
    :param test_cases: test cases to run (templated).
    :param tags: run the test cases carrying any of these tags (templated).
    :param min_pass_rate: fraction (0..1) of the selected test cases that must pass; default 1.
    :param report_destination: folder (local path, URI or ObjectStoragePath; templated) that receives
        ``test_cases.junit.xml`` and ``test_cases.md``; ``None`` writes no reports.
    :param subject: what the reports say was tested (templated), e.g. ``"staging agent, draft after
        restore"``; default ``"draft"`` or ``"environment <display name>"``.
    :param stage: the stage (e.g. ``"staging"``) that starts the JUnit suite and class name
        ``<stage>.<agent id>.<environment or draft>`` (templated); default ``dialogflow_cx``.
    :param deferrable: wait for the run in the triggerer.

    Besides those: ``agent``, ``gcp_conn_id``, ``impersonation_chain``, ``location``,
    ``poll_interval``, ``operation_timeout`` (see :class:`.CXLongRunningOperator`).

    XCom ``cx_test_run`` (pushed before the gate, so a failed gate still leaves it) and
    ``return_value``: ``{"environment": name or "" for the draft, "total": int, "passed": int,
    "failed": int, "pass_rate": float, "min_pass_rate": float, "failing": [{"test_case": display
    name, "first_difference": str}] (at most 50; the reports have all), "reports": {"junit": uri,
    "markdown": uri} or {}}``. Links: the agent and its test results in the CX console.
    """

    template_fields: Sequence[str] = (
        *CXLongRunningOperator.template_fields,
        "environment",
        "test_cases",
        "tags",
        "min_pass_rate",
        "report_destination",
        "subject",
        "stage",
    )
    operator_extra_links = (CXAgentLink(), CXTestResultsLink())

    def __init__(
        self,
        *,
        environment: str | None = None,
        test_cases: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        min_pass_rate: float = 1.0,
        report_destination: storage.Location | None = None,
        subject: str | None = None,
        stage: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.environment = environment
        self.test_cases = test_cases
        self.tags = tags
        self.min_pass_rate = min_pass_rate
        self.report_destination = report_destination
        self.subject = subject
        self.stage = stage

    def check_inputs(self) -> None:
        super().check_inputs()
        check_fraction("min_pass_rate", self.min_pass_rate)
        for name in ("test_cases", "tags"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, str) or not all(isinstance(item, str) and item.strip() for item in value):
                raise CXInvalidInputError(f"{name} must be a list of non-empty strings, got {value!r}")
            if not value:
                raise CXInvalidInputError(
                    f"{name} is an empty list, which selects no test case; leave it unset to run every test case"
                )
        if self.environment is not None and (not isinstance(self.environment, str) or not self.environment.strip()):
            raise CXInvalidInputError(f"environment must be a name, or None for the draft; got {self.environment!r}")
        if self.report_destination is not None:
            storage.uri_of(self.report_destination)  # a malformed destination fails before the run
        for name in ("subject", "stage"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise CXInvalidInputError(f"{name} must be non-empty text or None, got {value!r}")

    # --- execution ------------------------------------------------------------------------------

    def execute(self, context: Any) -> Any:
        from google.cloud.dialogflowcx_v3 import BatchRunTestCasesResponse

        self.check_inputs()
        self.persist_agent_link(context)
        self.persist_test_results_link(context)
        environment = display_name = ""
        if self.environment is not None:
            resolved = self.hook.resolve_environment(self.agent_name, self.environment)
            environment, display_name = resolved.name, resolved.display_name
        selected = self.hook.resolve_test_cases(self.agent_name, self.test_cases, self.tags)
        self.log.info("running %d test case(s) on %s", len(selected), environment or f"the draft of {self.agent_name}")
        operation = self.hook.batch_run_test_cases(self.agent_name, [case.name for case in selected], environment)
        return self.wait_or_defer(
            context,
            operation,
            result_type=BatchRunTestCasesResponse,
            then="finish_run",
            # Wall-clock start (not monotonic): a deferred run finishes in another process.
            state={"environment": environment, "display_name": display_name, "started": time.time()},
        )

    def finish_run(
        self,
        context: Any,
        result: Any,
        environment: str,
        display_name: str = "",
        started: float | None = None,
    ) -> dict[str, Any]:
        from airflow_provider_cx.reports.test_case_report import outcomes_from_results, pass_rate

        seconds = None if started is None else max(0.0, time.time() - started)
        display_names = {case.name: case.display_name for case in self.hook.list_test_cases(self.agent_name)}
        outcomes = outcomes_from_results(result.results, display_names)
        reports = self.write_reports(outcomes, environment, display_name, seconds)
        failing = [o for o in outcomes if not o.passed]
        rate = pass_rate(outcomes)
        minimum = check_fraction("min_pass_rate", self.min_pass_rate)
        summary = {
            "environment": environment,
            "total": len(outcomes),
            "passed": len(outcomes) - len(failing),
            "failed": len(failing),
            "pass_rate": round(rate, 4),
            "min_pass_rate": minimum,
            "failing": [
                {"test_case": o.display_name, "first_difference": o.first_difference}
                for o in failing[:MAX_FAILING_IN_XCOM]
            ],
            "reports": reports,
        }
        self.push_xcom(context, SUMMARY_XCOM_KEY, summary)
        self.log.info("%d of %d test case(s) passed (%.1f%%)", summary["passed"], len(outcomes), 100 * rate)
        for outcome in failing:
            self.log.warning("FAILED %s: %s", outcome.display_name, outcome.first_difference)
        if rate < minimum:
            names = ", ".join(repr(o.display_name) for o in failing[:10]) + (" ..." if len(failing) > 10 else "")
            raise CXGateFailedError(
                f"test cases of {self.agent_name} on {environment or 'the draft'}: pass rate {rate:.1%} is below "
                f"min_pass_rate {minimum:.1%}; failing: {names}"
            )
        return summary

    def write_reports(
        self, outcomes: list[TestCaseOutcome], environment: str, display_name: str = "", seconds: float | None = None
    ) -> dict[str, str]:
        from airflow_provider_cx.reports.test_case_report import (
            default_subject,
            junit_classname,
            render_junit,
            render_markdown,
        )

        if self.report_destination is None:
            return {}
        subject = self.subject or default_subject(environment, display_name)
        junit = render_junit(
            outcomes,
            agent=self.agent_name,
            environment=environment,
            classname=junit_classname(self.agent_name, display_name or environment, self.stage or ""),
            subject=subject,
            seconds=seconds,
        )
        markdown = render_markdown(
            outcomes,
            agent=self.agent_name,
            environment=environment,
            min_pass_rate=check_fraction("min_pass_rate", self.min_pass_rate),
            subject=subject,
            seconds=seconds,
        )
        return {
            "junit": self.write_artifact(storage.join(self.report_destination, JUNIT_FILE), junit.encode()),
            "markdown": self.write_artifact(storage.join(self.report_destination, MARKDOWN_FILE), markdown.encode()),
        }
