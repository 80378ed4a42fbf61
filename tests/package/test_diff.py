"""Package diffs: identical packages differ in nothing; a changed copy lists exactly the changes made."""

from __future__ import annotations

import json

import pytest
from package_builder import CORRUPTIONS, HELP, START_FLOW, PackageBuilder, clean_agent, handler, route

from airflow_provider_cx.package import AgentPackage, Resource, new_id, read_package, write_zip
from airflow_provider_cx.package.diff import (
    FileChange,
    PackageDiff,
    PhraseChange,
    ResourceChange,
    RouteChange,
    diff_packages,
)


def _builder_on(pkg: AgentPackage) -> PackageBuilder:
    builder = PackageBuilder()
    builder.package = pkg
    return builder


def test_identical_packages_have_an_empty_diff(shared_agents):
    for path in shared_agents:
        package = read_package(path)
        for other in (package.copy(), read_package(write_zip(package))):
            diff = diff_packages(package, other)
            assert diff.is_empty, path.name
            assert not diff
            assert "No changes." in diff.to_markdown()
            data = diff.to_dict()
            assert data["empty"] is True
            assert data["resources"] == data["routes"] == data["training_phrases"] == data["files"] == []


def test_changed_copy_lists_exactly_the_changes_made():
    base = clean_agent()
    target = base.copy()
    b = _builder_on(target)
    start = target.flow(START_FLOW)
    ask, done = start.page("Ask Name"), start.page("Done")
    b.page(START_FLOW, "Survey", transitionRoutes=[route(condition="true", page="End Flow")])  # page added
    ask.data["transitionRoutes"][0]["name"] = "route-1"  # ids keep routes apart when targets move
    base.flow(START_FLOW).page("Ask Name").data["transitionRoutes"][0]["name"] = "route-1"
    ask.data["transitionRoutes"][0]["targetPage"] = "Survey"  # route changed
    done.data["transitionRoutes"].append(route(intent="help", page="Ask Name"))  # route added
    start.data["eventHandlers"] = [h for h in start.data["eventHandlers"] if h["event"] != "webhook.error"]  # removed
    help_phrases = target.intent("help").parts["trainingPhrases/en.json"]["trainingPhrases"]
    del help_phrases[1]
    help_phrases.append({"parts": [{"text": "help me "}, {"text": "out"}], "repeatCount": 1})
    b.intent("bye", [f"bye {i}" for i in range(10)])
    target.webhook("lookup").data["genericWebService"]["uri"] = "https://example.com/v2"
    target.entity_type("person-name").parts["entities/en.json"]["entities"].append({"value": "Carol", "synonyms": []})
    greeting = target.test_case("Greeting").data
    greeting["testCaseConversationTurns"].append(greeting["testCaseConversationTurns"][0])
    greeting["lastTestResult"] = {"testResult": "PASSED"}  # run metadata: not a change
    b.flow("Billing")
    b.page("Billing", "Invoice")
    target.agent["timeZone"] = "Europe/Paris"
    target.other_files["generativeSettings/en.json"] = {"llmModelSettings": {}}

    diff = diff_packages(base, target)

    assert set(diff.resources) == {
        ResourceChange("page", "Survey", "added", START_FLOW),
        ResourceChange("flow", "Billing", "added", details=("1 page(s)",)),
        ResourceChange("intent", "bye", "added", details=("10 training phrase(s)",)),
        ResourceChange("intent", "help", "changed", details=("+1 / -1 training phrases",)),
        ResourceChange("webhook", "lookup", "changed", details=("genericWebService changed",)),
        ResourceChange("entityType", "person-name", "changed", details=("entities added: Carol (en)",)),
        ResourceChange("testCase", "Greeting", "changed", details=("conversation changed (2 → 3 turns)",)),
    }
    assert set(diff.routes) == {
        RouteChange(
            "page",
            "Ask Name",
            START_FLOW,
            "changed",
            'route on condition `$page.params.status = "FINAL"` → page `Survey`',
            ("target page `Done` → `Survey`",),
        ),
        RouteChange("page", "Done", START_FLOW, "added", "route on intent `help` → page `Ask Name`"),
        RouteChange("flow", START_FLOW, START_FLOW, "removed", "event handler on event `webhook.error`"),
    }
    assert set(diff.training_phrases) == {
        PhraseChange("help", "en", "added", "help me out"),
        PhraseChange("help", "en", "removed", HELP[1]),
    }
    assert diff.agent_settings == ("timeZone",)
    assert diff.files == (FileChange("generativeSettings/en.json", "added"),)
    assert diff.summary()["route"] == {"added": 1, "changed": 1, "removed": 1}

    notes = diff.to_markdown(title="Release 2")
    assert notes.startswith("# Release 2\n")
    for text in ("**Added** page `Survey`", "**Added** flow `Billing`: 1 page(s)", "+ `help me out`", f"- `{HELP[1]}`"):
        assert text in notes
    assert "event handler on event `webhook.error`" in notes
    assert json.loads(json.dumps(diff.to_dict()))["summary"]["intent"] == {"added": 1, "changed": 1}


def test_renames_are_matched_by_id_and_removals_listed():
    base = clean_agent()
    target = base.copy()
    target.intent("greet").data["displayName"] = "greeting"
    target.flow(START_FLOW).page("Done").data["displayName"] = "Finished"
    target.flow(START_FLOW).page("Ask Name").data["transitionRoutes"][0]["targetPage"] = "Finished"
    del target.test_cases[0]
    target.flow(START_FLOW).route_groups.clear()
    diff = diff_packages(base, target)
    assert set(diff.resources) == {
        ResourceChange("intent", "greeting", "renamed", previous_name="greet"),
        ResourceChange("page", "Finished", "renamed", START_FLOW, previous_name="Done"),
        ResourceChange("testCase", "Greeting", "removed"),
        ResourceChange("transitionRouteGroup", "Help", "removed", START_FLOW),
    }
    # Routes without ids are matched by trigger: the retargeted one is a change, not add + remove.
    assert [(r.owner, r.change, r.details) for r in diff.routes] == [
        ("Ask Name", "changed", ("target page `Done` → `Finished`",))
    ]
    assert "**Renamed** intent `greet` → `greeting`" in diff.to_markdown()


def test_real_agent_against_a_changed_copy(shared_agents):
    base = read_package(next(p for p in shared_agents if p.name == "qatar-airways"))
    target = read_package(write_zip(base))
    flow = target.flow(START_FLOW)
    flow.pages.remove(flow.page("Display Frequent Flyer MIles"))
    faq = flow.route_group("Airline FAQ")
    faq.data["transitionRoutes"].pop(0)
    target.intent("flights.animals_on_board  ").parts["trainingPhrases/en.json"]["trainingPhrases"].pop(0)
    target.test_case("Oredata Happy Path").data["displayName"] = "Oredata happy path"
    diff = diff_packages(base, target)
    removed_phrase = _qatar_first_phrase(base)
    assert set(diff.resources) == {
        ResourceChange("page", "Display Frequent Flyer MIles", "removed", START_FLOW),
        ResourceChange("intent", "flights.animals_on_board  ", "changed", details=("+0 / -1 training phrases",)),
        ResourceChange("testCase", "Oredata happy path", "renamed", previous_name="Oredata Happy Path"),
    }
    assert [(r.owner_type, r.owner, r.change) for r in diff.routes] == [
        ("transitionRouteGroup", "Airline FAQ", "removed")
    ]
    assert "intent `flights.animals_on_board  `" in diff.routes[0].route
    assert diff.training_phrases == (PhraseChange("flights.animals_on_board  ", "en", "removed", removed_phrase),)
    assert not diff.agent_settings
    assert not diff.files


def _qatar_first_phrase(package: AgentPackage) -> str:
    phrase = package.intent("flights.animals_on_board  ").parts["trainingPhrases/en.json"]["trainingPhrases"][0]
    return "".join(part["text"] for part in phrase["parts"]).strip()


def test_reversed_diff_swaps_added_and_removed():
    base = clean_agent()
    target = base.copy()
    _builder_on(target).intent("bye", ["bye"])
    target.flow(START_FLOW).data["eventHandlers"].append(handler("sys.no-match-2", "Once more."))
    forward, backward = diff_packages(base, target), diff_packages(target, base)
    assert [c.change for c in forward.resources] == ["added"]
    assert [c.change for c in backward.resources] == ["removed"]
    assert [r.change for r in forward.routes] == ["added"]
    assert [r.change for r in backward.routes] == ["removed"]
    assert isinstance(forward, PackageDiff)


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__)
def test_malformed_packages_diff_without_crashing(corrupt):
    base = clean_agent()
    target = base.copy()
    corrupt(target)
    for diff in (diff_packages(base, target), diff_packages(target, base)):
        assert not diff.is_empty
        assert diff.to_markdown()
        json.dumps(diff.to_dict())


# --- issue 17: routes pair across agents, the summary wraps -----------------------------------------------
def _with_route_ids(package, prefix: str):
    for flow in package.flows:
        for owner in (flow, *flow.pages, *flow.route_groups):
            for n, item in enumerate(owner.data.get("transitionRoutes", [])):
                item["name"] = f"{prefix}-{owner.display_name}-{n}"
    return package


def test_a_route_with_another_id_pairs_by_trigger_as_changed():
    base = _with_route_ids(clean_agent(), "dev")
    target = _with_route_ids(clean_agent(), "prod")  # the same routes, created apart: other ids
    assert diff_packages(base, target).routes == ()
    target.flow(START_FLOW).data["transitionRoutes"][0]["targetPage"] = "Done"
    changes = diff_packages(base, target).routes
    assert [(r.owner, r.change, r.details) for r in changes] == [
        (START_FLOW, "changed", ("target page `Ask Name` → `Done`",))
    ]


def test_a_real_agent_with_regenerated_route_ids_has_no_route_changes(shared_agents):
    base = read_package(next(p for p in shared_agents if p.name == "qatar-airways"))
    target = _with_route_ids(read_package(write_zip(base)), "other")
    assert diff_packages(base, target).routes == ()


def test_the_summary_wraps():
    base = clean_agent()
    target = base.copy()
    for n in range(12):
        target.intents.append(Resource("intents", f"i{n}", {"name": new_id(), "displayName": f"i{n}"}))
    target.test_cases.clear()
    target.flow(START_FLOW).route_groups.clear()
    target.flow(START_FLOW).pages.pop()
    target.webhooks.clear()
    notes = diff_packages(base, target).to_markdown()
    summary = notes.split("**Summary:**", 1)[1].split("\n\n", 1)[0]
    assert summary.count("\n") >= 1
    assert all(len(line) <= 100 for line in notes.split("\n\n")[1].splitlines())
