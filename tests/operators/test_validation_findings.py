"""Validation findings: the allow-list, the grouping of the JSON report and the flattening of API messages."""

from __future__ import annotations

from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.reports.validation_findings import (
    ValidationFinding,
    allow_matches,
    finding_from_message,
    grouped,
    render_markdown,
)

FLOW = "projects/p/locations/global/agents/a/flows/f1"


def finding(severity: str = "WARNING", rule: str = "missing-route", flow: str = "Main") -> ValidationFinding:
    return ValidationFinding(
        flow=flow,
        flow_name=FLOW if flow == "Main" else f"{FLOW}-{flow}",
        severity=severity,
        resource_type="PAGE",
        resources=("Start", "Billing"),
        detail=f"[{rule}] the page has no route",
        rule=rule,
    )


def test_severity_reaches_its_own_level_and_those_below():
    warning = finding("WARNING")
    assert warning.reaches("INFO")
    assert warning.reaches("WARNING")
    assert not warning.reaches("ERROR")


def test_a_string_entry_is_a_glob_on_the_rule_or_the_detail():
    assert allow_matches("missing-*", finding())
    assert allow_matches("*no route", finding())
    assert not allow_matches("other-*", finding())


def test_a_mapping_entry_needs_every_key_it_names_to_match():
    assert allow_matches({"rule": "missing-route", "resource": "Bill*"}, finding())
    assert not allow_matches({"rule": "missing-route", "flow": "Other"}, finding())


def test_grouped_puts_flows_in_order_and_the_most_severe_first():
    findings = [finding("INFO"), finding("ERROR", flow="Second"), finding("ERROR")]
    flows = grouped(findings)
    assert [flow["flow"] for flow in flows] == ["Main", "Second"]
    assert list(flows[0]["findings"]) == ["ERROR", "INFO"]
    assert flows[0]["findings"]["INFO"][0]["resources"] == ("Start", "Billing")


def test_markdown_states_the_verdict_and_strips_the_rule_prefix_from_the_detail():
    head = {"agent": "projects/p/locations/global/agents/a", "fail_on": "ERROR", "counts": {"ERROR": 1}}
    markdown = render_markdown(head, [finding("ERROR")])
    assert "**FAILED**" in markdown
    assert "| missing-route | Start, Billing | the page has no route |" in markdown


def test_an_api_message_is_flattened_with_display_names_and_its_rule():
    message = cx.ValidationMessage(
        resource_type=cx.ValidationMessage.ResourceType.PAGE,
        resource_names=[cx.ResourceName(name=f"{FLOW}/pages/p1", display_name="Billing"), cx.ResourceName(name="x")],
        severity=cx.ValidationMessage.Severity.ERROR,
        detail="[unreachable-page] nothing routes here",
    )
    flat = finding_from_message("Main", FLOW, message)
    assert flat.resources == ("Billing", "x")
    assert (flat.severity, flat.rule, flat.resource_type) == ("ERROR", "unreachable-page", "PAGE")


def test_an_unspecified_severity_counts_as_info():
    message = cx.ValidationMessage(detail="no rule prefix")
    flat = finding_from_message("Main", FLOW, message)
    assert (flat.severity, flat.rule) == ("INFO", "")
