"""CXDetectIntentOperator: a smoke test of utterances against an environment, gated on accuracy."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_cx import storage
from airflow_provider_cx.links import CXAgentLink, CXEnvironmentLink
from airflow_provider_cx.operators.base import CXBaseOperator
from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError
from airflow_provider_cx.reports.thresholds import check_fraction

if TYPE_CHECKING:
    from airflow_provider_cx.reports.utterance_table import Answer, Utterance

#: XCom key of the smoke-test summary, pushed before the gate (also the return value).
SUMMARY_XCOM_KEY = "cx_detect_intent"
MAX_WORKERS = 32
MAX_MISMATCHES_IN_XCOM = 50
JUNIT_FILE = "smoke_test.junit.xml"
MARKDOWN_FILE = "smoke_test.md"


class CXDetectIntentOperator(CXBaseOperator):
    """Send each utterance of a table to the agent in a new session; fail below ``min_accuracy``.

    Each utterance is one DetectIntent in a session of its own, so rows do not influence each
    other and a repeat after an ambiguous failure (UNAVAILABLE) simply starts a fresh session;
    quota rejections (RESOURCE_EXHAUSTED) wait as long as the server asks (the hook's retry policy).
    Rows run concurrently on at most ``max_workers`` threads that share one Sessions client.

    :param utterances: the table (templated): a list of dicts, or a ``.csv`` / ``.json`` file as a
        local path, URI or ObjectStoragePath (see :mod:`.utterance_table` for the columns).
    :param environment: display name, id or resource name of the environment (templated); ``None``
        talks to the draft agent.
    :param min_accuracy: fraction (0..1) of rows whose intent and page must match; default 1.
    :param language_code: language of rows that give none; default the agent's default language.
    :param max_workers: concurrent DetectIntent calls (1..32).
    :param report_to: folder (local path, URI or ObjectStoragePath; templated) that receives
        ``smoke_test.junit.xml`` and ``smoke_test.md`` (one timed case per utterance); ``None``
        writes no reports.
    :param subject: what the reports say was tested (templated), e.g. ``"prod environment
        production"``; default ``"draft"`` or ``"environment <display name>"``.
    :param stage: the stage that starts the JUnit suite and class name ``<stage>.<agent
        id>.<environment or draft>`` (templated); default ``dialogflow_cx``.

    Besides those: ``agent``, ``gcp_conn_id``, ``impersonation_chain``, ``location`` (see
    :class:`.CXBaseOperator`).

    XCom ``cx_detect_intent`` (pushed before the gate) and ``return_value``: ``{"environment":
    name or "" for the draft, "total": int, "passed": int, "failed": int, "accuracy": float,
    "min_accuracy": float, "mismatches": [{"text", "expected_intent", "intent", "expected_page",
    "page"}] (at most 50), "reports": {"junit": uri, "markdown": uri} or {}}``. Links: the agent,
    and the environments page when one is used.
    """

    template_fields: Sequence[str] = (
        *CXBaseOperator.template_fields,
        "utterances",
        "environment",
        "min_accuracy",
        "language_code",
        "report_to",
        "subject",
        "stage",
    )
    operator_extra_links = (CXAgentLink(), CXEnvironmentLink())

    def __init__(
        self,
        *,
        utterances: Sequence[Mapping[str, Any]] | storage.Location,
        environment: str | None = None,
        min_accuracy: float = 1.0,
        language_code: str | None = None,
        max_workers: int = 4,
        report_to: storage.Location | None = None,
        subject: str | None = None,
        stage: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.utterances = utterances
        self.environment = environment
        self.min_accuracy = min_accuracy
        self.language_code = language_code
        self.max_workers = max_workers
        self.report_to = report_to
        self.subject = subject
        self.stage = stage

    def check_inputs(self) -> None:
        super().check_inputs()
        check_fraction("min_accuracy", self.min_accuracy)
        if isinstance(self.max_workers, bool) or not isinstance(self.max_workers, int):
            raise CXInvalidInputError(
                f"max_workers must be an integer from 1 to {MAX_WORKERS}, got {self.max_workers!r}"
            )
        if not 1 <= self.max_workers <= MAX_WORKERS:
            raise CXInvalidInputError(f"max_workers must be from 1 to {MAX_WORKERS}, got {self.max_workers}")
        if self.environment is not None and (not isinstance(self.environment, str) or not self.environment.strip()):
            raise CXInvalidInputError(f"environment must be a name, or None for the draft; got {self.environment!r}")
        if self.report_to is not None:
            storage.uri_of(self.report_to)  # a malformed destination fails before any call
        for name in ("subject", "stage"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise CXInvalidInputError(f"{name} must be non-empty text or None, got {value!r}")

    def load_rows(self) -> list[Utterance]:
        from airflow_provider_cx.reports.utterance_table import rows_from_records, rows_from_text, table_format

        table = self.utterances
        if isinstance(table, str | os.PathLike) or type(table).__name__ == "ObjectStoragePath":
            location = cast("storage.Location", table)
            source = storage.uri_of(location)
            table_format(source)  # before reading anything
            try:
                content = self.read_artifact(location).decode("utf-8-sig")
            except UnicodeDecodeError as error:
                raise CXInvalidInputError(f"utterances: {source} is not UTF-8 text: {error}") from None
            return rows_from_text(content, source)
        if isinstance(table, Sequence):
            return rows_from_records(table)
        raise CXInvalidInputError(
            f"utterances must be a list of rows or a .csv/.json file location, got {type(table).__name__}"
        )

    # --- execution ------------------------------------------------------------------------------

    def execute(self, context: Any) -> dict[str, Any]:
        self.check_inputs()
        rows = self.load_rows()
        self.persist_agent_link(context)
        agent = self.get_agent()
        environment = display_name = ""
        if self.environment is not None:
            resolved = self.hook.resolve_environment(self.agent_name, self.environment)
            environment, display_name = resolved.name, resolved.display_name
            self.persist_environment_link(context, environment)
        language = (self.language_code or agent.default_language_code).strip()
        workers = min(self.max_workers, len(rows))
        self.log.info("sending %d utterance(s) to %s on %d thread(s)", len(rows), environment or "the draft", workers)
        answers = self.ask_all(rows, environment or self.agent_name, language, workers)
        reports = self.write_reports(answers, environment, display_name)
        return self.gate(context, answers, environment, reports)

    def ask_all(self, rows: list[Utterance], parent: str, language: str, workers: int) -> list[Answer]:
        """One DetectIntent per row on a bounded pool; the first error cancels the rows not yet sent."""
        from concurrent.futures import ThreadPoolExecutor

        self.hook.retry_policy  # noqa: B018  (resolved once, before the threads share the hook)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cx-detect-intent")
        try:
            futures = [pool.submit(self.ask, row, parent, language) for row in rows]
            return [future.result() for future in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def ask(self, row: Utterance, parent: str, language: str) -> Answer:
        from airflow_provider_cx.reports.utterance_table import Answer

        started = time.monotonic()
        response = self.hook.detect_intent(parent, row.text, row.language_code or language)
        seconds = time.monotonic() - started
        result = response.query_result
        return Answer(row, intent=result.intent.display_name, page=result.current_page.display_name, seconds=seconds)

    def write_reports(self, answers: list[Answer], environment: str, display_name: str) -> dict[str, str]:
        """Write the JUnit and Markdown reports to ``report_to``; ``{}`` when it is not set."""
        from airflow_provider_cx.reports.smoke_test_report import render_junit, render_markdown
        from airflow_provider_cx.reports.test_case_report import default_subject, junit_classname

        if self.report_to is None:
            return {}
        subject = self.subject or default_subject(environment, display_name)
        classname = junit_classname(self.agent_name, display_name or environment, self.stage or "")
        junit = render_junit(
            answers, agent=self.agent_name, environment=environment, classname=classname, subject=subject
        )
        markdown = render_markdown(
            answers,
            agent=self.agent_name,
            environment=environment,
            min_accuracy=check_fraction("min_accuracy", self.min_accuracy),
            subject=subject,
        )
        return {
            "junit": self.write_artifact(storage.join(self.report_to, JUNIT_FILE), junit.encode()),
            "markdown": self.write_artifact(storage.join(self.report_to, MARKDOWN_FILE), markdown.encode()),
        }

    def gate(
        self, context: Any, answers: list[Answer], environment: str, reports: dict[str, str] | None = None
    ) -> dict[str, Any]:
        minimum = check_fraction("min_accuracy", self.min_accuracy)
        failing = [answer for answer in answers if not answer.passed]
        accuracy = (len(answers) - len(failing)) / len(answers)
        summary = {
            "environment": environment,
            "total": len(answers),
            "passed": len(answers) - len(failing),
            "failed": len(failing),
            "accuracy": round(accuracy, 4),
            "min_accuracy": minimum,
            "mismatches": [
                {
                    "text": a.utterance.text,
                    "expected_intent": a.utterance.expected_intent,
                    "intent": a.intent,
                    "expected_page": a.utterance.expected_page,
                    "page": a.page,
                }
                for a in failing[:MAX_MISMATCHES_IN_XCOM]
            ],
            "reports": reports or {},
        }
        self.push_xcom(context, SUMMARY_XCOM_KEY, summary)
        for answer in failing:
            self.log.warning(
                "%r: expected intent %r page %r, got intent %r page %r",
                answer.utterance.text,
                answer.utterance.expected_intent,
                answer.utterance.expected_page,
                answer.intent,
                answer.page,
            )
        self.log.info("%d of %d utterance(s) matched (%.1f%%)", summary["passed"], len(answers), 100 * accuracy)
        if accuracy < minimum:
            shown = ", ".join(repr(a.utterance.text) for a in failing[:10]) + (" ..." if len(failing) > 10 else "")
            raise CXGateFailedError(
                f"smoke test of {environment or self.agent_name}: accuracy {accuracy:.1%} is below min_accuracy "
                f"{minimum:.1%}; mismatched: {shown}"
            )
        return summary
