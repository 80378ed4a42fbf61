"""Lint rules: each fires on a planted defect and stays quiet on a clean agent; real agents lint cleanly
of crashes, with the defects they really contain found.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from package_builder import (
    CORRUPTIONS,
    GREET,
    HELP,
    START_FLOW,
    PackageBuilder,
    clean_agent,
    fulfillment,
    handler,
    route,
    say,
)

from airflow_provider_cx.package import AgentPackage, Flow, Resource, encode_stem, package_files, read_package
from airflow_provider_cx.package.lint import (
    RULES,
    SEVERITIES,
    AllowEntry,
    Finding,
    LintConfig,
    LintConfigError,
    lint_package,
)

Expected = set[tuple[str, tuple[str, ...]]]
Plant = Callable[[AgentPackage], "Expected | tuple[Expected, LintConfig]"]
START_PATH = f"flows/{START_FLOW}/{START_FLOW}.json"


def _flow(pkg: AgentPackage, name: str = START_FLOW) -> Flow:
    flow = pkg.flow(name)
    assert flow is not None
    return flow


def _page(pkg: AgentPackage, name: str, flow: str = START_FLOW) -> Resource:
    page = _flow(pkg, flow).page(name)
    assert page is not None
    return page


def _page_path(name: str, flow: str = START_FLOW) -> str:
    return f"flows/{flow}/pages/{encode_stem(name)}.json"


def _add(pkg: AgentPackage, build: Callable[[PackageBuilder], Any], languages=("en",)) -> None:
    """Add resources to an existing package through a builder sharing it."""
    builder = PackageBuilder(languages)
    builder.package = pkg
    build(builder)


# --- planted defects, one per rule: each returns what the rule must report (path, display names) ---
def plant_route_to_missing_page(pkg):
    _page(pkg, "Done").data["transitionRoutes"].append(route(condition="$session.params.x", page="Nowhere"))
    return {(_page_path("Done"), ("Done",))}


def plant_route_to_missing_flow(pkg):
    _flow(pkg).data["transitionRoutes"].append(route(intent="help", flow="Ghost Flow"))
    return {(START_PATH, (START_FLOW,))}


def plant_route_to_missing_playbook(pkg):
    _page(pkg, "Done").data["transitionRoutes"].append({"condition": "true", "targetPlaybook": "Ghost"})
    return {(_page_path("Done"), ("Done",))}


def plant_missing_intent(pkg):
    _page(pkg, "Done").data["transitionRoutes"].append(route(intent="ghost.intent", page="Ask Name"))
    return {(_page_path("Done"), ("Done", "ghost.intent"))}


def plant_missing_route_group(pkg):
    _page(pkg, "Done").data["transitionRouteGroups"] = ["Ghost Group"]
    return {(_page_path("Done"), ("Done", "Ghost Group"))}


def plant_missing_webhook(pkg):
    _page(pkg, "Done").data["entryFulfillment"]["webhook"] = "ghost-hook"
    return {(_page_path("Done"), ("Done", "ghost-hook"))}


def plant_missing_entity_type(pkg):
    param = _page(pkg, "Ask Name").data["form"]["parameters"][0]
    param["entityType"] = "@ghost-entity"
    pkg.intent("greet").data["parameters"] = [
        {"id": "when", "entityType": "@sys.date"},
        {"id": "x", "entityType": "@nope"},
    ]
    return {(_page_path("Ask Name"), ("Ask Name",)), ("intents/greet/greet.json", ("greet",))}


def plant_missing_start_flow(pkg):
    pkg.agent["startFlow"] = "Ghost Start"
    return {("agent.json", ("Ghost Start",))}


def plant_missing_resource_file(pkg):
    pkg.other_files["intents/orphan/trainingPhrases/en.json"] = {"trainingPhrases": []}
    pkg.other_files["intents/greet/notes.txt"] = b"extra file of an existing intent"
    return {("intents/orphan/orphan.json", ("orphan",))}


def plant_duplicate_display_name(pkg):
    _add(pkg, lambda b: b.intent("greet", GREET))
    pkg.intents[-1].stem = "greet_2"
    return {("intents/greet/greet.json", ("greet",)), ("intents/greet_2/greet_2.json", ("greet",))}


def plant_unused_page(pkg):
    _add(pkg, lambda b: b.page(START_FLOW, "Orphan", transitionRoutes=[route(condition="true", page="Done")]))
    return {(_page_path("Orphan"), ("Orphan",))}


def plant_unreachable_page(pkg):
    def build(b):
        b.page(START_FLOW, "Island A", transitionRoutes=[route(condition="true", page="Island B")])
        b.page(START_FLOW, "Island B", transitionRoutes=[route(condition="true", page="Island A")])
        b.page(START_FLOW, "Island C", transitionRoutes=[route(condition="true", page="Done")])
        # Island C is referenced only from Island B, which only the island cycle reaches.
        b.package.flow(START_FLOW).page("Island B").data["transitionRoutes"].append(
            route(condition="false", page="Island C")
        )

    _add(pkg, build)
    return {(_page_path(n), (n,)) for n in ("Island A", "Island B", "Island C")}


def plant_dangling_page(pkg):
    _page(pkg, "Done").data["transitionRoutes"] = [route(condition="true", page="Current Page", says="Still here.")]
    return {(_page_path("Done"), ("Done",))}


def plant_unreachable_flow(pkg):
    _add(pkg, lambda b: b.flow("Lonely", transitionRoutes=[route(condition="true", page="End Flow")]))
    return {("flows/Lonely/Lonely.json", ("Lonely",))}


def plant_intent_no_training_phrases(pkg):
    _add(pkg, lambda b: b.intent("empty.intent", []))
    _flow(pkg).data["transitionRoutes"].append(route(intent="empty.intent", says="Fine."))
    return {("intents/empty.intent/empty.intent.json", ("empty.intent",))}


def plant_intent_few_training_phrases(pkg):
    phrases = pkg.intent("help").parts["trainingPhrases/en.json"]["trainingPhrases"]
    del phrases[3:]
    return {("intents/help/help.json", ("help",))}


def plant_duplicate_training_phrase(pkg):
    phrases = pkg.intent("help").parts["trainingPhrases/en.json"]["trainingPhrases"]
    phrases.append({"parts": [{"text": "Hello, number  0!"}], "repeatCount": 1})
    return {("intents/greet/trainingPhrases/en.json", ("greet", "help"))}


def plant_unused_intent(pkg):
    _add(pkg, lambda b: b.intent("spare", HELP[:1] + [f"spare phrase {i}" for i in range(10)]))
    del pkg.intent("spare").parts["trainingPhrases/en.json"]["trainingPhrases"][0]
    return {("intents/spare/spare.json", ("spare",))}


def plant_yes_no_entity(pkg):
    _add(pkg, lambda b: b.entity_type("confirmation", {"yes": ["yes", "yeah", "sure"], "no": ["no", "nope"]}))
    return {("entityTypes/confirmation/confirmation.json", ("confirmation",))}


def plant_test_case_missing_intent(pkg):
    turns = pkg.test_case("Greeting").data["testCaseConversationTurns"]
    turns[1]["virtualAgentOutput"]["triggeredIntent"]["name"] = "ghost.intent"
    return {("testCases/Greeting.json", ("Greeting", "ghost.intent"))}


def plant_test_case_missing_page(pkg):
    _add(
        pkg,
        lambda b: b.test_case(
            "Lost",
            [(GREET[1], "greet", "Nowhere", START_FLOW), (GREET[2], "greet", "End Session", START_FLOW)],
            testConfig={"flow": "Ghost Flow"},
        ),
    )
    return {("testCases/Lost.json", ("Lost",))}


def plant_test_phrase_not_in_intent(pkg):
    turns = pkg.test_case("Greeting").data["testCaseConversationTurns"]
    turns[0]["userInput"]["input"]["text"]["text"] = "hey there, friend"
    turns[1]["userInput"]["input"]["text"]["text"] = "I NEED HELP with thing 3."  # same phrase, other case
    return {("testCases/Greeting.json", ("Greeting", "greet"))}


def plant_intent_not_tested(pkg):
    del pkg.test_case("Greeting").data["testCaseConversationTurns"][1]
    return {("intents/help/help.json", ("help",))}


def plant_webhook_error_handler_missing(pkg):
    _flow(pkg).data["eventHandlers"] = [h for h in _flow(pkg).data["eventHandlers"] if h["event"] != "webhook.error"]
    # A page whose own handler covers its webhook call stays quiet.
    _page(pkg, "Done").data["entryFulfillment"]["webhook"] = "lookup"
    _page(pkg, "Done").data["eventHandlers"] = [handler("webhook.error.timeout", "Too slow.")]
    return {(_page_path("Ask Name"), ("Ask Name",))}


def plant_form_no_match_handler_missing(pkg):
    fill = _page(pkg, "Ask Name").data["form"]["parameters"][0]["fillBehavior"]
    fill["repromptEventHandlers"] = [h for h in fill["repromptEventHandlers"] if "no-match" not in h["event"]]
    return {(_page_path("Ask Name"), ("Ask Name",))}


def plant_form_no_input_handler_missing(pkg):
    fill = _page(pkg, "Ask Name").data["form"]["parameters"][0]["fillBehavior"]
    fill["repromptEventHandlers"] = [h for h in fill["repromptEventHandlers"] if "no-input" not in h["event"]]
    return {(_page_path("Ask Name"), ("Ask Name",))}


def plant_empty_fulfillment(pkg):
    _page(pkg, "Ask Name").data["transitionRoutes"].append({"condition": "$session.params.x", "triggerFulfillment": {}})
    _page(pkg, "Done").data["entryFulfillment"]["messages"].append(say("   "))
    return {(_page_path("Ask Name"), ("Ask Name",)), (_page_path("Done"), ("Done",))}


def plant_webhook_not_https(pkg):
    pkg.webhook("lookup").data["genericWebService"]["uri"] = "http://example.com/lookup"
    return {("webhooks/lookup.json", ("lookup",))}


def plant_foreign_reference(pkg):
    store = "projects/dev/locations/global/collections/default_collection/dataStores/faq"
    pkg.flow(START_FLOW).data["knowledgeConnectorSettings"] = {"dataStoreConnections": [{"dataStore": store}]}
    pkg.agent["securitySettings"] = "projects/prod/locations/global/securitySettings/s"  # the target's own
    start = f"flows/{START_FLOW}/{START_FLOW}.json"
    return {(start, (START_FLOW,))}, LintConfig(target_agent="projects/prod/locations/global/agents/a")


def plant_forbidden_endpoint(pkg):
    pkg.webhook("lookup").data["genericWebService"]["uri"] = "https://hooks.dev.example.com/lookup"
    return {("webhooks/lookup.json", ("lookup",))}, LintConfig(forbid=(r"\.dev\.example\.com",))


def plant_webhook_invalid_uri(pkg):
    pkg.webhook("lookup").data["genericWebService"]["uri"] = "https://<YOUR-HOST>/lookup"
    return {("webhooks/lookup.json", ("lookup",))}


def plant_unused_webhook(pkg):
    _add(pkg, lambda b: b.webhook("spare-hook", "https://example.com/spare"))
    return {("webhooks/spare-hook.json", ("spare-hook",))}


def plant_naming_convention(pkg):
    _add(pkg, lambda b: b.intent("Bad Name", [f"bad name phrase {i}" for i in range(10)]))
    _flow(pkg).data["transitionRoutes"].append(route(intent="Bad Name", says="Fine."))
    _add(pkg, lambda b: b.test_case("Bad Name test", [("bad name phrase 1", "Bad Name", "Start Page", START_FLOW)]))
    config = LintConfig(naming_patterns={"intent": r"^[a-z.]+$", "page": r"^[A-Z]"})
    return {("intents/Bad Name/Bad Name.json", ("Bad Name",))}, config


def plant_display_name_whitespace(pkg):
    pkg.intent("help").data["displayName"] = "help "
    _page(pkg, "Done").data["displayName"] = "Done  Page"
    _page(pkg, "Ask Name").data["transitionRoutes"][0]["targetPage"] = "Done  Page"
    pkg.test_case("Greeting").data["testCaseConversationTurns"][1]["virtualAgentOutput"]["triggeredIntent"]["name"] = (
        "help "
    )
    return {("intents/help/help.json", ("help ",)), (_page_path("Done"), ("Done  Page",))}


def plant_question_mark_missing(pkg):
    _page(pkg, "Done").data["entryFulfillment"]["messages"].append(say("Thanks. What is your postcode."))
    return {(_page_path("Done"), ("Done",))}


def plant_wh_question_punctuation(pkg):
    _page(pkg, "Done").data["entryFulfillment"]["messages"].append(say("Which size do you want?"))
    return {(_page_path("Done"), ("Done",))}, LintConfig(agent_type="voice")


def plant_closed_choice_question_mark(pkg):
    _page(pkg, "Done").data["entryFulfillment"]["messages"].append(say("Do you want tea or coffee?"))
    _page(pkg, "Ask Name").data["entryFulfillment"]["messages"].append(say("Do you want tea? or coffee."))
    return {(_page_path("Done"), ("Done",))}, LintConfig(agent_type="voice")


def plant_clarifying_question_punctuation(pkg):
    fill = _page(pkg, "Ask Name").data["form"]["parameters"][0]["fillBehavior"]
    fill["repromptEventHandlers"][0] = handler("sys.no-match-1", "Sorry, which name is yours.")
    return {(_page_path("Ask Name"), ("Ask Name",))}, LintConfig(agent_type="voice")


def plant_missing_translation(pkg):
    del pkg.intent("help").parts["trainingPhrases/de.json"]
    del pkg.entity_type("person-name").parts["entities/de.json"]
    _page(pkg, "Done").data["entryFulfillment"] = fulfillment("Thanks, goodbye.")
    return {
        ("intents/help/help.json", ("help",)),
        ("entityTypes/person-name/person-name.json", ("person-name",)),
        (_page_path("Done"), ("Done",)),
    }


PLANTS: dict[str, Plant] = {
    name.removeprefix("plant_").replace("_", "-"): plant
    for name, plant in globals().items()
    if name.startswith("plant_")
}
MULTILINGUAL = {"missing-translation"}


def test_every_rule_has_a_planted_defect_and_says_why():
    assert set(PLANTS) == set(RULES)
    for rule in RULES.values():
        assert rule.severity in SEVERITIES
        assert len(rule.doc) > 40, rule.id


@pytest.mark.parametrize("languages", [("en",), ("en", "de")])
@pytest.mark.parametrize("agent_type", ["chat", "voice"])
def test_clean_agent_has_no_findings(languages, agent_type):
    assert lint_package(clean_agent(languages), LintConfig(agent_type=agent_type)) == []


@pytest.mark.parametrize("rule_id", sorted(PLANTS))
def test_rule_fires_exactly_on_its_planted_defect(rule_id):
    package = clean_agent(("en", "de") if rule_id in MULTILINGUAL else ("en",))
    planted = PLANTS[rule_id](package)
    expected, config = planted if isinstance(planted, tuple) else (planted, LintConfig())
    findings = lint_package(package, config)
    fired = [f for f in findings if f.rule_id == rule_id]
    assert {(f.path, f.resource_display_names) for f in fired} == expected
    for finding in fired:
        assert finding.severity == RULES[rule_id].severity
        assert finding.path in finding.message
        assert finding.resource_display_names[0] in finding.message or finding.resource_type == "agent"
    # The same rule, disabled, reports nothing.
    quiet = dataclasses.replace(config, disabled_rules=frozenset({rule_id}))
    assert not [f for f in lint_package(package, quiet) if f.rule_id == rule_id]


def test_symbolic_targets_are_not_missing_pages():
    package = clean_agent()
    routes = _page(package, "Done").data["transitionRoutes"]
    for target in (
        "End Flow",
        "End Session",
        "Start Page",
        "Previous Page",
        "Current Page",
        "End Flow With Failure",
        "END_FLOW_WITH_HUMAN_ESCALATION",
        "END_FLOW_WITH_CANCELLATION",
    ):
        routes.append(route(condition=f'"{target}" = "x"', page=target))
    assert lint_package(package) == []


def test_route_group_routes_count_as_edges_and_start_page_loops_back():
    package = clean_agent()
    _add(
        package,
        lambda b: b.page(
            START_FLOW,
            "Via Group",
            entryFulfillment=fulfillment("Hi."),
            transitionRoutes=[route(condition="true", page="Start Page")],
        ),
    )
    _flow(package).route_group("Help").data["transitionRoutes"][0]["targetPage"] = "Via Group"
    assert lint_package(package) == []


def test_rules_the_emulator_validation_relies_on_have_its_severities():
    expected = {
        "route-to-missing-page": "ERROR",
        "route-to-missing-flow": "ERROR",
        "missing-intent": "ERROR",
        "test-case-missing-intent": "ERROR",
        "unreachable-page": "WARNING",
        "unused-page": "WARNING",
        "intent-no-training-phrases": "WARNING",
        "intent-few-training-phrases": "WARNING",
        "duplicate-training-phrase": "WARNING",
    }
    assert {rule_id: RULES[rule_id].severity for rule_id in expected} == expected


# --- configuration ------------------------------------------------------------------------------
def test_severity_override_and_allow_list():
    package = clean_agent()
    plant_unused_page(package)
    plant_unused_webhook(package)
    config = LintConfig(severity_overrides={"unused-page": "error"})
    assert [(f.rule_id, f.severity) for f in lint_package(package, config)] == [
        ("unused-page", "ERROR"),
        ("unused-webhook", "INFO"),
    ]
    allowed = LintConfig(
        allow=(AllowEntry("unused-*", resource="Orph*"), AllowEntry("unused-webhook", path="webhooks/*"))
    )
    assert lint_package(package, allowed) == []
    elsewhere = LintConfig(allow=(AllowEntry("unused-page", resource="Other*"),))
    assert [f.rule_id for f in lint_package(package, elsewhere)] == ["unused-page", "unused-webhook"]


def test_min_training_phrases_is_configurable():
    package = clean_agent()
    plant_intent_few_training_phrases(package)
    assert not [f for f in lint_package(package, LintConfig(min_training_phrases=3))]
    assert [f.rule_id for f in lint_package(package, LintConfig(min_training_phrases=4))] == [
        "intent-few-training-phrases"
    ]


def test_config_from_dict_and_files(tmp_path):
    data = {
        "disabled_rules": ["dangling-page"],
        "severity_overrides": {"unused-intent": "warning"},
        "naming_patterns": {"intent": "^[a-z]"},
        "allow": [{"rule": "unused-*", "resource": "Legacy*"}],
        "min_training_phrases": 15,
        "agent_type": "voice",
    }
    config = LintConfig.from_dict(data)
    assert config.disabled_rules == {"dangling-page"}
    assert config.severity_overrides == {"unused-intent": "WARNING"}
    assert config.allow == (AllowEntry("unused-*", "Legacy*"),)
    (tmp_path / "lint.json").write_text(__import__("json").dumps(data))
    (tmp_path / "lint.toml").write_text(
        'disabled_rules = ["dangling-page"]\nmin_training_phrases = 15\nagent_type = "voice"\n'
        '[severity_overrides]\nunused-intent = "warning"\n[naming_patterns]\nintent = "^[a-z]"\n'
        '[[allow]]\nrule = "unused-*"\nresource = "Legacy*"\n'
    )
    assert LintConfig.from_file(tmp_path / "lint.json") == config
    assert LintConfig.from_file(tmp_path / "lint.toml") == config
    assert LintConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({"disabled_rules": ["no-such-rule"]}, "no-such-rule"),
        ({"severity_overrides": {"unused-page": "FATAL"}}, "FATAL"),
        ({"naming_patterns": {"intent": "(["}}, "naming_patterns.intent"),
        ({"naming_patterns": {"robot": "x"}}, "robot"),
        ({"allow": [{"resource": "x"}]}, "rule"),
        ({"allow": [{"rule": "typo-rule"}]}, "typo-rule"),
        ({"min_training_phrases": -1}, "negative"),
        ({"agent_type": "fax"}, "agent_type"),
        ({"colour": "blue"}, "colour"),
        ({"disabled_rules": "unused-page"}, "list"),
    ],
)
def test_bad_config_is_a_clear_error(data, complaint):
    with pytest.raises(LintConfigError, match=complaint.replace("[", r"\[").replace("(", r"\(")):
        LintConfig.from_dict(data)


def test_unreadable_config_file_is_a_config_error(tmp_path):
    (tmp_path / "lint.toml").write_text("this is = = not toml")
    with pytest.raises(LintConfigError, match="TOML"):
        LintConfig.from_file(tmp_path / "lint.toml")
    with pytest.raises(LintConfigError, match="cannot read"):
        LintConfig.from_file(tmp_path / "missing.json")


# --- robustness ---------------------------------------------------------------------------------
@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__)
def test_malformed_fields_never_crash(corrupt):
    package = clean_agent()
    corrupt(package)
    for agent_type in ("chat", "voice"):
        findings = lint_package(package, LintConfig(agent_type=agent_type))
        assert all(isinstance(f, Finding) for f in findings)


def test_lint_changes_nothing():
    package = clean_agent()
    plant_unreachable_page(package)
    before = package_files(package)
    lint_package(package)
    assert package_files(package) == before


# --- real agents --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_findings(shared_agents) -> dict[str, list[Finding]]:
    return {path.name: lint_package(read_package(path)) for path in shared_agents}


def _of(findings: list[Finding], rule_id: str) -> set[tuple[str, ...]]:
    return {f.resource_display_names for f in findings if f.rule_id == rule_id}


def test_every_shared_agent_lints_in_both_modes(shared_agents):
    for path in shared_agents:
        package = read_package(path)
        for agent_type in ("chat", "voice"):
            findings = lint_package(package, LintConfig(agent_type=agent_type))
            assert len(findings) == len(set(findings)), path.name
            for finding in findings:
                assert finding.path in finding.message


def test_real_agents_have_no_dangling_references(real_findings):
    # All five restore in Dialogflow CX, so none routes to a missing page, flow, intent or group:
    # their "End Flow", "Current Page", "END_FLOW_WITH_FAILURE"… are symbolic targets.
    structural = {
        "route-to-missing-page",
        "route-to-missing-flow",
        "missing-intent",
        "missing-route-group",
        "missing-webhook",
        "missing-entity-type",
        "unused-page",
        "unreachable-page",
        "unreachable-flow",
    }
    for name, findings in real_findings.items():
        assert not [f for f in findings if f.rule_id in structural], name


def test_real_agent_errors_are_exactly_the_known_defects(real_findings):
    errors = {
        name: {(f.rule_id, f.resource_display_names) for f in fs if f.severity == "ERROR"}
        for name, fs in real_findings.items()
    }
    assert errors["qatar-airways"] == set()
    assert errors["optus-dev"] == set()
    assert errors["divebooker.zip"] == set()
    # "Price info" expects a page by a UUID that is no page of flow Catalog (a deleted page).
    assert errors["dsi-dialogflow"] == {("test-case-missing-page", ("Price info",))}
    price = [f for f in real_findings["dsi-dialogflow"] if f.rule_id == "test-case-missing-page"]
    assert {f.message.split("turn ")[1].split(" ")[0] for f in price} == {"10", "18", "19"}
    assert all("c10ae3fc-985d-4ecc-a2c1-cb9508c825e6" in f.message for f in price)
    # Both webhooks of the sample still hold template placeholders.
    assert errors["goodbye-graffiti.zip"] == {
        ("webhook-invalid-uri", ("lookup_place",)),
        ("webhook-invalid-uri", ("prebuilt_components_address_collection:address_validation",)),
    }


def test_real_agent_warnings_match_their_content(real_findings):
    qatar, dsi, optus = real_findings["qatar-airways"], real_findings["dsi-dialogflow"], real_findings["optus-dev"]
    assert _of(qatar, "display-name-whitespace") == {("flights.animals_on_board  ",)}
    assert _of(dsi, "display-name-whitespace") == {("Music ",)}
    # Only these three pages call the Apigee webhook without a webhook.error handler (none has one).
    assert _of(qatar, "webhook-error-handler-missing") == {
        ("Check Frequent Flyer Account Miles",),
        ("Collect One-Way Ticket Information",),
        ("Show One-Way Available Flights",),
    }
    assert ("small_talk.confirmation.no", "small_talk.thanks") in _of(qatar, "duplicate-training-phrase")
    assert ("Default Welcome Intent", "redirect.home") in _of(dsi, "duplicate-training-phrase")
    assert not _of(qatar, "intent-few-training-phrases")  # 17+ phrases each
    assert ("redirect.my.order",) in _of(dsi, "intent-few-training-phrases")  # 3 phrases
    assert _of(real_findings["divebooker.zip"], "intent-few-training-phrases") == {("head.send.group.request",)}
    # optus-dev declares pt-br, but only its welcome intent is translated.
    translations = {
        f.resource_display_names for f in optus if f.rule_id == "missing-translation" and f.resource_type == "intent"
    }
    assert translations == {("dev",), ("github_integration",), ("knowledge_connector",), ("webhook_parrot",)}
    assert ("Default Welcome Intent",) not in _of(optus, "missing-translation")
    # Its Webhook Parrot flow matches the welcome intent and then does nothing at all.
    empty = [f for f in optus if f.rule_id == "empty-fulfillment"]
    assert [(f.resource_display_names, f.flow) for f in empty] == [(("Webhook Parrot",), "Webhook Parrot")]
    assert "Default Welcome Intent" in empty[0].message
    # dsi's four intents no route uses.
    assert _of(dsi, "unused-intent") == {
        ("confirm.artists.overview",),
        ("redirect.album",),
        ("redirect.order.process",),
        ("redirect.shirt.size",),
    }
