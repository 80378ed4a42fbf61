"""Rendering results as JSON, Markdown and JUnit XML.

Two layers: generic writers (:func:`markdown_table`, :func:`markdown_code`, :class:`JUnitSuite` /
:class:`JUnitCase` and :func:`junit_xml`) that any result can use, e.g. the operators' test-case
runs; and lint-specific renderers built on them (:func:`render_findings`). Output is deterministic
for a given input, so reports can be diffed and archived.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from airflow_provider_cx.package.lint.findings import ERROR, SEVERITIES, Finding, severity_rank, sort_key
from airflow_provider_cx.package.markdown import md_code, md_text

FORMATS = ("json", "markdown", "junit")
# Characters XML 1.0 forbids even escaped; display names and responses can carry them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class ReportFormatError(ValueError):
    """A report format nobody here renders."""


# --- generic Markdown -----------------------------------------------------------------------------
def markdown_code(text: str, *, in_table: bool = False) -> str:
    """``text`` as an inline code span that nothing inside can close or break (see :func:`md_code`)."""
    return md_code(text, in_table=in_table)


def markdown_escape(text: str) -> str:
    """Plain text safe inside Markdown prose or a table cell; its own line breaks become ``<br>``."""
    return md_text(text, line_breaks=True)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; cells are escaped unless already formatted by the caller.

    Cells given as :class:`MarkdownCell` are inserted verbatim (e.g. a :func:`markdown_code` span).
    """
    lines = [
        "| " + " | ".join(markdown_escape(h) for h in headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    for row in rows:
        cells = [str(c) if isinstance(c, MarkdownCell) else markdown_escape(str(c)) for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


class MarkdownCell(str):
    """A table cell that is already Markdown and must not be escaped."""


# --- generic JUnit XML ----------------------------------------------------------------------------
@dataclass(frozen=True)
class JUnitCase:
    """One test case. At most one of ``failure``, ``error`` and ``skipped`` is set (their message)."""

    name: str
    classname: str = ""
    time: float | None = None
    failure: str | None = None
    error: str | None = None
    skipped: str | None = None
    kind: str = ""  # the failure / error type attribute
    details: str = ""  # text inside the failure / error element
    system_out: str = ""


@dataclass(frozen=True)
class JUnitSuite:
    """A suite; ``time`` is its measured duration when known, else the sum of its cases' times."""

    name: str
    cases: Sequence[JUnitCase] = ()
    properties: dict[str, str] = field(default_factory=dict)
    time: float | None = None


def junit_xml(suites: Sequence[JUnitSuite], name: str = "") -> str:
    """A ``<testsuites>`` document with counts and times summed, as CI servers expect."""
    root = ET.Element("testsuites", {"name": _xml(name)} if name else {})
    totals: Counter[str] = Counter()
    total_time = 0.0
    for suite in suites:
        counts = _counts(suite.cases)
        suite_time = suite.time if suite.time is not None else sum(c.time or 0.0 for c in suite.cases)
        totals.update(counts)
        total_time += suite_time
        node = ET.SubElement(
            root,
            "testsuite",
            {"name": _xml(suite.name), **{k: str(v) for k, v in counts.items()}, "time": f"{suite_time:.3f}"},
        )
        if suite.properties:
            props = ET.SubElement(node, "properties")
            for key, value in sorted(suite.properties.items()):
                ET.SubElement(props, "property", {"name": _xml(key), "value": _xml(value)})
        for case in suite.cases:
            _case_element(node, case)
    root.attrib.update({k: str(v) for k, v in _counts_from(totals).items()})
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _counts(cases: Sequence[JUnitCase]) -> dict[str, int]:
    return {
        "tests": len(cases),
        "failures": sum(1 for c in cases if c.failure is not None),
        "errors": sum(1 for c in cases if c.error is not None),
        "skipped": sum(1 for c in cases if c.skipped is not None),
    }


def _counts_from(totals: Counter[str]) -> dict[str, int]:
    return {key: totals.get(key, 0) for key in ("tests", "failures", "errors", "skipped")}


def _case_element(parent: ET.Element, case: JUnitCase) -> None:
    attrs = {"name": _xml(case.name), "classname": _xml(case.classname)}
    if case.time is not None:
        attrs["time"] = f"{case.time:.3f}"
    node = ET.SubElement(parent, "testcase", attrs)
    for tag, message in (("failure", case.failure), ("error", case.error), ("skipped", case.skipped)):
        if message is not None:
            child = ET.SubElement(
                node, tag, {"message": _xml(message), **({"type": _xml(case.kind)} if case.kind else {})}
            )
            if case.details and tag != "skipped":
                child.text = _xml(case.details)
    if case.system_out:
        ET.SubElement(node, "system-out").text = _xml(case.system_out)


def _xml(text: str) -> str:
    return _XML_ILLEGAL.sub("\ufffd", str(text))


# --- lint findings --------------------------------------------------------------------------------
def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {severity: counts.get(severity, 0) for severity in reversed(SEVERITIES)}


def findings_to_json(findings: Sequence[Finding], *, fail_on: str = ERROR, source: str | None = None) -> str:
    """``{"source", "fail_on", "failed", "summary": {severity: n}, "findings": [...]}`` as JSON text."""
    findings = sorted(findings, key=sort_key)
    document = {
        "source": source,
        "fail_on": fail_on.upper(),
        "failed": any(f.reaches(fail_on) for f in findings),
        "summary": severity_counts(findings),
        "findings": [f.to_dict() for f in findings],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def findings_to_markdown(
    findings: Sequence[Finding], *, fail_on: str = ERROR, title: str = "Agent lint report", source: str | None = None
) -> str:
    """A summary line and a table of findings, most severe first."""
    findings = sorted(findings, key=sort_key)
    failed = any(f.reaches(fail_on) for f in findings)
    counts = ", ".join(f"{n} {severity}" for severity, n in severity_counts(findings).items())
    verdict = "**FAILED**" if failed else "**passed**"
    lines = [f"# {markdown_escape(title)}", ""]
    if source:
        lines += [f"Package: {markdown_code(source)}", ""]
    lines += [f"{verdict} (gate: {fail_on.upper()}); {len(findings)} finding(s): {counts}.", ""]
    if findings:
        rows = [
            (
                f.severity,
                MarkdownCell(markdown_code(f.rule_id, in_table=True)),
                MarkdownCell(markdown_code(f.path, in_table=True)),
                _resource_label(f),
                f.message.split(": ", 1)[-1] if f.message.startswith(f.path + ": ") else f.message,
            )
            for f in findings
        ]
        lines.append(markdown_table(["Severity", "Rule", "File", "Resource", "Problem"], rows))
    else:
        lines.append("No findings.")
    return "\n".join(lines) + "\n"


def findings_to_junit(
    findings: Sequence[Finding],
    *,
    fail_on: str = ERROR,
    suite_name: str = "cx-lint",
    docs: dict[str, str] | None = None,
) -> str:
    """One test suite per rule that fired, one test case per finding.

    Findings that reach ``fail_on`` are failures; the others are passing cases that carry their
    message in ``system-out``, so CI shows them without failing the build. ``docs`` (rule id ->
    why the rule exists) fills the failure text. No findings: one passing case.
    """
    findings = sorted(findings, key=lambda f: (f.rule_id, f.path, f.resource_display_names, f.message))
    by_rule: dict[str, list[JUnitCase]] = {}
    for f in findings:
        failing = f.reaches(fail_on)
        case = JUnitCase(
            name=f"{_resource_label(f)}: {f.message}",
            classname=f.path,
            failure=f.message if failing else None,
            kind=f.severity,
            details=(docs or {}).get(f.rule_id, "") if failing else "",
            system_out="" if failing else f"{f.severity}: {f.message}",
        )
        by_rule.setdefault(f.rule_id, []).append(case)
    suites = [JUnitSuite(f"{suite_name}.{rule_id}", cases) for rule_id, cases in sorted(by_rule.items())]
    if not suites:
        suites = [JUnitSuite(suite_name, [JUnitCase(name="no findings", classname=suite_name)])]
    return junit_xml(suites, name=suite_name)


def render_findings(findings: Sequence[Finding], fmt: str, *, fail_on: str = ERROR, source: str | None = None) -> str:
    """Findings in one of :data:`FORMATS`."""
    severity_rank(fail_on)  # validates the gate
    if fmt == "json":
        return findings_to_json(findings, fail_on=fail_on, source=source)
    if fmt == "markdown":
        return findings_to_markdown(findings, fail_on=fail_on, source=source)
    if fmt == "junit":
        from airflow_provider_cx.package.lint import RULES

        return findings_to_junit(findings, fail_on=fail_on, docs={r.id: r.doc for r in RULES.values()})
    raise ReportFormatError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _resource_label(finding: Finding) -> str:
    names = " / ".join(finding.resource_display_names)
    where = f" (flow {finding.flow})" if finding.flow and finding.resource_type != "flow" else ""
    return f"{finding.resource_type} {names}{where}"
