"""TestCases over real gRPC with the stock client: CRUD, runs, results and filters, coverage, import/export."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx
from google.protobuf import field_mask_pb2
from runtime.runtime_agent_builder import AgentBuilder, say, turn

from airflow_provider_cx.emulator.services.test_cases import run_test_cases_for_environment
from airflow_provider_cx.emulator.testing import create_test_agent, package_bytes, wait_for
from airflow_provider_cx.package import AgentPackage, read_package, write_zip
from airflow_provider_cx.sample_agent import sample_agent_path

PASSED, FAILED = cx.TestResult.PASSED, cx.TestResult.FAILED
View = cx.ListTestCasesRequest.TestCaseView
DataFormat = cx.ExportTestCasesRequest.DataFormat
CoverageType = cx.CalculateCoverageRequest.CoverageType


@pytest.fixture(scope="module")
def api(cx_emulator: Any) -> Any:
    class Api:
        agents = cx_emulator.client(cx.AgentsClient)
        test_cases = cx_emulator.client(cx.TestCasesClient)
        flows = cx_emulator.client(cx.FlowsClient)
        pages = cx_emulator.client(cx.PagesClient)
        intents = cx_emulator.client(cx.IntentsClient)
        versions = cx_emulator.client(cx.VersionsClient)
        environments = cx_emulator.client(cx.EnvironmentsClient)
        backend = cx_emulator.backend

    return Api


def restore(api: Any, content: bytes) -> cx.Agent:
    agent = create_test_agent(api.agents)
    wait_for(api.agents.restore_agent(request={"name": agent.name, "agent_content": content}))
    return agent


@pytest.fixture(scope="module")
def sample(api: Any) -> cx.Agent:
    return restore(api, package_bytes(sample_agent_path()))


def all_cases(api: Any, agent: cx.Agent) -> dict[str, cx.TestCase]:
    return {tc.display_name: tc for tc in api.test_cases.list_test_cases(parent=agent.name)}


def batch_run(api: Any, agent: cx.Agent, names: list[str] | None = None, **kwargs: Any) -> list[cx.TestCaseResult]:
    names = names if names is not None else [tc.name for tc in all_cases(api, agent).values()]
    op = api.test_cases.batch_run_test_cases(request={"parent": agent.name, "test_cases": names, **kwargs})
    return list(wait_for(op).results)


def first_difference(result: cx.TestCaseResult) -> cx.TestRunDifference | None:
    for conversation_turn in result.conversation_turns:
        if conversation_turn.virtual_agent_output.differences:
            return conversation_turn.virtual_agent_output.differences[0]
    return None


# --- runs ------------------------------------------------------------------------------------------------
def test_every_sample_test_case_passes_through_batch_run(api: Any, sample: cx.Agent) -> None:
    cases = all_cases(api, sample)
    assert len(cases) == len(read_package(sample_agent_path()).test_cases)
    results = batch_run(api, sample)
    by_case = {r.name.split("/results/")[0]: r for r in results}
    assert set(by_case) == {tc.name for tc in cases.values()}
    failures = {r.name: first_difference(r) for r in results if r.test_result != PASSED}
    assert not failures
    some = results[0]
    assert some.environment == ""
    assert some.test_time.timestamp() == pytest.approx(time.time(), abs=120)
    assert some.conversation_turns[0].virtual_agent_output.current_page.name.startswith(sample.name + "/flows/")
    fetched = api.test_cases.get_test_case_result(name=some.name)
    assert fetched.name == some.name
    assert fetched.test_result == PASSED
    test_case = api.test_cases.get_test_case(name=some.name.split("/results/")[0])
    assert test_case.last_test_result.test_result == PASSED


def test_the_basic_view_keeps_the_last_test_result_and_leaves_out_only_turns(api: Any) -> None:
    agent = restore(api, package_bytes(sample_agent_path()))
    case = all_cases(api, agent)["Find a branch step by step"]
    assert "last_test_result" not in case  # never run yet
    (result,) = batch_run(api, agent, [case.name])
    basic = all_cases(api, agent)["Find a branch step by step"]  # BASIC is the default view
    assert not basic.test_case_conversation_turns
    assert basic.last_test_result.name == result.name
    assert basic.last_test_result.test_result == PASSED
    assert basic.last_test_result.test_time == result.test_time
    assert not basic.last_test_result.conversation_turns
    full = {tc.name: tc for tc in api.test_cases.list_test_cases(request={"parent": agent.name, "view": View.FULL})}
    assert full[case.name].last_test_result == result


def test_run_test_case_is_a_long_running_operation(api: Any, sample: cx.Agent) -> None:
    case = all_cases(api, sample)["Find a branch step by step"]
    op = api.test_cases.run_test_case(request={"name": case.name})
    result = wait_for(op).result
    assert result.test_result == PASSED
    assert isinstance(op.metadata, cx.RunTestCaseMetadata)
    with pytest.raises(exceptions.NotFound):
        api.test_cases.run_test_case(request={"name": f"{sample.name}/testCases/{uuid.uuid4()}"})


def broken_copy(break_it: Any) -> bytes:
    package = read_package(sample_agent_path())
    break_it(package)
    return write_zip(package)


def rename_confirm_page(package: AgentPackage) -> None:
    flow = package.flow("Transfers")
    assert flow is not None
    flow.page("Confirm Transfer").data["displayName"] = "Review Transfer"  # type: ignore[union-attr]
    for page in flow.pages:
        for route in page.data.get("transitionRoutes", []):
            if route.get("targetPage") == "Confirm Transfer":
                route["targetPage"] = "Review Transfer"


def remove_card_route(package: AgentPackage) -> None:
    start = package.flow("Default Start Flow")
    assert start is not None
    start.data["transitionRoutes"] = [r for r in start.data["transitionRoutes"] if r.get("intent") != "card.block"]


@pytest.mark.parametrize(
    ("break_it", "affected", "kind"),
    [
        (
            rename_confirm_page,
            {
                "Transfer to a payee in one sentence",
                "Large transfer needs a security review",
                "Cancel a transfer at confirmation",
            },
            cx.TestRunDifference.DiffType.PAGE,
        ),
        (
            remove_card_route,
            {"Block a debit card without replacement", "Block a lost credit card and order a replacement"},
            None,
        ),
    ],
)
def test_a_broken_copy_fails_exactly_the_affected_test_cases(
    api: Any, break_it: Any, affected: set[str], kind: Any
) -> None:
    agent = restore(api, broken_copy(break_it))
    cases = all_cases(api, agent)
    names = {tc.name: display for display, tc in cases.items()}
    results = batch_run(api, agent)
    failed = {names[r.name.split("/results/")[0]] for r in results if r.test_result == FAILED}
    assert failed == affected
    if kind is not None:
        for result in results:
            if result.test_result == FAILED:
                assert first_difference(result).type_ == kind


# --- results and filters ------------------------------------------------------------------------------------
def test_list_test_case_results_filters(api: Any) -> None:
    agent = restore(api, package_bytes(sample_agent_path()))
    cases = all_cases(api, agent)
    names = [cases["Greeting balance and goodbye"].name, cases["Find a branch by ZIP code"].name]
    before = time.time()
    batch_run(api, agent, names)
    batch_run(api, agent, names)
    every = f"{agent.name}/testCases/-"

    def listed(parent: str = every, filter_: str = "") -> list[cx.TestCaseResult]:
        return list(api.test_cases.list_test_case_results(request={"parent": parent, "filter": filter_}))

    assert len(listed()) == 4
    assert len(listed(names[0])) == 2
    latest = listed(filter_="environment=draft AND latest")
    assert len(latest) == 2
    newest = max(listed(names[0]), key=lambda r: r.test_time.timestamp())
    assert newest.name in {r.name for r in latest}
    assert len(listed(filter_=f"test_time > {int(before) - 1}")) == 4
    assert listed(filter_=f"test_time > {int(time.time()) + 60}") == []
    assert len(listed(filter_=f"TEST_TIME < {int(time.time()) + 60} and Environment IN (draft, prod)")) == 4
    assert listed(filter_="environment = some-environment") == []
    pages = api.test_cases.list_test_case_results(request={"parent": every, "page_size": 3})
    assert len(list(pages)) == 4  # the client follows next_page_token
    for bad in ("environment ~ draft", "latest OR environment=draft", "test_time > yesterday"):
        with pytest.raises(exceptions.InvalidArgument):
            listed(filter_=bad)
    with pytest.raises(exceptions.NotFound):
        listed(f"{agent.name}/testCases/{uuid.uuid4()}")


def test_run_test_cases_for_environment_stores_results_the_api_lists(api: Any) -> None:
    agent = restore(api, package_bytes(sample_agent_path()))
    results = run_test_cases_for_environment(api.backend, agent.name, "")
    assert len(results) == len(all_cases(api, agent))
    assert {cx.TestCaseResult.pb(cx.TestCaseResult()).DESCRIPTOR.full_name} == {r.DESCRIPTOR.full_name for r in results}
    assert all(r.test_result == PASSED for r in results)
    listed = api.test_cases.list_test_case_results(request={"parent": f"{agent.name}/testCases/-"})
    assert {r.name for r in listed} == {r.name for r in results}


# --- CRUD -------------------------------------------------------------------------------------------------
def new_case(agent: cx.Agent, api: Any, display_name: str = "Say hello") -> cx.TestCase:
    intents = {i.display_name: i.name for i in api.intents.list_intents(parent=agent.name)}
    start = next(f for f in api.flows.list_flows(parent=agent.name) if f.display_name == "Default Start Flow")
    user = {"input": {"text": {"text": "hello"}, "language_code": "en"}, "is_webhook_enabled": True}
    output = {
        "triggered_intent": {"name": intents["Default Welcome Intent"]},
        "current_page": {"name": f"{start.name}/pages/START_PAGE"},
        "text_responses": [
            {
                "text": [
                    "Hi, welcome to Acme Bank support! I can block a card, send money to one of your saved payees "
                    "or find a branch near you. How can I help?"
                ]
            }
        ],
    }
    return cx.TestCase(
        display_name=display_name,
        tags=["#new"],
        notes="made over the API",
        test_config={"flow": start.name, "tracking_parameters": []},
        test_case_conversation_turns=[{"user_input": user, "virtual_agent_output": output}],
    )


def test_create_get_list_update_and_batch_delete(api: Any) -> None:
    agent = restore(api, package_bytes(sample_agent_path()))
    created = api.test_cases.create_test_case(parent=agent.name, test_case=new_case(agent, api))
    assert created.name.startswith(f"{agent.name}/testCases/")
    assert created.creation_time.timestamp() == pytest.approx(time.time(), abs=120)
    fetched = api.test_cases.get_test_case(name=created.name)
    output = fetched.test_case_conversation_turns[0].virtual_agent_output
    assert output.triggered_intent.display_name == "Default Welcome Intent"
    assert output.current_page.display_name == "Start Page"
    assert fetched.tags == ["#new"]
    assert fetched.notes == "made over the API"
    (result,) = batch_run(api, agent, [created.name])
    assert result.test_result == PASSED  # written over the API with resource names, replayed by display names

    basic = list(api.test_cases.list_test_cases(request={"parent": agent.name, "page_size": 5}))
    assert len(basic) == 12
    assert not any(tc.test_case_conversation_turns for tc in basic)
    full = list(api.test_cases.list_test_cases(request={"parent": agent.name, "view": View.FULL}))
    assert all(tc.test_case_conversation_turns for tc in full)

    fetched.display_name = "Say hello again"
    fetched.notes = "ignored: not in the mask"
    updated = api.test_cases.update_test_case(
        test_case=fetched, update_mask=field_mask_pb2.FieldMask(paths=["display_name"])
    )
    assert updated.display_name == "Say hello again"
    assert updated.notes == "made over the API"
    assert updated.test_case_conversation_turns == fetched.test_case_conversation_turns
    with pytest.raises(exceptions.InvalidArgument):
        api.test_cases.update_test_case(test_case=fetched)  # no mask
    with pytest.raises(exceptions.InvalidArgument):
        api.test_cases.update_test_case(
            test_case=fetched, update_mask=field_mask_pb2.FieldMask(paths=["creation_time"])
        )

    with pytest.raises(exceptions.AlreadyExists):
        api.test_cases.create_test_case(parent=agent.name, test_case=new_case(agent, api, "Say hello again"))
    bad_tag = new_case(agent, api, "Bad tag")
    bad_tag.tags = ["no-hash"]
    with pytest.raises(exceptions.InvalidArgument):
        api.test_cases.create_test_case(parent=agent.name, test_case=bad_tag)

    unknown = f"{agent.name}/testCases/{uuid.uuid4()}"
    with pytest.raises(exceptions.NotFound):
        api.test_cases.batch_delete_test_cases(request={"parent": agent.name, "names": [created.name, unknown]})
    assert api.test_cases.get_test_case(name=created.name).name == created.name  # nothing was deleted
    api.test_cases.batch_delete_test_cases(request={"parent": agent.name, "names": [created.name]})
    with pytest.raises(exceptions.NotFound):
        api.test_cases.get_test_case(name=created.name)
    assert len(all_cases(api, agent)) == 11


# --- coverage ---------------------------------------------------------------------------------------------
def coverage_agent() -> bytes:
    """Three intents (one never said), three routes with targets (one never taken), a route group half used."""
    b = AgentBuilder()
    b.intent("greet", ["hello", "hi"])
    b.intent("buy", ["I want to buy a shirt", "buy a shirt"])
    b.intent("unused", ["something never said"])
    b.flow(
        "Default Start Flow",
        transitionRoutes=[
            {"intent": "greet", "triggerFulfillment": say("Welcome!")},
            {"intent": "buy", "targetPage": "Size", "triggerFulfillment": say("Great.")},
        ],
    )
    form = {
        "parameters": [
            {
                "displayName": "size",
                "entityType": "@size",
                "required": True,
                "fillBehavior": {"initialPromptFulfillment": say("Which size?")},
            }
        ]
    }
    b.page(
        "Default Start Flow",
        "Size",
        form=form,
        transitionRoutes=[{"condition": '$page.params.status = "FINAL"', "targetPage": "Done"}],
        transitionRouteGroups=["Common"],
    )
    b.page("Default Start Flow", "Done", transitionRoutes=[{"intent": "unused", "targetPage": "End Session"}])
    b.flow_group(
        "Default Start Flow",
        "Common",
        [{"intent": "greet", "triggerFulfillment": say("Hello again.")}, {"intent": "unused", "targetPage": "Done"}],
    )
    b.entity_type("size", [{"value": "M", "synonyms": ["M", "medium"]}])
    b.test_case(
        "shop",
        [
            turn("hello", intent="greet", page="Start Page", texts=["Welcome!"]),
            turn("buy a shirt", intent="buy", page="Size", texts=["Great.", "Which size?"]),
            turn("hi", intent="greet", page="Size", texts=["Hello again.", "Which size?"]),
            turn("medium", page="Done", texts=[]),
        ],
    )
    package = b.build()
    for _path, resource in package.iter_resources():
        resource.data.setdefault("name", str(uuid.uuid4()))  # exports give every resource an id
    return write_zip(package)


def test_calculate_coverage_of_each_kind(api: Any) -> None:
    agent = restore(api, coverage_agent())
    assert [r.test_result for r in batch_run(api, agent)] == [PASSED]
    intents = {i.name: i.display_name for i in api.intents.list_intents(parent=agent.name)}

    def coverage(kind: Any) -> cx.CalculateCoverageResponse:
        return api.test_cases.calculate_coverage(request={"agent": agent.name, "type_": kind})

    intent = coverage(CoverageType.INTENT).intent_coverage
    assert {intents[i.intent]: i.covered for i in intent.intents} == {"greet": True, "buy": True, "unused": False}
    assert intent.coverage_score == pytest.approx(2 / 3)

    transitions = coverage(CoverageType.PAGE_TRANSITION).transition_coverage
    found = {
        (t.source.flow.display_name or t.source.page.display_name, t.target.page.display_name): t.covered
        for t in transitions.transitions
    }
    assert found == {("Default Start Flow", "Size"): True, ("Size", "Done"): True, ("Done", "End Session"): False}
    assert transitions.coverage_score == pytest.approx(2 / 3)

    groups = coverage(CoverageType.TRANSITION_ROUTE_GROUP).route_group_coverage
    (group,) = groups.coverages
    assert group.route_group.display_name == "Common"
    assert "/flows/" in group.route_group.name
    assert [(intents[t.transition_route.intent], t.covered) for t in group.transitions] == [
        ("greet", True),
        ("unused", False),
    ]
    assert groups.coverage_score == pytest.approx(0.5)
    with pytest.raises(exceptions.InvalidArgument):
        coverage(CoverageType.COVERAGE_TYPE_UNSPECIFIED)


# --- import / export -------------------------------------------------------------------------------------------
def comparable(test_case: cx.TestCase) -> dict[str, Any]:
    data = cx.TestCase.to_dict(test_case)
    for key in ("name", "creation_time", "last_test_result"):
        data.pop(key, None)
    return json.loads(json.dumps(data).replace(test_case.name.split("/testCases/")[0], "AGENT"))


def test_export_then_import_round_trips(api: Any, sample: cx.Agent) -> None:
    cases = all_cases(api, sample)
    exported = wait_for(
        api.test_cases.export_test_cases(request={"parent": sample.name, "data_format": DataFormat.JSON})
    ).content
    listed = json.loads(exported)["testCases"]
    assert sorted(c["displayName"] for c in listed) == sorted(cases)

    copy = restore(api, package_bytes(sample_agent_path()))
    api.test_cases.batch_delete_test_cases(
        request={"parent": copy.name, "names": [tc.name for tc in all_cases(api, copy).values()]}
    )
    imported = wait_for(api.test_cases.import_test_cases(request={"parent": copy.name, "content": exported}))
    assert len(imported.names) == len(cases)
    originals = {d: comparable(api.test_cases.get_test_case(name=tc.name)) for d, tc in cases.items()}
    copies = {
        tc.display_name: comparable(tc)
        for tc in api.test_cases.list_test_cases(request={"parent": copy.name, "view": View.FULL})
    }
    sample_id, copy_id = sample.name.rsplit("/", 1)[-1], copy.name.rsplit("/", 1)[-1]
    assert json.loads(json.dumps(copies).replace(copy_id, sample_id)) == originals
    assert all(r.test_result == PASSED for r in batch_run(api, copy))

    op = api.test_cases.import_test_cases(request={"parent": copy.name, "content": exported})
    assert list(wait_for(op).names) == []  # every display name is taken: nothing is overwritten
    assert {e.status.code for e in op.metadata.errors} == {6}  # ALREADY_EXISTS
    assert len(op.metadata.errors) == len(cases)


def test_export_to_gcs_as_blob_with_a_filter(api: Any, sample: cx.Agent) -> None:
    cases = list(all_cases(api, sample).values())[:2]
    uri = f"gs://bucket/{uuid.uuid4()}/cases.blob"
    names_filter = " OR ".join(f"name = {tc.name}" for tc in cases)
    response = wait_for(
        api.test_cases.export_test_cases(request={"parent": sample.name, "gcs_uri": uri, "filter": names_filter})
    )
    assert response.gcs_uri == uri
    target = create_test_agent(api.agents)
    imported = wait_for(api.test_cases.import_test_cases(request={"parent": target.name, "gcs_uri": uri}))
    assert sorted(api.test_cases.get_test_case(name=n).display_name for n in imported.names) == sorted(
        tc.display_name for tc in cases
    )
    with pytest.raises(exceptions.InvalidArgument):
        api.test_cases.import_test_cases(request={"parent": target.name, "content": b"not test cases"})
    with pytest.raises(exceptions.InvalidArgument):
        api.test_cases.export_test_cases(request={"parent": sample.name, "filter": "display_name = x"})


def test_batch_run_in_an_environment_uses_its_pinned_flow_versions(api: Any) -> None:
    agent = restore(api, package_bytes(sample_agent_path()))
    flows = {f.display_name: f for f in api.flows.list_flows(parent=agent.name)}
    versions, environments = api.versions, api.environments
    configs = [
        {"version": wait_for(versions.create_version(parent=f.name, version={"display_name": "v1"})).name}
        for f in flows.values()
    ]
    environment = wait_for(
        environments.create_environment(
            parent=agent.name, environment={"display_name": "prod", "version_configs": configs}
        )
    )
    start = flows["Default Start Flow"]
    kept = [r for r in start.transition_routes if not r.intent.endswith(_intent_id(api, agent, "card.block"))]
    del start.transition_routes[:]
    start.transition_routes.extend(kept)
    api.flows.update_flow(flow=start, update_mask=field_mask_pb2.FieldMask(paths=["transition_routes"]))

    in_environment = batch_run(api, agent, environment=environment.name)
    assert all(r.test_result == PASSED for r in in_environment)
    assert {r.environment for r in in_environment} == {environment.name}
    in_draft = batch_run(api, agent)
    assert sum(r.test_result == FAILED for r in in_draft) == 2  # the two card tests need the removed route

    env_id = environment.name.rsplit("/", 1)[-1]
    listed = api.test_cases.list_test_case_results(
        request={"parent": f"{agent.name}/testCases/-", "filter": f"environment = {env_id}"}
    )
    assert {r.name for r in listed} == {r.name for r in in_environment}
    with pytest.raises(exceptions.NotFound):
        batch_run(api, agent, environment=f"{agent.name}/environments/{uuid.uuid4()}")


def _intent_id(api: Any, agent: cx.Agent, display_name: str) -> str:
    return next(i.name for i in api.intents.list_intents(parent=agent.name) if i.display_name == display_name)
