"""Report writers: JSON, Markdown and JUnit XML that parse, count right and survive odd text."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from airflow_provider_cx.package import read_package
from airflow_provider_cx.package.lint import RULES, Finding, lint_package
from airflow_provider_cx.package.reports import (
    JUnitCase,
    JUnitSuite,
    ReportFormatError,
    findings_to_json,
    findings_to_junit,
    findings_to_markdown,
    junit_xml,
    markdown_code,
    markdown_table,
    render_findings,
)


def _finding(rule_id: str, severity: str, message: str = "", names=("Page A",)) -> Finding:
    path = "flows/F/pages/Page A.json"
    return Finding(rule_id, severity, f"{path}: {message or rule_id}", path, "page", tuple(names), "F")


FINDINGS = [
    _finding("unreachable-page", "WARNING"),
    _finding("route-to-missing-page", "ERROR", "routes to `X` | and <Y> & \x01 bell"),
    _finding("dangling-page", "INFO"),
]


def test_json_report_parses_and_counts():
    document = json.loads(findings_to_json(FINDINGS, source="agent.zip"))
    assert document["summary"] == {"ERROR": 1, "WARNING": 1, "INFO": 1}
    assert document["failed"] is True
    assert document["source"] == "agent.zip"
    assert [f["rule_id"] for f in document["findings"]] == [
        "route-to-missing-page",
        "unreachable-page",
        "dangling-page",
    ]
    assert document["findings"][0]["resource_display_names"] == ["Page A"]
    assert json.loads(findings_to_json(FINDINGS[::2]))["failed"] is False
    assert json.loads(findings_to_json(FINDINGS[::2], fail_on="warning"))["failed"] is True


def test_junit_report_parses_and_marks_findings_at_the_gate_as_failures():
    root = ET.fromstring(findings_to_junit(FINDINGS))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == ("3", "1")
    failures = root.findall(".//failure")
    assert len(failures) == 1
    assert failures[0].get("type") == "ERROR"
    assert "`X` | and <Y>" in failures[0].get("message")  # escaped, and the control character replaced
    assert {s.get("name") for s in root.findall("testsuite")} == {
        "cx-lint.route-to-missing-page",
        "cx-lint.unreachable-page",
        "cx-lint.dangling-page",
    }
    outs = [e.text for e in root.findall(".//system-out")]
    assert sorted(outs) == sorted(f"{f.severity}: {f.message}" for f in FINDINGS if f.severity != "ERROR")
    stricter = ET.fromstring(findings_to_junit(FINDINGS, fail_on="WARNING"))
    assert stricter.get("failures") == "2"


def test_junit_report_without_findings_has_one_passing_case():
    root = ET.fromstring(findings_to_junit([]))
    assert (root.get("tests"), root.get("failures")) == ("1", "0")
    assert root.find(".//testcase").get("name") == "no findings"


def test_generic_junit_writer_counts_every_outcome():
    suite = JUnitSuite(
        "test cases",
        [
            JUnitCase("passes", "agent", time=1.5),
            JUnitCase("fails", "agent", time=0.25, failure="expected page X", kind="PageMismatch", details="turn 2"),
            JUnitCase("errors", "agent", error="session crashed"),
            JUnitCase("skipped", "agent", skipped="disabled"),
        ],
        properties={"environment": "draft"},
    )
    root = ET.fromstring(junit_xml([suite, JUnitSuite("empty")], name="run"))
    counts = {k: root.get(k) for k in ("tests", "failures", "errors", "skipped", "time")}
    assert counts == {"tests": "4", "failures": "1", "errors": "1", "skipped": "1", "time": "1.750"}
    first = root.find("testsuite")
    assert first.find("properties/property").attrib == {"name": "environment", "value": "draft"}
    assert first.find("testcase[@name='fails']/failure").text == "turn 2"


def test_markdown_report_keeps_one_row_per_finding():
    text = findings_to_markdown(FINDINGS, source="agent.zip")
    assert "**FAILED** (gate: ERROR)" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 3
    # An escaped pipe keeps the cell count: every row has exactly six separators.
    assert all(row.replace("\\|", "").count("|") == 6 for row in rows)
    assert "No findings." in findings_to_markdown([])
    assert "**passed**" in findings_to_markdown([FINDINGS[2]])


def test_markdown_helpers():
    assert markdown_code("a`b") == "``a`b``"
    assert markdown_code("`x`") == "`` `x` ``"
    assert markdown_code("a|b", in_table=True) == "`a\\|b`"
    table = markdown_table(["A", "B"], [["x|y", "*z*"]])
    assert table.splitlines()[2] == "| x\\|y | \\*z\\* |"


def test_render_findings_dispatches_and_rejects_unknown_formats():
    assert json.loads(render_findings(FINDINGS, "json"))["summary"]["ERROR"] == 1
    assert render_findings(FINDINGS, "markdown").startswith("# Agent lint report")
    junit = ET.fromstring(render_findings(FINDINGS, "junit"))
    assert junit.find(".//failure").text == RULES["route-to-missing-page"].doc  # the rule says why it exists
    with pytest.raises(ReportFormatError, match="yaml"):
        render_findings(FINDINGS, "yaml")
    with pytest.raises(ValueError, match="FATAL"):
        render_findings(FINDINGS, "json", fail_on="FATAL")


def test_reports_of_real_agents_parse(shared_agents):
    for path in shared_agents:
        findings = lint_package(read_package(path))
        assert len(json.loads(render_findings(findings, "json"))["findings"]) == len(findings)
        root = ET.fromstring(render_findings(findings, "junit"))
        assert int(root.get("tests")) == max(len(findings), 1)
        assert int(root.get("failures")) == sum(f.severity == "ERROR" for f in findings)
        markdown = render_findings(findings, "markdown")
        assert markdown.count("\n| ") == (len(findings) + 2 if findings else 0)  # header, rule, rows
