"""A smoke test (CXDetectIntentOperator) as a JUnit XML report and a Markdown summary (pure: no network).

One JUnit test case per utterance, timed by its own DetectIntent call; the suite and class name say
which stage, agent and environment (or draft) answered, like the test-case reports.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_cx.reports.test_case_report import default_subject, junit_classname
from airflow_provider_cx.reports.utterance_table import Answer


def expectation(answer: Answer) -> str:
    """``intent X, page Y`` expected for the answer's utterance (only the columns given)."""
    wanted = answer.utterance
    parts = [f"intent {wanted.expected_intent!r}"] if wanted.expected_intent else []
    parts += [f"page {wanted.expected_page!r}"] if wanted.expected_page else []
    return ", ".join(parts)


def mismatch(answer: Answer) -> str:
    """``expected intent X, page Y; got intent A, page B`` for a failing answer."""
    return f"expected {expectation(answer)}; got intent {answer.intent!r}, page {answer.page!r}"


def render_junit(
    answers: Sequence[Answer], *, agent: str, environment: str, classname: str = "", subject: str = ""
) -> str:
    from airflow_provider_cx.package.reports import JUnitCase, JUnitSuite, junit_xml

    name = classname or junit_classname(agent, environment)
    cases = [
        JUnitCase(
            name=answer.utterance.text,
            classname=name,
            time=answer.seconds,
            failure=None if answer.passed else mismatch(answer),
            kind="" if answer.passed else "UtteranceMismatch",
            details="" if answer.passed else mismatch(answer),
        )
        for answer in answers
    ]
    properties = {
        "agent": agent,
        "environment": environment or "draft",
        "subject": subject or default_subject(environment),
    }
    return junit_xml([JUnitSuite(name=name, cases=cases, properties=properties)], name=f"Smoke test of {agent}")


def render_markdown(
    answers: Sequence[Answer], *, agent: str, environment: str, min_accuracy: float, subject: str = ""
) -> str:
    from airflow_provider_cx.package.reports import markdown_code, markdown_escape, markdown_table

    passed = sum(answer.passed for answer in answers)
    accuracy = passed / len(answers) if answers else 0.0
    verdict = "passed" if accuracy >= min_accuracy else "FAILED"
    seconds = sum(answer.seconds or 0.0 for answer in answers)
    lines = [
        "# Dialogflow CX smoke test",
        "",
        f"- Tested: {markdown_escape(subject or default_subject(environment))}",
        f"- Agent: {markdown_code(agent)}",
        f"- Environment: {markdown_code(environment) if environment else 'draft'}",
        f"- Result: {passed} of {len(answers)} utterances matched ({accuracy:.1%}); "
        f"gate {min_accuracy:.1%}: **{verdict}**",
        f"- Time in DetectIntent calls: {seconds:.2f} s",
        "",
    ]
    ordered = sorted(answers, key=lambda answer: answer.passed)
    rows = [
        (
            answer.utterance.text,
            "PASSED" if answer.passed else "FAILED",
            expectation(answer),
            f"intent {answer.intent!r}, page {answer.page!r}",
            "-" if answer.seconds is None else f"{answer.seconds:.3f}",
        )
        for answer in ordered
    ]
    lines.append(markdown_table(("Utterance", "Result", "Expected", "Got", "Seconds"), rows))
    return "\n".join(lines) + "\n"
