"""A test-case run as outcomes, a JUnit XML report and a Markdown summary (pure: no Airflow, no network).

:func:`outcomes_from_results` reads ``TestCaseResult`` messages (duck-typed, so the module imports no
CX library); the renderers use the generic writers of :mod:`airflow_provider_cx.package.reports`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PASSED = "PASSED"
FAILED = "FAILED"
#: Longest first-difference text kept in XCom and reports.
MAX_DIFFERENCE_CHARS = 300


@dataclass(frozen=True)
class TestCaseOutcome:
    """One test case's result: its display name, PASSED/FAILED and the first difference found."""

    __test__ = False  # not a pytest class

    test_case: str
    display_name: str
    result: str
    first_difference: str = ""
    result_name: str = ""

    @property
    def passed(self) -> bool:
        return self.result == PASSED


def case_name_of(result_name: str) -> str:
    """``.../testCases/T`` of ``.../testCases/T/results/R``."""
    return result_name.rsplit("/results/", 1)[0]


def outcomes_from_results(results: Iterable[Any], display_names: Mapping[str, str]) -> list[TestCaseOutcome]:
    """Outcomes of ``TestCaseResult`` messages; ``display_names`` maps test case names to display names."""
    outcomes = []
    for result in results:
        test_case = case_name_of(result.name)
        verdict = getattr(result.test_result, "name", str(result.test_result))
        outcomes.append(
            TestCaseOutcome(
                test_case=test_case,
                display_name=display_names.get(test_case, test_case.rsplit("/", 1)[-1]),
                result=PASSED if verdict == PASSED else FAILED,
                first_difference="" if verdict == PASSED else first_difference(result),
                result_name=result.name,
            )
        )
    return outcomes


def first_difference(result: Any) -> str:
    """``turn N: TYPE: description`` of the first difference, or the first turn's error status."""
    for number, turn in enumerate(result.conversation_turns, start=1):
        output = turn.virtual_agent_output
        for difference in output.differences:
            kind = getattr(difference.type_, "name", str(difference.type_))
            return _short(f"turn {number}: {kind}: {difference.description}")
        if output.status.message:
            return _short(f"turn {number}: error: {output.status.message}")
    verdict = getattr(result.test_result, "name", str(result.test_result))
    return f"{verdict} without a recorded difference"


def _short(text: str) -> str:
    return text if len(text) <= MAX_DIFFERENCE_CHARS else text[: MAX_DIFFERENCE_CHARS - 1] + "…"


def pass_rate(outcomes: Sequence[TestCaseOutcome]) -> float:
    return sum(o.passed for o in outcomes) / len(outcomes) if outcomes else 0.0


def junit_classname(agent: str, environment: str = "", stage: str = "") -> str:
    """``<stage>.<agent id>.<environment or draft>`` (``dialogflow_cx`` without a stage): names what ran.

    ``environment`` is a display name or resource name (its id is used); staging and prod thus
    never share a suite or class name in a CI server's view.
    """
    target = environment.rsplit("/", 1)[-1] if environment else "draft"
    return ".".join(part.replace(".", "_") for part in (stage or "dialogflow_cx", agent.rsplit("/", 1)[-1], target))


def default_subject(environment: str = "", environment_display_name: str = "") -> str:
    """What a report says was tested when the caller gives no subject: ``environment X`` or ``draft``."""
    if not environment:
        return "draft"
    return f"environment {environment_display_name or environment.rsplit('/', 1)[-1]}"


def render_junit(
    outcomes: Sequence[TestCaseOutcome],
    *,
    agent: str,
    environment: str,
    classname: str = "",
    subject: str = "",
    seconds: float | None = None,
) -> str:
    """JUnit XML of a test-case run; ``seconds`` is the run's measured duration (the suite's time).

    CX runs the selected test cases as one batch and reports no time per test case, so the cases
    carry none and the suite carries the batch's wall-clock time.
    """
    from airflow_provider_cx.package.reports import JUnitCase, JUnitSuite, junit_xml

    target = environment or "draft"
    name = classname or junit_classname(agent, environment)
    cases = [
        JUnitCase(
            name=o.display_name,
            classname=name,
            failure=None if o.passed else o.first_difference,
            kind="" if o.passed else "TestRunDifference",
            details="" if o.passed else f"{o.result_name}\n{o.first_difference}",
        )
        for o in outcomes
    ]
    properties = {"agent": agent, "environment": target, "subject": subject or default_subject(environment)}
    suite = JUnitSuite(name=name, cases=cases, properties=properties, time=seconds)
    return junit_xml([suite], name=f"Dialogflow CX test cases of {agent}")


def render_markdown(
    outcomes: Sequence[TestCaseOutcome],
    *,
    agent: str,
    environment: str,
    min_pass_rate: float,
    subject: str = "",
    seconds: float | None = None,
) -> str:
    from airflow_provider_cx.package.reports import MarkdownCell, markdown_code, markdown_escape, markdown_table

    passed = sum(o.passed for o in outcomes)
    rate = pass_rate(outcomes)
    verdict = "passed" if rate >= min_pass_rate else "FAILED"
    lines = [
        "# Dialogflow CX test cases",
        "",
        f"- Tested: {markdown_escape(subject or default_subject(environment))}",
        f"- Agent: {markdown_code(agent)}",
        f"- Environment: {markdown_code(environment) if environment else 'draft'}",
        f"- Result: {passed} of {len(outcomes)} passed ({rate:.1%}); gate {min_pass_rate:.1%}: **{verdict}**",
        *([f"- Duration: {seconds:.1f} s"] if seconds is not None else []),
        "",
    ]
    ordered = sorted(outcomes, key=lambda o: (o.passed, o.display_name))
    rows = [
        (o.display_name, o.result, MarkdownCell(markdown_escape(o.first_difference)) if o.first_difference else "")
        for o in ordered
    ]
    lines.append(markdown_table(("Test case", "Result", "First difference"), rows))
    return "\n".join(lines) + "\n"
