"""The test-run report: outcomes from TestCaseResult messages, JUnit XML and Markdown (no network)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.reports.test_case_report import (
    MAX_DIFFERENCE_CHARS,
    outcomes_from_results,
    render_junit,
    render_markdown,
)

AGENT = "projects/p/locations/global/agents/a"
Diff = cx.TestRunDifference


def result(test_id: str, passed: bool, turns: list[cx.ConversationTurn] = ()) -> cx.TestCaseResult:
    return cx.TestCaseResult(
        name=f"{AGENT}/testCases/{test_id}/results/r-{test_id}",
        test_result=cx.TestResult.PASSED if passed else cx.TestResult.FAILED,
        conversation_turns=list(turns),
    )


def turn(*differences: cx.TestRunDifference, error: str = "") -> cx.ConversationTurn:
    output = cx.ConversationTurn.VirtualAgentOutput(differences=list(differences))
    if error:
        output.status.message = error
    return cx.ConversationTurn(virtual_agent_output=output)


def test_first_difference_is_the_earliest_turn_that_differs():
    results = [
        result("ok", True),
        result("page", False, [turn(), turn(Diff(type_=Diff.DiffType.PAGE, description="Expected: A, got: B"))]),
        result("error", False, [turn(error="page X does not exist")]),
        result("long", False, [turn(Diff(type_=Diff.DiffType.UTTERANCE, description="x" * 1000))]),
        result("unknown", False),
    ]
    outcomes = outcomes_from_results(results, {f"{AGENT}/testCases/page": "Page test"})
    by_id = {o.test_case.rsplit("/", 1)[-1]: o for o in outcomes}
    assert by_id["ok"].passed
    assert by_id["ok"].first_difference == ""
    assert by_id["page"].display_name == "Page test"
    assert by_id["page"].first_difference == "turn 2: PAGE: Expected: A, got: B"
    assert by_id["error"].first_difference == "turn 1: error: page X does not exist"
    assert len(by_id["long"].first_difference) == MAX_DIFFERENCE_CHARS
    assert by_id["unknown"].display_name == "unknown"  # no display name known: the id
    assert by_id["unknown"].first_difference == "FAILED without a recorded difference"


def test_reports_count_and_escape():
    failing = result("t|2", False, [turn(Diff(type_=Diff.DiffType.INTENT, description="wanted *a* | got <b>"))])
    outcomes = outcomes_from_results([result("t1", True), failing], {})
    junit = ET.fromstring(render_junit(outcomes, agent=AGENT, environment="").split("\n", 1)[1])
    assert (junit.get("tests"), junit.get("failures")) == ("2", "1")
    assert junit.find("testsuite/properties/property[@name='environment']").get("value") == "draft"
    markdown = render_markdown(outcomes, agent=AGENT, environment="", min_pass_rate=0.4)
    assert "1 of 2 passed (50.0%); gate 40.0%: **passed**" in markdown
    assert "wanted \\*a\\* \\| got \\<b\\>" in markdown
    assert markdown.index("t\\|2") < markdown.index("t1")  # failures first
