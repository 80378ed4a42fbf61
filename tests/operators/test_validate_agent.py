"""CXValidateAgentOperator against the emulator over gRPC."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions
from operator_harness import CONN_ID, connect, export_files, make_context, new_agent, render

from airflow_provider_cx.emulator.testing import package_bytes
from airflow_provider_cx.links import CXAgentLink
from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError, CXResourceNotFoundError
from airflow_provider_cx.operators.validate_agent import CXValidateAgentOperator
from airflow_provider_cx.package import read_package, write_zip
from airflow_provider_cx.sample_agent import sample_agent_path

FEW_PHRASES = "intent-few-training-phrases"


def validate_task(agent: str, **kwargs: Any) -> CXValidateAgentOperator:
    return CXValidateAgentOperator(task_id="validate", agent=agent, gcp_conn_id=CONN_ID, **kwargs)


@pytest.fixture
def broken_agent(cx_connection: Any) -> str:
    """The sample agent with a route from Transfers' first page to a page that does not exist."""
    package = read_package(package_bytes(sample_agent_path()))
    transfers = next(flow for flow in package.flows if flow.display_name == "Transfers")
    page = transfers.pages[0]
    page.data.setdefault("transitionRoutes", []).append({"condition": "$session.params.x = 1", "targetPage": "Nowhere"})
    return new_agent(cx_connection, write_zip(package))


def test_warnings_pass_an_error_gate_and_the_report_is_grouped(
    sample_agent: str, cx_connection: Any, tmp_path: Path
) -> None:
    before = export_files(cx_connection, sample_agent)
    context = make_context()

    result = validate_task(sample_agent, report_to=tmp_path / "reports").execute(context)

    assert result["failed"] is False
    assert result["counts"]["ERROR"] == 0
    assert result["counts"]["WARNING"] > 0
    assert result["allowed"] == 0
    assert result["blocking"] == []
    report = json.loads((tmp_path / "reports" / "validation-report.json").read_text())
    assert report["counts"] == result["counts"]
    flows = {flow["flow"]: flow for flow in report["flows"]}
    assert "Default Start Flow" in flows
    assert sum(len(items) for f in flows.values() for items in f["findings"].values()) == result["counts"]["WARNING"]
    assert result["flows_with_findings"] == len(flows)
    markdown = (tmp_path / "reports" / "validation-report.md").read_text()
    assert "## Flow Default Start Flow" in markdown
    assert "### WARNING" in markdown
    assert result["reports"]["markdown"] == (tmp_path / "reports" / "validation-report.md").as_uri()
    assert context["ti"].xcom[CXAgentLink.key].endswith(sample_agent)
    assert export_files(cx_connection, sample_agent) == before


def test_warning_gate_fails_and_still_reports(sample_agent: str) -> None:
    context = make_context()
    with pytest.raises(CXGateFailedError, match=f"at or above WARNING: .*{FEW_PHRASES}"):
        validate_task(sample_agent, fail_on="WARNING").execute(context)
    pushed = context["ti"].xcom["return_value"]
    assert pushed["failed"] is True
    assert 0 < len(pushed["blocking"]) <= 10


def test_allow_list_accepts_findings_on_purpose(sample_agent: str) -> None:
    result = validate_task(sample_agent, fail_on="WARNING", allow=[FEW_PHRASES]).execute(make_context())
    assert result["failed"] is False
    assert result["counts"]["WARNING"] == 0
    assert result["allowed"] > 0


def test_planted_error_fails_the_default_gate(broken_agent: str) -> None:
    with pytest.raises(CXGateFailedError, match="Nowhere"):
        validate_task(broken_agent).execute(make_context())


def test_allow_entry_by_flow_and_detail(broken_agent: str) -> None:
    allow = [{"flow": "Transfers", "detail": "*Nowhere*"}]
    result = validate_task(broken_agent, allow=allow).execute(make_context())
    assert result["failed"] is False
    assert result["allowed"] >= 1
    other_flow = [{"flow": "Some Other Flow", "detail": "*Nowhere*"}]
    with pytest.raises(CXGateFailedError):
        validate_task(broken_agent, allow=other_flow).execute(make_context())


def test_stored_result_without_a_validation_is_not_found(sample_agent: str) -> None:
    with pytest.raises(CXResourceNotFoundError, match="call ValidateAgent first"):
        validate_task(sample_agent, revalidate=False).execute(make_context())
    fresh = validate_task(sample_agent).execute(make_context())
    assert validate_task(sample_agent, revalidate=False).execute(make_context())["counts"] == fresh["counts"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fail_on": "FATAL"}, "fail_on 'FATAL'"),
        ({"allow": "intent-*"}, "allow must be a list"),
        ({"allow": [{"rules": "x"}]}, "keys must be some of"),
        ({"location": "europe-west2"}, "contradicts agent"),
    ],
)
def test_bad_input(sample_agent: str, kwargs: dict, message: str) -> None:
    with pytest.raises(CXInvalidInputError, match=message):
        validate_task(sample_agent, **kwargs).execute(make_context())


def test_unknown_agent(cx_connection: Any) -> None:
    with pytest.raises(CXResourceNotFoundError, match="no-such-agent"):
        validate_task("projects/test-project/locations/global/agents/no-such-agent").execute(make_context())


def test_rpc_failure_propagates(monkeypatch: pytest.MonkeyPatch, cx_emulator_factory: Any) -> None:
    server = cx_emulator_factory()
    connect(monkeypatch, server)
    agent = new_agent(server)
    server.admin().set_faults(
        {"methods": {"Agents/ValidateAgent": {"error_rate": 1.0, "codes": ["PERMISSION_DENIED"]}}}
    )
    with pytest.raises(exceptions.PermissionDenied):
        validate_task(agent).execute(make_context())


def test_templated_fields_render(tmp_path: Path) -> None:
    task = validate_task(
        "{{ params.agent }}",
        fail_on="{{ params.gate }}",
        allow=["{{ params.rule }}"],
        report_to=f"{tmp_path}/{{{{ ds }}}}",
    )
    context = make_context(
        task, params={"agent": "projects/p/locations/global/agents/a", "gate": "WARNING", "rule": "x"}
    )
    render(task, context)
    assert (task.agent, task.fail_on, task.allow) == ("projects/p/locations/global/agents/a", "WARNING", ["x"])
    assert task.report_to == f"{tmp_path}/2024-05-17"
