"""CXDetectIntentOperator against the emulator: tables from lists and files, environments, the gate, quota faults."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from agent_changes import drop_transfer_route
from faulty_emulator import fast_retries
from google.cloud import dialogflowcx_v3 as cx
from operator_harness import CONN_ID, connect, make_context, new_agent, new_environment, render

from airflow_provider_cx.links import CXEnvironmentLink
from airflow_provider_cx.operators.detect_intent import CXDetectIntentOperator
from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError, CXResourceNotFoundError

TABLE = [
    {"text": "hello", "expected_intent": "Default Welcome Intent", "expected_page": "Start Page"},
    {"text": "I lost my credit card", "expected_intent": "card.block", "expected_page": "Block Card"},
    {
        "text": "I want to transfer money",
        "expected_intent": "transfer.create",
        "expected_page": "Collect Transfer Details",
    },
    {"text": "where is the nearest branch", "expected_page": "Find Branch"},
    {"text": "what is my balance", "expected_intent": "account.balance"},
    {"text": "I want to talk to a person", "expected_intent": "support.agent", "expected_page": "End Session"},
]


def operator(agent: str, utterances: Any = TABLE, **kwargs: Any) -> CXDetectIntentOperator:
    return CXDetectIntentOperator(
        task_id="smoke_test", agent=agent, utterances=utterances, gcp_conn_id=CONN_ID, **kwargs
    )


def test_every_utterance_reaches_its_intent_and_page_in_an_environment(sample_agent, cx_connection):
    environment = new_environment(cx_connection, sample_agent)
    display = cx_connection.client(cx.EnvironmentsClient).get_environment(name=environment).display_name
    context = make_context()
    result = operator(sample_agent, environment=display, max_workers=3).execute(context)
    assert result == {
        "environment": environment,
        "total": len(TABLE),
        "passed": len(TABLE),
        "failed": 0,
        "accuracy": 1.0,
        "min_accuracy": 1.0,
        "mismatches": [],
        "reports": {},  # no report_to: no reports
    }
    assert context["ti"].xcom["cx_detect_intent"] == result
    assert context["ti"].xcom[CXEnvironmentLink.key].endswith(f"{sample_agent}/environments")


def test_reports_name_the_stage_agent_and_environment_and_time_each_utterance(sample_agent, cx_connection, tmp_path):
    environment = new_environment(cx_connection, sample_agent)
    display = cx_connection.client(cx.EnvironmentsClient).get_environment(name=environment).display_name
    drop_transfer_route(cx_connection, sample_agent)  # the draft changes; the environment still serves the old flow
    op = operator(
        sample_agent,
        environment=display,
        report_to=str(tmp_path / "reports"),
        subject=f"prod environment {display}",
        stage="prod",
    )

    result = op.execute(make_context())

    assert result["reports"] == {
        "junit": (tmp_path / "reports" / "smoke_test.junit.xml").as_uri(),
        "markdown": (tmp_path / "reports" / "smoke_test.md").as_uri(),
    }
    junit = ET.parse(tmp_path / "reports" / "smoke_test.junit.xml").getroot()
    (suite,) = junit.iter("testsuite")
    agent_id = sample_agent.rsplit("/", 1)[-1]
    assert suite.get("name") == f"prod.{agent_id}.{display}"
    cases = list(suite.iter("testcase"))
    assert [case.get("name") for case in cases] == [row["text"] for row in TABLE]
    assert {case.get("classname") for case in cases} == {f"prod.{agent_id}.{display}"}
    assert all(float(case.get("time")) > 0 for case in cases)  # each DetectIntent call, measured
    assert float(suite.get("time")) == pytest.approx(sum(float(case.get("time")) for case in cases), abs=0.01)
    properties = {prop.get("name"): prop.get("value") for prop in suite.iter("property")}
    assert properties["subject"] == f"prod environment {display}"
    markdown = (tmp_path / "reports" / "smoke_test.md").read_text()
    assert f"- Tested: prod environment {display}" in markdown
    assert f"{len(TABLE)} of {len(TABLE)} utterances matched" in markdown


def test_a_failing_utterance_is_a_junit_failure_saying_what_was_expected(sample_agent, cx_connection, tmp_path):
    drop_transfer_route(cx_connection, sample_agent)
    context = make_context()
    with pytest.raises(CXGateFailedError):
        operator(sample_agent, report_to=tmp_path).execute(context)

    assert context["ti"].xcom["cx_detect_intent"]["reports"]["junit"] == (tmp_path / "smoke_test.junit.xml").as_uri()
    junit = ET.parse(tmp_path / "smoke_test.junit.xml").getroot()
    assert (junit.get("tests"), junit.get("failures")) == (str(len(TABLE)), "1")
    (failure,) = junit.iter("failure")
    assert "expected intent 'transfer.create', page 'Collect Transfer Details'; got intent" in failure.get("message")
    (suite,) = junit.iter("testsuite")
    assert suite.get("name") == f"dialogflow_cx.{sample_agent.rsplit('/', 1)[-1]}.draft"
    markdown = (tmp_path / "smoke_test.md").read_text()
    assert "- Tested: draft" in markdown
    assert "**FAILED**" in markdown


@pytest.mark.parametrize("field", ["subject", "stage"])
def test_an_empty_subject_or_stage_is_refused_before_any_call(sample_agent, cx_connection, field):
    with pytest.raises(CXInvalidInputError, match=f"{field} must be non-empty text"):
        operator(sample_agent, **{field: " "}).execute(make_context())


def test_a_dropped_route_fails_the_draft_but_not_the_environment(sample_agent, cx_connection):
    environment = new_environment(cx_connection, sample_agent)
    drop_transfer_route(cx_connection, sample_agent)
    context = make_context()
    with pytest.raises(CXGateFailedError, match=r"accuracy 83\.3% is below min_accuracy 100\.0%.*transfer money"):
        operator(sample_agent).execute(context)
    (mismatch,) = context["ti"].xcom["cx_detect_intent"]["mismatches"]
    assert mismatch["text"] == "I want to transfer money"
    assert (mismatch["intent"], mismatch["page"]) != ("transfer.create", "Collect Transfer Details")

    assert operator(sample_agent, min_accuracy=0.8).execute(make_context())["failed"] == 1
    assert operator(sample_agent, environment=environment).execute(make_context())["failed"] == 0


def test_tables_from_csv_and_json_files(sample_agent, cx_connection, tmp_path):
    csv_path = tmp_path / "smoke.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "expected_intent", "expected_page", "language_code"])
        writer.writeheader()
        writer.writerows(TABLE)
    json_path = tmp_path / "smoke.json"
    json_path.write_text(json.dumps({"utterances": TABLE[:2]}))
    assert operator(sample_agent, str(csv_path)).execute(make_context())["passed"] == len(TABLE)
    assert operator(sample_agent, json_path.as_uri()).execute(make_context())["passed"] == 2


def test_a_large_table_under_quota_and_availability_faults(monkeypatch, cx_emulator_factory):
    fast_retries(monkeypatch)
    faults = {
        "seed": 3,
        "methods": {"Sessions/DetectIntent": {"error_rate": 0.3, "codes": ["RESOURCE_EXHAUSTED", "UNAVAILABLE"]}},
    }
    server = cx_emulator_factory()
    connect(monkeypatch, server)
    agent = new_agent(server)
    server.admin().set_faults(faults)
    rows = TABLE * 10
    result = operator(agent, rows, max_workers=8).execute(make_context())
    stats = server.admin().stats()
    calls = stats["counts"]["/google.cloud.dialogflow.cx.v3.Sessions/DetectIntent"]
    peers = {c["peer"] for c in stats["callers"] if c["method"].endswith("/DetectIntent")}
    assert (result["total"], result["passed"]) == (len(rows), len(rows))
    assert calls > len(rows)  # faults were injected and the rejected calls repeated
    assert len(peers) == 1  # every thread used the one client (one channel, one connection)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"min_accuracy": 2}, "between 0 and 1"),
        ({"max_workers": 0}, "from 1 to 32"),
        ({"max_workers": 64}, "from 1 to 32"),
        ({"utterances": []}, "the table has no rows"),
        ({"utterances": [{"text": "hi"}]}, "row 1: give expected_intent, expected_page or both"),
        ({"utterances": [*TABLE, {"text": " ", "expected_intent": "x"}]}, "row 7: text is empty"),
        ({"utterances": [{"text": "hi", "intent": "x"}]}, r"unknown column\(s\) \['intent'\]"),
        ({"utterances": [{"text": "hi", "expected_page": 3}]}, "expected_page must be text"),
        ({"utterances": "table.txt"}, "must be a .csv or .json file"),
        ({"utterances": 42}, "list of rows or a .csv/.json file"),
    ],
)
def test_bad_input_is_refused_before_any_call(cx_connection, arguments, message):
    missing = "projects/test-project/locations/global/agents/no-such-agent"  # a call would raise NotFound
    arguments = {"utterances": TABLE, **arguments}
    with pytest.raises(CXInvalidInputError, match=message):
        operator(missing, **arguments).execute(make_context())


def test_unreadable_files_and_unknown_environments_are_clear_errors(sample_agent, cx_connection, tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "no-text.csv").write_text("utterance,expected_intent\nhi,x\n")
    with pytest.raises(CXInvalidInputError, match=r"bad\.json is not valid JSON"):
        operator(sample_agent, str(tmp_path / "bad.json")).execute(make_context())
    with pytest.raises(CXInvalidInputError, match="needs a header row with a 'text' column"):
        operator(sample_agent, str(tmp_path / "no-text.csv")).execute(make_context())
    with pytest.raises(FileNotFoundError, match=r"missing\.csv"):
        operator(sample_agent, str(tmp_path / "missing.csv")).execute(make_context())
    with pytest.raises(CXResourceNotFoundError, match="'canary' not found"):
        operator(sample_agent, environment="canary").execute(make_context())


def test_templated_fields_render(sample_agent, cx_connection, tmp_path):
    op = operator(
        "{{ params.agent }}", "{{ params.folder }}/smoke-{{ ds_nodash }}.json", environment="{{ params.env }}"
    )
    render(op, make_context(op, params={"agent": sample_agent, "folder": str(tmp_path), "env": "prod"}))
    assert (op.agent, op.utterances, op.environment) == (sample_agent, f"{tmp_path}/smoke-20240517.json", "prod")
