from __future__ import annotations

import datetime as dt

import pytest
from runtime_agent_builder import AgentBuilder, say, turn

from airflow_provider_cx.emulator.runtime import Engine, run_test_case, unreachable_webhook_caller
from airflow_provider_cx.emulator.runtime.coverage import CoverageTypeError, calculate_coverage
from airflow_provider_cx.package import read_package

TODAY = dt.date(2024, 3, 10)
DSF = "Default Start Flow"


def shop() -> AgentBuilder:
    b = AgentBuilder()
    b.intent("greet", ["hello", "hi"])
    b.intent("buy", ["I want to buy a shirt", "buy a shirt"])
    b.intent("unused", ["something never said"])
    b.flow(
        DSF,
        transitionRoutes=[
            {"intent": "greet", "triggerFulfillment": say("Welcome!", "Hi there!")},
            {"intent": "buy", "targetPage": "Size", "triggerFulfillment": say("Great.")},
        ],
    )
    b.page(
        DSF,
        "Size",
        form={
            "parameters": [
                {
                    "displayName": "size",
                    "entityType": "@size",
                    "required": True,
                    "fillBehavior": {"initialPromptFulfillment": say("Which size?")},
                }
            ]
        },
        transitionRoutes=[{"condition": '$page.params.status = "FINAL"', "targetPage": "Done"}],
    )
    b.page(DSF, "Done", entryFulfillment=say("Size $session.params.size it is."))
    b.entity_type("size", [{"value": "M", "synonyms": ["M", "medium"]}, {"value": "L", "synonyms": ["L", "large"]}])
    b.test_case(
        "happy",
        [
            turn("hello", intent="greet", page="Start Page", texts=["Hi there!"]),
            turn("buy a shirt", intent="buy", page="Size", texts=["Great.", "Which size?"]),
            turn("medium", page="Done", texts=["Size M it is."], params={"size": "M"}),
        ],
        testConfig={"trackingParameters": ["size"]},
    )
    return b


def test_passing_test_case_result_shape() -> None:
    package = shop().build()
    result = run_test_case(package, package.test_case("happy").data, today=TODAY)
    assert result["testResult"] == "PASSED", result
    assert result["testCase"] == "happy"
    last = result["conversationTurns"][-1]["virtualAgentOutput"]
    assert last["currentPage"] == {"name": "Done", "flow": DSF}
    assert last["sessionParameters"] == {"size": "M"}
    assert "differences" not in last


@pytest.mark.parametrize(
    ("expected_turn", "kind"),
    [
        (turn("hello", intent="buy"), "INTENT"),
        (turn("hello", page="Size"), "PAGE"),
        (turn("hello", page="Start Page", flow="Other"), "FLOW"),
        (turn("hello", texts=["Goodbye!"]), "UTTERANCE"),
        (turn("hello", texts=["Hi there!", "extra"]), "UTTERANCE"),
    ],
)
def test_each_difference_kind_is_reported(expected_turn: dict, kind: str) -> None:
    package = shop().build()
    result = run_test_case(package, {"displayName": "t", "testCaseConversationTurns": [expected_turn]}, today=TODAY)
    diffs = result["conversationTurns"][0]["virtualAgentOutput"]["differences"]
    assert result["testResult"] == "FAILED"
    assert [d["type"] for d in diffs] == [kind]


def test_only_tracked_parameters_are_compared() -> None:
    package = shop().build()
    turns = [turn("buy a shirt"), turn("large", params={"size": "M", "other": 1})]
    untracked = run_test_case(package, {"testCaseConversationTurns": turns}, today=TODAY)
    assert untracked["testResult"] == "PASSED"
    tracked = run_test_case(
        package, {"testCaseConversationTurns": turns, "testConfig": {"trackingParameters": ["size"]}}, today=TODAY
    )
    assert [d["type"] for d in tracked["conversationTurns"][1]["virtualAgentOutput"]["differences"]] == ["PARAMETERS"]


def test_broken_copies_fail_their_test_cases() -> None:
    package = shop().build()
    test = package.test_case("happy").data
    no_route = package.copy()
    flow = no_route.flow(DSF)
    flow.data["transitionRoutes"] = [r for r in flow.data["transitionRoutes"] if r.get("intent") != "buy"]
    assert run_test_case(no_route, test, today=TODAY)["testResult"] == "FAILED"
    renamed = package.copy()
    renamed.flow(DSF).page("Done").data["displayName"] = "Finished"
    result = run_test_case(renamed, test, today=TODAY)
    assert result["testResult"] == "FAILED"
    assert result["conversationTurns"][2]["virtualAgentOutput"]["differences"][0]["type"] == "PAGE"


def test_coverage_kinds() -> None:
    package = shop().build()
    intents = calculate_coverage(package, "INTENT")["intentCoverage"]
    assert {i["intent"]: i["covered"] for i in intents["intents"]} == {"greet": True, "buy": True, "unused": False}
    assert intents["coverageScore"] == pytest.approx(2 / 3)
    transitions = calculate_coverage(package, "PAGE_TRANSITION")["transitionCoverage"]
    assert [t["covered"] for t in transitions["transitions"]] == [True, True]
    assert calculate_coverage(package, "TRANSITION_ROUTE_GROUP")["routeGroupCoverage"]["coverageScore"] == 0.0
    with pytest.raises(CoverageTypeError):
        calculate_coverage(package, "NOPE")


def test_every_shared_agent_test_case_runs(shared_agents) -> None:
    ran = 0
    for path in shared_agents:
        package = read_package(path)
        engine = Engine(package)
        for test_case in package.test_cases:
            result = run_test_case(engine, test_case.data, webhook_caller=unreachable_webhook_caller)
            assert result["testResult"] in ("PASSED", "FAILED")
            assert len(result["conversationTurns"]) == len(test_case.data["testCaseConversationTurns"])
            ran += 1
    assert ran >= 20


def _shared(shared_agents, name: str):
    return read_package(next(p for p in shared_agents if p.name == name))


def test_shared_agent_cases_pass_and_break_with_the_agent(shared_agents) -> None:
    package = _shared(shared_agents, "dsi-dialogflow")
    shipping = package.test_case("Shipping").data
    assert run_test_case(package, shipping)["testResult"] == "PASSED"
    broken = package.copy()
    care = broken.flow("Customer Care")
    care.data["transitionRoutes"] = [
        r for r in care.data["transitionRoutes"] if r.get("intent") != "redirect.shipping.info"
    ]
    assert run_test_case(broken, shipping)["testResult"] == "FAILED"
    renamed = package.copy()
    renamed.flow("Customer Care").page("Shipping").data["displayName"] = "Deliveries"
    assert run_test_case(renamed, shipping)["testResult"] == "FAILED"


def test_qatar_join_frequent_flyer_passes_and_fails_when_page_renamed(shared_agents) -> None:
    package = _shared(shared_agents, "qatar-airways")
    test = package.test_case("Error handling - Join frequent flyer_").data
    assert run_test_case(package, test, webhook_caller=unreachable_webhook_caller)["testResult"] == "PASSED"
    broken = package.copy()
    broken.flow(DSF).page("Join Frequent Flyer").data["displayName"] = "Join Club"
    assert run_test_case(broken, test, webhook_caller=unreachable_webhook_caller)["testResult"] == "FAILED"


def test_sample_agent_test_cases_pass() -> None:
    from pathlib import Path

    import airflow_provider_cx.sample_agent as sample

    folder = next(Path(sample.__file__).parent.glob("*/agent.json")).parent
    package = read_package(folder)
    engine = Engine(package)
    results = {
        t.display_name: run_test_case(engine, t.data, webhook_caller=unreachable_webhook_caller)["testResult"]
        for t in package.test_cases
    }
    assert results
    assert set(results.values()) == {"PASSED"}, results
