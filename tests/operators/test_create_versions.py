"""CXCreateVersionsOperator against the emulator: selection, idempotency under kills, lost responses and chaos."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from faulty_emulator import CHAOS, fast_retries, lossy_emulator
from google.cloud import dialogflowcx_v3 as cx
from operator_harness import CONN_ID, FAST, connect, make_context, new_agent, render

from airflow_provider_cx.links import CXAgentLink
from airflow_provider_cx.operators.create_versions import CXCreateVersionsOperator, release_marker
from airflow_provider_cx.operators.errors import CXInvalidInputError, CXResourceNotFoundError

SAMPLE_FLOWS = {"Default Start Flow", "Card Services", "Transfers", "Branch Finder"}


def operator(agent: str, **kwargs: Any) -> CXCreateVersionsOperator:
    kwargs.setdefault("release_id", "rel-1")
    return CXCreateVersionsOperator(task_id="create_versions", agent=agent, gcp_conn_id=CONN_ID, **FAST, **kwargs)


def versions_by_flow(server: Any, agent: str) -> dict[str, list[cx.Version]]:
    flows = server.client(cx.FlowsClient).list_flows(parent=agent)
    versions = server.client(cx.VersionsClient)
    return {flow.display_name: list(versions.list_versions(parent=flow.name)) for flow in flows}


def test_versions_every_reachable_flow_and_reports_them(sample_agent, cx_connection):
    op = operator(sample_agent, description="Nightly build")
    context = make_context(op)
    result = op.execute(context)

    stored = versions_by_flow(cx_connection, sample_agent)
    assert set(result) == SAMPLE_FLOWS
    for flow, name in result.items():
        (version,) = stored[flow]
        assert version.name == name
        assert version.display_name == "rel-1"
        assert version.description == f"Nightly build\n{release_marker('rel-1')}"
    summary = context["ti"].xcom["cx_versions"]
    assert summary == {"release_id": "rel-1", "created": list(result.values()), "adopted": []}
    assert context["ti"].xcom[CXAgentLink.key].endswith(sample_agent)


def test_rerun_with_the_same_release_adopts_and_a_new_release_creates(sample_agent, cx_connection):
    first = operator(sample_agent).execute(make_context())
    context = make_context()
    again = operator(sample_agent).execute(context)
    assert again == first
    assert context["ti"].xcom["cx_versions"]["adopted"] == list(first.values())
    assert context["ti"].xcom["cx_versions"]["created"] == []

    second = operator(sample_agent, release_id="rel-2").execute(make_context())
    assert set(second.values()).isdisjoint(first.values())
    assert {flow: len(v) for flow, v in versions_by_flow(cx_connection, sample_agent).items()} == dict.fromkeys(
        SAMPLE_FLOWS, 2
    )


def test_a_task_killed_half_way_and_rerun_makes_no_duplicates(sample_agent, cx_connection, monkeypatch):
    real = CXCreateVersionsOperator.version_flow
    calls = Counter()

    def dies_after_the_first_version(self, flow):
        outcome = real(self, flow)
        calls["made"] += 1
        if calls["made"] == 1:
            raise KeyboardInterrupt("worker killed")  # not an Exception: nothing may swallow it
        return outcome

    monkeypatch.setattr(CXCreateVersionsOperator, "version_flow", dies_after_the_first_version)
    with pytest.raises(KeyboardInterrupt):
        operator(sample_agent).execute(make_context())
    assert sum(len(v) for v in versions_by_flow(cx_connection, sample_agent).values()) == 1

    monkeypatch.setattr(CXCreateVersionsOperator, "version_flow", real)
    context = make_context()
    result = operator(sample_agent).execute(context)
    stored = versions_by_flow(cx_connection, sample_agent)
    assert all(len(versions) == 1 for versions in stored.values())
    assert {flow: v[0].name for flow, v in stored.items()} == result
    assert len(context["ti"].xcom["cx_versions"]["adopted"]) == 1
    assert len(context["ti"].xcom["cx_versions"]["created"]) == 3


def test_a_create_whose_response_is_lost_is_adopted_not_repeated(monkeypatch):
    fast_retries(monkeypatch)
    server, budget = lossy_emulator(lose={"CreateVersion": 2})
    try:
        connect(monkeypatch, server)
        agent = new_agent(server)
        result = operator(agent).execute(make_context())
        stored = versions_by_flow(server, agent)
    finally:
        server.stop(grace=None)
    assert len(budget.lost) == 2  # two creates were applied but answered UNAVAILABLE
    assert all(len(versions) == 1 for versions in stored.values())
    assert {flow: v[0].name for flow, v in stored.items()} == result


def test_thirty_percent_faults_on_every_rpc_still_make_exactly_one_version_per_flow(monkeypatch, cx_emulator_factory):
    fast_retries(monkeypatch)
    server = cx_emulator_factory()
    connect(monkeypatch, server)
    admin = server.admin()

    def two_runs(agent: str) -> tuple[dict[str, str], dict[str, str], int]:
        admin.reset_stats()
        first = operator(agent).execute(make_context())
        again = operator(agent).execute(make_context())  # a retried task
        calls = sum(n for method, n in admin.stats()["counts"].items() if "longrunning" not in method)
        return first, again, calls

    _, _, calls_without_faults = two_runs(new_agent(server))
    agent = new_agent(server)
    admin.set_faults(CHAOS)
    first, again, calls_with_faults = two_runs(agent)
    admin.set_faults(None)

    assert calls_with_faults > calls_without_faults  # faults were injected and retried
    stored = versions_by_flow(server, agent)
    assert first == again
    assert set(first) == SAMPLE_FLOWS
    assert all(len(versions) == 1 for versions in stored.values())


def test_selected_flows_by_display_or_resource_name(sample_agent, cx_connection):
    flows = {f.display_name: f.name for f in cx_connection.client(cx.FlowsClient).list_flows(parent=sample_agent)}
    result = operator(sample_agent, flows=["Transfers", flows["Card Services"], "Transfers"]).execute(make_context())
    assert set(result) == {"Transfers", "Card Services"}
    stored = versions_by_flow(cx_connection, sample_agent)
    assert {flow for flow, versions in stored.items() if versions} == {"Transfers", "Card Services"}


def test_unknown_flow_or_agent_is_a_clear_error_and_creates_nothing(sample_agent, cx_connection):
    with pytest.raises(CXResourceNotFoundError, match=r"'Payments' not found .*existing: .*'Transfers'"):
        operator(sample_agent, flows=["Transfers", "Payments"]).execute(make_context())
    assert not any(versions_by_flow(cx_connection, sample_agent).values())
    missing = sample_agent.rsplit("/", 1)[0] + "/no-such-agent"
    with pytest.raises(CXResourceNotFoundError, match="no-such-agent does not exist"):
        operator(missing).execute(make_context())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"release_id": "  "}, "release_id must be a non-empty string"),
        ({"release_id": "a]b"}, "one line without"),
        ({"release_id": "r" * 65}, "1 to 64 characters"),
        ({"description": "d" * 480}, "description is too long"),
        ({"flows": []}, "flows is an empty list"),
        ({"flows": "Transfers"}, "flows must be a list"),
        ({"location": "us-central1"}, "contradicts agent"),
    ],
)
def test_bad_input_is_refused_before_any_change(sample_agent, cx_connection, arguments, message):
    with pytest.raises(CXInvalidInputError, match=message):
        operator(sample_agent, **arguments).execute(make_context())
    assert not any(versions_by_flow(cx_connection, sample_agent).values())


def test_templated_fields_render(sample_agent, cx_connection):
    op = operator(
        "{{ params.agent }}",
        release_id="release-{{ ds_nodash }}",
        flows=["{{ params.flow }}"],
        description="built {{ ds }}",
    )
    context = make_context(op, params={"agent": sample_agent, "flow": "Transfers"})
    render(op, context)
    assert (op.agent, op.release_id, op.flows, op.description) == (
        sample_agent,
        "release-20240517",
        ["Transfers"],
        "built 2024-05-17",
    )
    result = op.execute(context)
    (version,) = versions_by_flow(cx_connection, sample_agent)["Transfers"]
    assert result == {"Transfers": version.name}
    assert version.display_name == "release-20240517"


def test_default_selection_skips_flows_no_route_reaches(sample_agent, cx_connection):
    flows = cx_connection.client(cx.FlowsClient)
    flows.create_flow(parent=sample_agent, flow=cx.Flow(display_name="Orphan"))
    result = operator(sample_agent).execute(make_context())
    assert set(result) == SAMPLE_FLOWS
    assert versions_by_flow(cx_connection, sample_agent)["Orphan"] == []
    assert set(operator(sample_agent, release_id="r-orphan", flows=["Orphan"]).execute(make_context())) == {"Orphan"}
