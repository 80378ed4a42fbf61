"""Issue 18: no user-controlled string can change the structure of a Markdown document we render.

Documents are parsed with a CommonMark parser (tables enabled, as GitHub renders them) and checked
for what an attacker wants: an extra heading, a link, an extra table row, raw control characters.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from package_builder import clean_agent

from airflow_provider_cx.package import Resource, new_id
from airflow_provider_cx.package.diff import diff_packages
from airflow_provider_cx.package.lint.findings import Finding
from airflow_provider_cx.package.markdown import md_code, md_text, visible
from airflow_provider_cx.package.reports import findings_to_markdown

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "dags"))
from cx_pipeline_results import release_summary_markdown, validation_markdown

# The display name from the issue: carriage returns break out of the code span and forge a heading
# and a link in the release notes; ESC and a bidi override ride along.
HOSTILE = "Greeting`\r\r# APPROVED by security team\r\r[details](https://evil.example/ok)\x1b[2J\u202eevil"
PARSER = MarkdownIt("commonmark").enable("table")


def structure(document: str) -> dict[str, object]:
    tokens = PARSER.parse(document)
    inline = [child for token in tokens for child in token.children or ()]
    return {
        "headings": [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"],
        "links": [
            t for t in inline if t.type in ("link_open", "image") or (t.type == "html_inline" and t.content != "<br>")
        ],
        "html": [t for t in tokens if t.type == "html_block"],
        "rows": sum(1 for t in tokens if t.type == "tr_open"),
    }


def assert_inert(document: str) -> None:
    assert not any(char in document for char in "\r\x1b\u202e\x85\u2028")
    found = structure(document)
    assert not any(heading.startswith("APPROVED") for heading in found["headings"]), found["headings"]
    assert found["links"] == []
    assert found["html"] == []


def test_md_text_and_md_code_show_controls_and_neutralise_markup() -> None:
    assert visible("a\r\nb\x1b\x85\u202e") == "a\\r\\nb\\x1b\\x85\\u202e"
    assert md_text("*x* [a](b) <i> | &amp;") == "\\*x\\* \\[a\\](b) \\<i\\> \\| \\&amp;"
    assert md_text("# title") == "\\# title"
    assert md_text("1. item") == "1\\. item"
    assert md_text("- item") == "\\- item"
    assert md_text("a\nb", line_breaks=True) == "a<br>b"
    assert md_text("a\nb") == "a\\\\nb"
    assert md_code("a`b\rc") == "``a`b\\rc``"
    assert md_code("x|y", in_table=True) == "`x\\|y`"


@pytest.mark.parametrize("value", [HOSTILE, "`" * 5, "\u2028# heading", "x\n\n<script>alert(1)</script>"])
def test_every_helper_keeps_a_hostile_value_inline(value: str) -> None:
    for rendered in (md_text(value), md_code(value), md_text(value, line_breaks=True)):
        document = f"# Title\n\nBefore {rendered} after\n"
        found = structure(document)
        assert found["headings"] == ["Title"]
        assert found["links"] == []
        assert found["html"] == []
        assert PARSER.parse(document)[3].type == "paragraph_open"
        assert sum(1 for t in PARSER.parse(document) if t.type == "paragraph_open") == 1


def test_release_notes_keep_a_hostile_display_name_in_its_code_span() -> None:
    base = clean_agent()
    target = clean_agent()
    data = {"name": new_id(), "displayName": HOSTILE}
    target.intents.append(Resource("intents", "hostile", data, {}))
    target.agent["displayName"] = "Agent\r\r# APPROVED by security team"
    notes = diff_packages(base, target).to_markdown()
    assert_inert(notes)
    assert "# APPROVED" not in notes.splitlines()
    assert visible(HOSTILE) in notes  # the reviewer sees exactly what the name holds


def test_lint_report_rows_stay_rows() -> None:
    finding = Finding(
        rule_id="unused-intent",
        severity="INFO",
        path="intents/x|y/x.json",
        message=f"intent {HOSTILE!s} is not used | by any route\n| forged | row |",
        resource_type="intent",
        resource_display_names=(HOSTILE,),
    )
    report = findings_to_markdown([finding], source="agent\r# APPROVED.zip")
    assert_inert(report)
    assert structure(report)["rows"] == 2  # the header and the one finding


def test_release_summary_and_validation_summary_escape_every_value() -> None:
    summary = {
        "release_id": "rel-1\r# APPROVED by security team",
        "outcome": "released",
        "stages": {"staging": {"agent": "projects/p/agents/a`\r[x](y)", "environment": "staging\r| forged |"}},
        "gates": [{"task": "lint", "state": "success", "detail": HOSTILE}],
        "deployed": {"prod": {HOSTILE: "projects/p/versions/1\r# APPROVED"}},
        "reports": ["file:///tmp/r.md\r\r[click](https://evil.example)"],
    }
    document = release_summary_markdown(summary)
    assert_inert(document)
    assert structure(document)["rows"] == 4  # two header rows and one row per table
    validation = validation_markdown(
        [
            {
                "key": HOSTILE,
                "environment": "draft\r# APPROVED",
                "validation_failed": False,
                "total": None,
                "coverage": None,
            }
        ],
        [f"{HOSTILE}: test case fails"],
    )
    assert_inert(validation)
    assert structure(validation)["rows"] == 2
