"""CXRunTestCasesOperator against the emulator: selection, reports, the pass-rate gate, environments, deferral."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from agent_changes import CONFIRMING_TRANSFER_TESTS, break_transfers, cases_by_name
from google.cloud import dialogflowcx_v3 as cx
from operator_harness import CONN_ID, FAST, connect, make_context, new_agent, new_environment, render, run_deferred

from airflow_provider_cx.hooks.errors import CXOperationFailedError
from airflow_provider_cx.links import CXTestResultsLink
from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError, CXResourceNotFoundError
from airflow_provider_cx.operators.run_test_cases import CXRunTestCasesOperator
from airflow_provider_cx.storage import StorageLocationError

SMOKE_TESTS = 5  # test cases tagged #smoke in the sample agent


def operator(agent: str, **kwargs: Any) -> CXRunTestCasesOperator:
    kwargs.setdefault("deferrable", False)
    return CXRunTestCasesOperator(task_id="run_tests", agent=agent, gcp_conn_id=CONN_ID, **FAST, **kwargs)


def result_count(server: Any, agent: str) -> int:
    client = server.client(cx.TestCasesClient)
    return len(list(client.list_test_case_results(request={"parent": f"{agent}/testCases/-", "page_size": 1000})))


def test_smoke_tests_pass_and_reports_are_written(sample_agent, cx_connection, tmp_path):
    context = make_context()
    result = operator(sample_agent, tags=["smoke"], report_destination=str(tmp_path / "reports")).execute(context)

    assert result["total"] == result["passed"] == SMOKE_TESTS
    assert (result["failed"], result["pass_rate"], result["failing"], result["environment"]) == (0, 1.0, [], "")
    assert context["ti"].xcom["cx_test_run"] == result
    assert result_count(cx_connection, sample_agent) == SMOKE_TESTS
    assert context["ti"].xcom[CXTestResultsLink.key].endswith(f"{sample_agent}/testCases")
    junit = ET.parse(tmp_path / "reports" / "test_cases.junit.xml").getroot()
    assert (junit.get("tests"), junit.get("failures")) == (str(SMOKE_TESTS), "0")
    assert result["reports"]["junit"] == (tmp_path / "reports" / "test_cases.junit.xml").as_uri()
    markdown = Path(tmp_path / "reports" / "test_cases.md").read_text()
    assert f"{SMOKE_TESTS} of {SMOKE_TESTS} passed" in markdown
    assert "**passed**" in markdown


def test_reports_say_what_was_tested_and_how_long_the_run_took(sample_agent, cx_connection, tmp_path):
    op = operator(
        sample_agent,
        tags=["smoke"],
        report_destination=tmp_path,
        subject="staging agent, draft after restore",
        stage="staging",
    )

    op.execute(make_context())

    junit = ET.parse(tmp_path / "test_cases.junit.xml").getroot()
    (suite,) = junit.iter("testsuite")
    name = f"staging.{sample_agent.rsplit('/', 1)[-1]}.draft"
    assert suite.get("name") == name
    assert {case.get("classname") for case in suite.iter("testcase")} == {name}
    assert float(suite.get("time")) > 0  # the batch run's measured wall-clock time
    assert junit.get("time") == suite.get("time")
    properties = {prop.get("name"): prop.get("value") for prop in suite.iter("property")}
    assert properties["subject"] == "staging agent, draft after restore"
    markdown = (tmp_path / "test_cases.md").read_text()
    assert "- Tested: staging agent, draft after restore" in markdown
    assert "- Duration: " in markdown


def test_staging_and_prod_reports_never_share_a_suite_name(sample_agent, cx_connection, tmp_path):
    environment = new_environment(cx_connection, sample_agent)
    display = cx_connection.client(cx.EnvironmentsClient).get_environment(name=environment).display_name
    for stage, kwargs in (("staging", {}), ("prod", {"environment": display})):
        operator(sample_agent, tags=["smoke"], report_destination=tmp_path / stage, stage=stage, **kwargs).execute(
            make_context()
        )
    names = {
        stage: ET.parse(tmp_path / stage / "test_cases.junit.xml").getroot().find("testsuite").get("name")
        for stage in ("staging", "prod")
    }
    agent_id = sample_agent.rsplit("/", 1)[-1]
    assert names == {"staging": f"staging.{agent_id}.draft", "prod": f"prod.{agent_id}.{display}"}
    assert f"- Tested: environment {display}" in (tmp_path / "prod" / "test_cases.md").read_text()


def test_a_broken_route_fails_the_gate_and_names_the_failures(sample_agent, cx_connection, tmp_path):
    break_transfers(cx_connection, sample_agent)
    context = make_context()
    op = operator(sample_agent, tags=["#transfers", "smoke"], report_destination=tmp_path, min_pass_rate=0.9)

    with pytest.raises(CXGateFailedError, match=r"below min_pass_rate 90.0%.*Cancel a transfer at confirmation"):
        op.execute(context)

    summary = context["ti"].xcom["cx_test_run"]
    failing = {entry["test_case"]: entry["first_difference"] for entry in summary["failing"]}
    assert set(failing) == CONFIRMING_TRANSFER_TESTS
    assert summary["failed"] == len(CONFIRMING_TRANSFER_TESTS)
    assert summary["total"] == summary["passed"] + summary["failed"]
    assert summary["pass_rate"] == round(summary["passed"] / summary["total"], 4)
    assert all(difference.startswith("turn ") for difference in failing.values())
    junit = ET.parse(tmp_path / "test_cases.junit.xml").getroot()
    failed_cases = {case.get("name") for case in junit.iter("testcase") if case.find("failure") is not None}
    assert failed_cases == CONFIRMING_TRANSFER_TESTS
    assert "**FAILED**" in (tmp_path / "test_cases.md").read_text()

    lenient = operator(sample_agent, test_cases=sorted(CONFIRMING_TRANSFER_TESTS), min_pass_rate=0)
    assert lenient.execute(make_context())["passed"] == 0


def test_runs_in_an_environment_serve_its_versions_not_the_draft(sample_agent, cx_connection):
    environment = new_environment(cx_connection, sample_agent)
    break_transfers(cx_connection, sample_agent)
    names = sorted(CONFIRMING_TRANSFER_TESTS)
    display = cx_connection.client(cx.EnvironmentsClient).get_environment(name=environment).display_name

    in_environment = operator(sample_agent, environment=display, test_cases=names).execute(make_context())
    assert (in_environment["environment"], in_environment["passed"]) == (environment, len(names))
    with pytest.raises(CXGateFailedError):
        operator(sample_agent, test_cases=names).execute(make_context())


def test_deferred_run_round_trips_through_the_trigger(sample_agent, cx_connection):
    every = cases_by_name(cx_connection, sample_agent)
    resource_name = every["Find a branch by ZIP code"]
    op = operator(sample_agent, test_cases=[resource_name, "Greeting balance and goodbye"], deferrable=True)
    result, event = run_deferred(op, make_context())
    assert event["status"] == "success"
    assert (result["total"], result["passed"]) == (2, 2)


def test_a_failed_run_operation_fails_the_task(monkeypatch, cx_emulator_factory):
    server = cx_emulator_factory(faults={"methods": {"TestCases/BatchRunTestCases": {"operation_failure_rate": 1.0}}})
    connect(monkeypatch, server)
    agent = new_agent(server)
    with pytest.raises(CXOperationFailedError, match="INTERNAL"):
        operator(agent, tags=["smoke"]).execute(make_context())


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"min_pass_rate": 1.5}, CXInvalidInputError, "between 0 and 1"),
        ({"min_pass_rate": "high"}, CXInvalidInputError, "number between 0 and 1"),
        ({"tags": []}, CXInvalidInputError, "tags is an empty list"),
        ({"test_cases": []}, CXInvalidInputError, "test_cases is an empty list"),
        ({"test_cases": "Greeting"}, CXInvalidInputError, "list of non-empty strings"),
        ({"tags": ["nightly"]}, CXResourceNotFoundError, r"tag\(s\) \['nightly'\]; tags in use"),
        ({"test_cases": ["No such test"]}, CXResourceNotFoundError, "'No such test' not found"),
        ({"environment": "staging"}, CXResourceNotFoundError, "'staging' not found"),
        ({"report_destination": "gs://bucket-only/"}, StorageLocationError, "not a Cloud Storage object URI"),
    ],
)
def test_bad_input_is_a_clear_error_and_runs_nothing(sample_agent, cx_connection, arguments, error, message):
    with pytest.raises(error, match=message):
        operator(sample_agent, **arguments).execute(make_context())
    assert result_count(cx_connection, sample_agent) == 0


def test_templated_fields_render(sample_agent, cx_connection):
    op = operator(
        "{{ params.agent }}",
        tags=["{{ params.tag }}"],
        min_pass_rate="{{ params.rate }}",
        report_destination="{{ params.folder }}/{{ ds_nodash }}",
    )
    render(op, make_context(op, params={"agent": sample_agent, "tag": "smoke", "rate": "0.8", "folder": "/tmp/r"}))
    assert (op.agent, op.tags, op.min_pass_rate, op.report_destination) == (
        sample_agent,
        ["smoke"],
        "0.8",
        "/tmp/r/20240517",
    )
