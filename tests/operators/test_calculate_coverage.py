"""CXCalculateCoverageOperator against the emulator: scores, counts, uncovered intents, thresholds."""

from __future__ import annotations

from typing import Any

import pytest
from agent_changes import cases_by_name
from google.cloud import dialogflowcx_v3 as cx
from operator_harness import CONN_ID, make_context, render

from airflow_provider_cx.links import CXAgentLink
from airflow_provider_cx.operators.calculate_coverage import CXCalculateCoverageOperator
from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError, CXResourceNotFoundError

BRANCH_TESTS = ("Find a branch by ZIP code", "Find a branch step by step")


def operator(agent: str, **kwargs: Any) -> CXCalculateCoverageOperator:
    return CXCalculateCoverageOperator(task_id="coverage", agent=agent, gcp_conn_id=CONN_ID, **kwargs)


def test_reports_every_kind_of_coverage(sample_agent, cx_connection):
    context = make_context()
    result = operator(sample_agent, min_intent_coverage=1, min_transition_coverage=0.5).execute(context)

    assert result["intent"] == {"covered": 11, "total": 11, "score": 1.0, "minimum": 1.0}
    transitions = result["page_transition"]
    assert 0 < transitions["covered"] < transitions["total"]
    assert transitions["score"] == round(transitions["covered"] / transitions["total"], 4)
    assert transitions["minimum"] == 0.5
    assert result["route_group"]["score"] == 1.0
    assert result["route_group"]["total"] == result["route_group"]["covered"] > 0
    assert result["uncovered_intents"] == []
    assert context["ti"].xcom["cx_coverage"] == result
    assert context["ti"].xcom[CXAgentLink.key].endswith(sample_agent)


def test_fewer_test_cases_leave_intents_uncovered_and_fail_the_gate(sample_agent, cx_connection):
    tests = cases_by_name(cx_connection, sample_agent)
    cx_connection.client(cx.TestCasesClient).batch_delete_test_cases(
        request={"parent": sample_agent, "names": [tests[name] for name in BRANCH_TESTS]}
    )
    context = make_context()
    with pytest.raises(CXGateFailedError, match=r"intent coverage 90\.9% < 100\.0%"):
        operator(sample_agent, min_intent_coverage=1.0).execute(context)
    summary = context["ti"].xcom["cx_coverage"]
    assert summary["uncovered_intents"] == ["branch.find"]
    assert summary["intent"]["covered"] == 10


def test_transition_gate_fails_below_its_minimum(sample_agent, cx_connection):
    with pytest.raises(CXGateFailedError, match=r"page_transition coverage \d+\.\d% < 90\.0%") as failed:
        operator(sample_agent, min_transition_coverage=0.9).execute(make_context())
    assert "intent coverage" not in str(failed.value)


@pytest.mark.parametrize(
    "arguments",
    [{"min_intent_coverage": 1.2}, {"min_transition_coverage": -0.1}, {"min_route_group_coverage": "most"}],
)
def test_out_of_range_thresholds_are_refused_before_any_call(cx_connection, arguments):
    # An unknown agent: had any call been made, the error would be CXResourceNotFoundError.
    missing = "projects/test-project/locations/global/agents/no-such-agent"
    with pytest.raises(CXInvalidInputError, match=next(iter(arguments))):
        operator(missing, **arguments).execute(make_context())
    with pytest.raises(CXResourceNotFoundError, match="no-such-agent"):
        operator(missing).execute(make_context())


def test_thresholds_are_templated(sample_agent, cx_connection):
    op = operator("{{ params.agent }}", min_intent_coverage="{{ params.minimum }}")
    render(op, make_context(op, params={"agent": sample_agent, "minimum": "0.75"}))
    assert (op.agent, op.min_intent_coverage) == (sample_agent, "0.75")
    assert op.execute(make_context())["intent"]["minimum"] == 0.75
