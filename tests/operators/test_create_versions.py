"""CXCreateVersionsOperator against the emulator: selection, idempotency under kills, lost responses and chaos."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from faulty_emulator import CHAOS, fast_retries, lossy_emulator
from google.cloud import dialogflowcx_v3 as cx
from operator_harness import CONN_ID, FAST, connect, make_context, new_agent, render, run_deferred

from airflow_provider_cx.emulator.testing import TEST_PARENT
from airflow_provider_cx.hooks.errors import CXOperationFailedError, CXOperationTimeoutError
from airflow_provider_cx.links import CXAgentLink
from airflow_provider_cx.operators.create_versions import CXCreateVersionsOperator, release_marker
from airflow_provider_cx.operators.errors import CXInvalidInputError, CXResourceNotFoundError

SAMPLE_FLOWS = {"Default Start Flow", "Card Services", "Transfers", "Branch Finder"}


def operator(agent: str, **kwargs: Any) -> CXCreateVersionsOperator:
    kwargs.setdefault("release_id", "rel-1")
    return CXCreateVersionsOperator(task_id="create_versions", agent=agent, gcp_conn_id=CONN_ID, **{**FAST, **kwargs})


def versions_by_flow(server: Any, agent: str) -> dict[str, list[cx.Version]]:
    flows = server.client(cx.FlowsClient).list_flows(parent=agent)
    versions = server.client(cx.VersionsClient)
    return {flow.display_name: list(versions.list_versions(parent=flow.name)) for flow in flows}


def unfinished_creates(server: Any) -> list[str]:
    operations = server.client(cx.AgentsClient).list_operations(request={"name": TEST_PARENT, "filter": "done=false"})
    return [op.name for op in operations.operations if op.metadata.type_url.endswith("CreateVersionOperationMetadata")]


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
    assert summary == {
        "release_id": "rel-1",
        "created": list(result.values()),
        "adopted": [],
        "impacted": list(result),  # without only_changed every selected flow is impacted
        "unchanged": {},
        "only_changed": False,
        "environment": None,
    }
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


def test_a_task_killed_with_every_create_in_flight_and_rerun_adopts_them(monkeypatch, cx_emulator_factory):
    server = cx_emulator_factory(operation_delay=2.0)
    connect(monkeypatch, server)
    agent = new_agent(server)
    real = CXCreateVersionsOperator.version_flow
    all_started = threading.Barrier(len(SAMPLE_FLOWS))

    def worker_killed_after_starting_its_create(operation):
        all_started.wait(timeout=10)
        raise KeyboardInterrupt("worker killed")  # not an Exception: nothing may swallow it

    def dies_waiting(self, flow, wait=None):
        return real(self, flow, wait=worker_killed_after_starting_its_create)

    monkeypatch.setattr(CXCreateVersionsOperator, "version_flow", dies_waiting)
    with pytest.raises(KeyboardInterrupt):
        operator(agent).execute(make_context())
    assert len(unfinished_creates(server)) == len(SAMPLE_FLOWS)  # every create started, none finished ...
    assert not any(versions_by_flow(server, agent).values())  # ... so no version is visible yet

    monkeypatch.setattr(CXCreateVersionsOperator, "version_flow", real)
    context = make_context()
    result = operator(agent).execute(context)  # the retry, at once
    stored = versions_by_flow(server, agent)
    assert all(len(versions) == 1 for versions in stored.values())
    assert {flow: v[0].name for flow, v in stored.items()} == result
    assert context["ti"].xcom["cx_versions"]["adopted"] == list(result.values())
    assert context["ti"].xcom["cx_versions"]["created"] == []


def test_flows_are_versioned_concurrently(monkeypatch, cx_emulator_factory):
    delay = 1.5
    server = cx_emulator_factory(operation_delay=delay)
    connect(monkeypatch, server)
    agent = new_agent(server)
    result = operator(agent).execute(make_context())
    stored = versions_by_flow(server, agent)
    assert set(result) == SAMPLE_FLOWS
    # The emulator stamps a version with the time its CreateVersion call arrived. One after the other,
    # each create starts only once the previous one finished, >= delay later; at once, all arrive
    # before the first can finish.
    started = sorted(v[0].create_time.timestamp() for v in stored.values())
    assert started[-1] - started[0] < delay


def test_max_workers_bounds_how_many_flows_are_versioned_at_once(monkeypatch, cx_emulator_factory):
    delay = 1.0
    server = cx_emulator_factory(operation_delay=delay)
    connect(monkeypatch, server)
    agent = new_agent(server)
    operator(agent, max_workers=2).execute(make_context())
    started = sorted(v[0].create_time.timestamp() for v in versions_by_flow(server, agent).values())
    assert started[1] - started[0] < delay  # two at once ...
    assert started[2] - started[0] >= delay  # ... and the third only after one of them finished


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
        ({"max_workers": 0}, "max_workers must be a whole number from 1 to 32, got 0"),
        ({"max_workers": 33}, "max_workers must be a whole number from 1 to 32, got 33"),
        ({"max_workers": True}, "max_workers must be a whole number from 1 to 32, got True"),
        ({"release_id": "a]b", "deferrable": True}, "one line without"),
        ({"flows": ["Transfers", ""], "deferrable": True}, "flows must be a list of flow names"),
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


# --- failures name the flow ---------------------------------------------------------------------------

FAILING_CREATES = {
    "methods": {"Versions/CreateVersion": {"operation_failure_rate": 1.0, "operation_error_code": "ABORTED"}}
}


def run(op: CXCreateVersionsOperator, context: dict[str, Any]) -> Any:
    """The task as a worker runs it: through the trigger when it defers."""
    return run_deferred(op, context)[0] if op.deferrable else op.execute(context)


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferred"])
def test_a_failed_create_fails_the_task_naming_the_flow(monkeypatch, cx_emulator_factory, deferrable):
    server = cx_emulator_factory(faults=FAILING_CREATES)
    connect(monkeypatch, server)
    agent = new_agent(server)
    with pytest.raises(CXOperationFailedError, match=r"ABORTED: creating the version of flow 'Transfers' for release"):
        run(operator(agent, flows=["Transfers"], deferrable=deferrable), make_context())
    assert not any(versions_by_flow(server, agent).values())


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferred"])
def test_a_timeout_cancels_the_creates_still_running_and_names_their_flows(
    monkeypatch, cx_emulator_factory, deferrable
):
    server = cx_emulator_factory()
    connect(monkeypatch, server)
    agent = new_agent(server)
    server.admin().set_operation_delay(30)
    op = operator(agent, flows=["Transfers", "Card Services"], deferrable=deferrable, operation_timeout=0.5)
    with pytest.raises(CXOperationTimeoutError, match=r"not done after 0\.5s; cancellation was requested") as raised:
        run(op, make_context())
    notes = " ".join(raised.value.__notes__)
    assert "flow 'Transfers'" in notes  # the first flow; the deferred wait's note lists every one still running
    assert ("flow 'Card Services'" in notes) == deferrable
    assert unfinished_creates(server) == []  # cancelled, not left to land later
    assert not any(versions_by_flow(server, agent).values())


# --- deferral -----------------------------------------------------------------------------------------


def test_deferred_run_defers_once_and_resumes_with_what_the_sync_path_returns(sample_agent, cx_connection):
    op = operator(sample_agent, deferrable=True, description="Nightly build")
    context = make_context(op)
    result, event = run_deferred(op, context)

    assert len(op.deferral_events) == 1  # one deferral for every flow's create
    assert event["status"] == "success"
    assert len(event["operation_names"]) == len(SAMPLE_FLOWS)
    stored = versions_by_flow(cx_connection, sample_agent)
    assert set(result) == SAMPLE_FLOWS
    assert all(len(versions) == 1 for versions in stored.values())
    assert {flow: v[0].name for flow, v in stored.items()} == result
    assert all(v[0].description == f"Nightly build\n{release_marker('rel-1')}" for v in stored.values())
    assert context["ti"].xcom["cx_versions"] == {
        "release_id": "rel-1",
        "created": list(result.values()),
        "adopted": [],
        "impacted": list(result),
        "unchanged": {},
        "only_changed": False,
        "environment": None,
    }
    assert context["ti"].xcom[CXAgentLink.key].endswith(sample_agent)

    sync_context = make_context()
    assert operator(sample_agent, description="Nightly build").execute(sync_context) == result  # same mapping
    assert sync_context["ti"].xcom["cx_versions"]["adopted"] == list(result.values())


def test_a_deferred_rerun_with_nothing_to_create_finishes_without_deferring(sample_agent, cx_connection):
    first = operator(sample_agent).execute(make_context())
    context = make_context()
    again = operator(sample_agent, deferrable=True).execute(context)  # no TaskDeferred
    assert again == first
    assert context["ti"].xcom["cx_versions"] == {
        "release_id": "rel-1",
        "created": [],
        "adopted": list(first.values()),
        "impacted": list(first),
        "unchanged": {},
        "only_changed": False,
        "environment": None,
    }


def test_deferred_with_some_flows_already_versioned_adopts_them_and_waits_for_the_rest(sample_agent, cx_connection):
    partial = operator(sample_agent, flows=["Transfers"]).execute(make_context())
    context = make_context()
    result, event = run_deferred(operator(sample_agent, deferrable=True), context)
    assert result["Transfers"] == partial["Transfers"]
    assert len(event["operation_names"]) == len(SAMPLE_FLOWS) - 1
    summary = context["ti"].xcom["cx_versions"]
    assert summary["adopted"] == [partial["Transfers"]]
    assert sorted(summary["created"]) == sorted(name for flow, name in result.items() if flow != "Transfers")
    assert all(len(v) == 1 for v in versions_by_flow(cx_connection, sample_agent).values())


def test_deferred_creates_overlap_too(monkeypatch, cx_emulator_factory):
    delay = 1.5
    server = cx_emulator_factory(operation_delay=delay)
    connect(monkeypatch, server)
    agent = new_agent(server)
    result, _ = run_deferred(operator(agent, deferrable=True), make_context())
    started = sorted(v[0].create_time.timestamp() for v in versions_by_flow(server, agent).values())
    assert set(result) == SAMPLE_FLOWS
    assert started[-1] - started[0] < delay


def test_deferred_lost_create_responses_are_adopted_not_repeated(monkeypatch):
    fast_retries(monkeypatch)
    server, budget = lossy_emulator(lose={"CreateVersion": 2})
    try:
        connect(monkeypatch, server)
        agent = new_agent(server)
        result, _ = run_deferred(operator(agent, deferrable=True), make_context())
        stored = versions_by_flow(server, agent)
    finally:
        server.stop(grace=None)
    assert len(budget.lost) == 2
    assert all(len(versions) == 1 for versions in stored.values())
    assert {flow: v[0].name for flow, v in stored.items()} == result


def test_deferred_under_thirty_percent_faults_makes_exactly_one_version_per_flow(monkeypatch, cx_emulator_factory):
    fast_retries(monkeypatch)
    server = cx_emulator_factory()
    connect(monkeypatch, server)
    agent = new_agent(server)
    admin = server.admin()
    admin.reset_stats()
    admin.set_faults(CHAOS)
    first, _ = run_deferred(operator(agent, deferrable=True), make_context())
    again = operator(agent, deferrable=True).execute(make_context())  # a retried task: all adopted, no deferral
    admin.set_faults(None)
    assert first == again
    assert set(first) == SAMPLE_FLOWS
    assert all(len(versions) == 1 for versions in versions_by_flow(server, agent).values())


# --- only the flows a release changed ----------------------------------------------------------------


def changed_package(tmp_path: Any, *, page: bool = False, intent: bool = False) -> bytes:
    """The sample agent with the Transfers flow's Confirm Transfer page and/or intent branch.hours changed."""
    import json
    import shutil

    from airflow_provider_cx.emulator.testing import package_bytes
    from airflow_provider_cx.sample_agent import sample_agent_path

    root = tmp_path / f"agent-{page}-{intent}"
    shutil.copytree(sample_agent_path(), root)
    if page:
        path = root / "flows" / "Transfers" / "pages" / "Confirm Transfer.json"
        data = json.loads(path.read_text())
        data["entryFulfillment"]["messages"] = [{"text": {"text": ["Please confirm."]}, "languageCode": "en"}]
        path.write_text(json.dumps(data))
    if intent:
        path = root / "intents" / "branch.hours" / "trainingPhrases" / "en.json"
        data = json.loads(path.read_text())
        data["trainingPhrases"].append(
            {"parts": [{"text": "are you open on sundays"}], "repeatCount": 1, "languageCode": "en"}
        )
        path.write_text(json.dumps(data))
    return package_bytes(root)


def restore(server: Any, agent: str, content: bytes) -> None:
    from airflow_provider_cx.emulator.testing import wait_for

    wait_for(server.client(cx.AgentsClient).restore_agent(request={"name": agent, "agent_content": content}))


def release(agent: str, release_id: str, environment: str = "staging", **kwargs: Any) -> tuple[dict[str, str], dict]:
    """Version (only the changed flows) and deploy, as a stage of the release DAG does; returns result and summary."""
    from airflow_provider_cx.operators.deploy_environment import CXDeployEnvironmentOperator

    versions = operator(agent, release_id=release_id, only_changed=True, environment=environment, **kwargs)
    context = make_context(versions)
    result = versions.execute(context)
    deploy = CXDeployEnvironmentOperator(
        task_id="deploy",
        agent=agent,
        gcp_conn_id=CONN_ID,
        environment=environment,
        versions=result,
        create_if_missing=True,
        release_id=release_id,
        **FAST,
    )
    deploy.execute(make_context(deploy))
    return result, context["ti"].xcom["cx_versions"]


def served(server: Any, agent: str, environment: str = "staging") -> dict[str, str]:
    """``{flow display name: version name}`` the environment serves."""
    flows = {f.name: f.display_name for f in server.client(cx.FlowsClient).list_flows(parent=agent)}
    (env,) = [
        e for e in server.client(cx.EnvironmentsClient).list_environments(parent=agent) if e.display_name == environment
    ]
    return {flows[c.version.rsplit("/versions/", 1)[0]]: c.version for c in env.version_configs}


def test_a_release_changing_one_flow_versions_only_that_flow_in_each_stage(cx_connection, tmp_path):
    changed = changed_package(tmp_path, page=True)
    for stage in ("staging", "prod"):
        agent = new_agent(cx_connection)
        first, summary = release(agent, "rel-1", environment=stage)
        # A new environment serves nothing yet: every flow is impacted.
        assert summary["impacted"] == list(first)
        assert set(first) == SAMPLE_FLOWS
        assert summary["unchanged"] == {}
        assert summary["created"] == list(first.values())
        before = served(cx_connection, agent, stage)
        assert before == first

        restore(cx_connection, agent, changed)
        second, summary = release(agent, "rel-2", environment=stage)

        counts = {flow: len(versions) for flow, versions in versions_by_flow(cx_connection, agent).items()}
        assert counts == {**dict.fromkeys(SAMPLE_FLOWS, 1), "Transfers": 2}, stage  # exactly one new version
        assert summary["impacted"] == ["Transfers"]
        assert summary["created"] == [second["Transfers"]]
        assert summary["adopted"] == []
        assert summary["unchanged"] == {flow: v for flow, v in first.items() if flow != "Transfers"}
        assert summary["only_changed"] is True
        assert summary["environment"] == stage
        assert list(second) == list(first)  # every flow, in the same order
        after = served(cx_connection, agent, stage)
        assert after == {**before, "Transfers": second["Transfers"]}
        assert second["Transfers"] != before["Transfers"]


def test_a_changed_intent_impacts_every_flow_that_uses_it(cx_connection, tmp_path):
    agent = new_agent(cx_connection)
    first, _ = release(agent, "rel-1")
    restore(cx_connection, agent, changed_package(tmp_path, intent=True))

    second, summary = release(agent, "rel-2")

    # branch.hours is routed in Default Start Flow and in Branch Finder, in no other flow.
    assert summary["impacted"] == ["Default Start Flow", "Branch Finder"]
    assert set(summary["unchanged"]) == {"Card Services", "Transfers"}
    assert served(cx_connection, agent) == {
        flow: second[flow] if flow in summary["impacted"] else first[flow] for flow in first
    }
    for flow in summary["impacted"]:
        assert second[flow] != first[flow]


def test_an_unchanged_release_creates_nothing_and_deploys_nothing(cx_connection):
    agent = new_agent(cx_connection)
    first, _ = release(agent, "rel-1")
    restore(cx_connection, agent, package_bytes_of_sample())

    second, summary = release(agent, "rel-2")

    assert second == first
    assert summary["impacted"] == []
    assert summary["created"] == []
    assert summary["unchanged"] == first
    assert {flow: len(v) for flow, v in versions_by_flow(cx_connection, agent).items()} == dict.fromkeys(
        SAMPLE_FLOWS, 1
    )


def package_bytes_of_sample() -> bytes:
    from airflow_provider_cx.emulator.testing import package_bytes
    from airflow_provider_cx.sample_agent import sample_agent_path

    return package_bytes(sample_agent_path())


def test_rerun_of_an_only_changed_release_reports_the_same_flows_before_and_after_its_deploy(cx_connection, tmp_path):
    agent = new_agent(cx_connection)
    release(agent, "rel-1")
    restore(cx_connection, agent, changed_package(tmp_path, page=True))
    first = operator(agent, release_id="rel-2", only_changed=True, environment="staging")
    result = first.execute(make_context(first))

    context = make_context()
    again = operator(agent, release_id="rel-2", only_changed=True, environment="staging").execute(context)
    assert again == result
    assert context["ti"].xcom["cx_versions"]["adopted"] == [result["Transfers"]]

    # After the deploy, the environment serves rel-2's Transfers: still this release's impacted flow.
    _, summary = release(agent, "rel-2")
    assert summary["impacted"] == ["Transfers"]
    assert summary["adopted"] == [result["Transfers"]]
    assert summary["created"] == []
    assert len(versions_by_flow(cx_connection, agent)["Transfers"]) == 2


def test_every_flow_is_versioned_without_only_changed(cx_connection):
    agent = new_agent(cx_connection)
    first, _ = release(agent, "rel-1")
    op = operator(agent, release_id="rel-2", environment="staging")
    context = make_context(op)
    result = op.execute(context)

    assert set(result.values()).isdisjoint(first.values())
    summary = context["ti"].xcom["cx_versions"]
    assert summary["impacted"] == list(result)
    assert summary["unchanged"] == {}
    assert summary["only_changed"] is False


def test_only_changed_defers_for_the_changed_flows_only(cx_connection, tmp_path):
    agent = new_agent(cx_connection)
    first, _ = release(agent, "rel-1")
    restore(cx_connection, agent, changed_package(tmp_path, page=True))
    op = operator(agent, release_id="rel-2", only_changed=True, environment="staging", deferrable=True)
    context = make_context(op)

    result, _ = run_deferred(op, context)

    assert result == {**first, "Transfers": result["Transfers"]}
    assert result["Transfers"] != first["Transfers"]
    summary = context["ti"].xcom["cx_versions"]
    assert summary["created"] == [result["Transfers"]]
    assert summary["impacted"] == ["Transfers"]
    assert list(summary["unchanged"]) == [f for f in first if f != "Transfers"]


def test_only_changed_needs_an_environment_and_refuses_bad_flags(sample_agent, cx_connection):
    with pytest.raises(CXInvalidInputError, match="only_changed=True needs environment="):
        operator(sample_agent, only_changed=True).execute(make_context())
    with pytest.raises(CXInvalidInputError, match="only_changed must be True or False"):
        operator(sample_agent, only_changed="yes", environment="staging").execute(make_context())
    with pytest.raises(CXInvalidInputError, match="environment must be"):
        operator(sample_agent, only_changed=True, environment=" ").execute(make_context())
    assert all(not versions for versions in versions_by_flow(cx_connection, sample_agent).values())


def test_a_change_in_another_language_of_the_agent_impacts_the_flows_using_it(cx_connection):
    agent = new_agent(cx_connection)
    agents = cx_connection.client(cx.AgentsClient)
    found = agents.get_agent(name=agent)
    found.supported_language_codes = ["de"]
    agents.update_agent(agent=found, update_mask={"paths": ["supported_language_codes"]})
    first, _ = release(agent, "rel-1")
    intents = cx_connection.client(cx.IntentsClient)
    (hours,) = [i for i in intents.list_intents(parent=agent) if i.display_name == "branch.hours"]
    german = cx.Intent(name=hours.name, display_name=hours.display_name)
    german.training_phrases.append(cx.Intent.TrainingPhrase(parts=[{"text": "wann haben sie offen"}], repeat_count=1))
    update = cx.UpdateIntentRequest(intent=german, language_code="de", update_mask={"paths": ["training_phrases"]})
    intents.update_intent(request=update)

    _, summary = release(agent, "rel-2")

    # CompareVersions shows one language per call: the German phrases differ, the English do not.
    assert summary["impacted"] == ["Default Start Flow", "Branch Finder"]
    assert summary["unchanged"] == {flow: first[flow] for flow in ("Card Services", "Transfers")}


def test_only_changed_under_thirty_percent_faults_still_versions_just_the_changed_flow(
    monkeypatch, cx_emulator_factory, tmp_path
):
    fast_retries(monkeypatch)
    server = cx_emulator_factory()
    connect(monkeypatch, server)
    admin = server.admin()
    agent = new_agent(server)
    first, _ = release(agent, "rel-1")
    restore(server, agent, changed_package(tmp_path, page=True))

    admin.reset_stats()
    admin.set_faults(CHAOS)
    try:
        results = [
            operator(agent, release_id="rel-2", only_changed=True, environment="staging").execute(make_context())
            for _ in range(2)  # a retried task
        ]
        counts = admin.stats()["counts"]
    finally:
        admin.set_faults(None)

    assert any("CompareVersions" in method for method in counts)  # the comparisons ran under faults
    assert results[0] == results[1]
    assert results[0] == {**first, "Transfers": results[0]["Transfers"]}
    stored = versions_by_flow(server, agent)
    assert {flow: len(versions) for flow, versions in stored.items()} == {
        **dict.fromkeys(SAMPLE_FLOWS, 1),
        "Transfers": 2,
    }


def test_a_flow_the_environment_serves_no_version_of_is_impacted(cx_connection):
    agent = new_agent(cx_connection)
    first, _ = release(agent, "rel-1")
    cx_connection.client(cx.FlowsClient).create_flow(parent=agent, flow=cx.Flow(display_name="Loans"))

    result, summary = release(agent, "rel-2", flows=[*first, "Loans"])

    assert summary["impacted"] == ["Loans"]  # new in this release: the environment serves no version of it
    assert summary["unchanged"] == first
    assert served(cx_connection, agent) == {**first, "Loans": result["Loans"]}
