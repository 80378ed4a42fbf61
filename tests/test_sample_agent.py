"""The sample agent is a self-consistent CX export: valid JSON, resolvable references, the promised features.

These checks read the files with plain ``json`` so a mistake in the agent cannot hide behind a mistake
in the package reader; one test also reads it through ``read_package`` to prove the two agree.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_cx.package import read_package
from airflow_provider_cx.sample_agent import sample_agent_path

ROOT = sample_agent_path()
JSON_FILES = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.json"))
PSEUDO_PAGES = {"End Flow", "End Session"}
# CX's well-known ids: the start flow and the welcome intent share the all-zero id in every agent.
RESERVED_IDS = {"00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000001"}
PARAM_REF = re.compile(r"\$session\.params\.([A-Za-z0-9_-]+)")


def _load(rel: str) -> Any:
    return json.loads((ROOT / rel).read_text(encoding="utf-8"))


def _export_style(value: Any, indent: int = 0) -> str:
    """How the CX exporter pretty-prints JSON (Jackson: inline ``[ {`` arrays, 2-space objects)."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return "{\n" + pad + "\n" + pad + "}"
        body = ",\n".join(f"{pad}  {json.dumps(k)}: {_export_style(v, indent + 2)}" for k, v in value.items())
        return "{\n" + body + "\n" + pad + "}"
    if isinstance(value, list):
        return "[ " + ", ".join(_export_style(v, indent) for v in value) + " ]" if value else "[ ]"
    return json.dumps(value, ensure_ascii=False)


@pytest.fixture(scope="module")
def agent() -> dict[str, Any]:
    """The agent as plain dicts: flows with their pages and route groups, keyed by display name."""
    flows = {}
    for flow_dir in sorted((ROOT / "flows").iterdir()):
        flows[flow_dir.name] = {
            "flow": _load(f"flows/{flow_dir.name}/{flow_dir.name}.json"),
            "pages": {p.stem: json.loads(p.read_text()) for p in sorted(flow_dir.glob("pages/*.json"))},
            "groups": {
                p.stem: json.loads(p.read_text()) for p in sorted(flow_dir.glob("transitionRouteGroups/*.json"))
            },
        }
    return {
        "agent": _load("agent.json"),
        "flows": flows,
        "intents": {d.name: _load(f"intents/{d.name}/{d.name}.json") for d in (ROOT / "intents").iterdir()},
        "phrases": {
            d.name: _load(f"intents/{d.name}/trainingPhrases/en.json")["trainingPhrases"]
            for d in (ROOT / "intents").iterdir()
        },
        "entity_types": {
            d.name: _load(f"entityTypes/{d.name}/{d.name}.json") for d in (ROOT / "entityTypes").iterdir()
        },
        "entities": {
            d.name: _load(f"entityTypes/{d.name}/entities/en.json")["entities"]
            for d in (ROOT / "entityTypes").iterdir()
        },
        "webhooks": {p.stem: _load(f"webhooks/{p.name}") for p in (ROOT / "webhooks").glob("*.json")},
        "test_cases": {p.stem: _load(f"testCases/{p.name}") for p in (ROOT / "testCases").glob("*.json")},
    }


# --- walking the agent -------------------------------------------------------------------------------
def _fulfillments(node: Any) -> Iterator[dict[str, Any]]:
    """Every fulfillment anywhere below ``node`` (route, event handler, entry, prompt, reprompt)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("triggerFulfillment", "entryFulfillment", "initialPromptFulfillment"):
                yield value
            yield from _fulfillments(value)
    elif isinstance(node, list):
        for item in node:
            yield from _fulfillments(item)


def _texts(fulfillment: dict[str, Any]) -> Iterator[str]:
    for message in fulfillment.get("messages", []):
        yield from message.get("text", {}).get("text", [])
    for cases in fulfillment.get("conditionalCases", []):
        for case in cases["cases"]:
            for content in case["caseContent"]:
                yield from content.get("message", {}).get("text", {}).get("text", [])


def _routes(flow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, route) for the flow's own routes, its pages' routes and its route groups' routes."""
    for route in flow["flow"].get("transitionRoutes", []):
        yield flow["flow"]["displayName"], route
    for name, page in flow["pages"].items():
        for route in page.get("transitionRoutes", []):
            yield name, route
    for name, group in flow["groups"].items():
        for route in group.get("transitionRoutes", []):
            yield name, route


def _handlers(flow: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from flow["flow"].get("eventHandlers", [])
    for page in flow["pages"].values():
        yield from page.get("eventHandlers", [])
        for param in page.get("form", {}).get("parameters", []):
            yield from param.get("fillBehavior", {}).get("repromptEventHandlers", [])


def _names(node: Any) -> Iterator[str]:
    """Every id in a file; test-case outputs name intents and pages by display name, so they are skipped."""
    if isinstance(node, dict):
        if isinstance(node.get("name"), str):
            yield node["name"]
        for key, value in node.items():
            if key not in ("triggeredIntent", "currentPage", "currentFlow"):
                yield from _names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _names(item)


def _all_routes(agent: dict[str, Any]) -> list[dict[str, Any]]:
    return [route for flow in agent["flows"].values() for _, route in _routes(flow)]


def _all_fulfillments(agent: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for flow in agent["flows"].values() for f in _fulfillments(flow)]


# --- files ---------------------------------------------------------------------------------------------
def test_sample_agent_path_points_at_the_package() -> None:
    assert (sample_agent_path() / "agent.json").is_file()


@pytest.mark.parametrize("rel", JSON_FILES)
def test_file_is_json_in_export_style(rel: str) -> None:
    text = (ROOT / rel).read_text(encoding="utf-8")
    data = json.loads(text)
    assert isinstance(data, dict), f"{rel} must hold a JSON object"
    assert text == _export_style(data) + "\n", f"{rel} is not formatted the way CX exports are"


def test_resource_files_are_named_after_their_display_name(agent: dict[str, Any]) -> None:
    for kind in ("intents", "entity_types", "webhooks", "test_cases"):
        for stem, data in agent[kind].items():
            assert data["displayName"] == stem, f"{kind}/{stem}"
    for stem, flow in agent["flows"].items():
        assert flow["flow"]["displayName"] == stem
        for collection in ("pages", "groups"):
            for child_stem, child in flow[collection].items():
                assert child["displayName"] == child_stem, f"{stem}/{collection}/{child_stem}"


def test_names_are_unique_uuids(agent: dict[str, Any]) -> None:
    names: list[str] = []
    for rel in JSON_FILES:
        names.extend(_names(_load(rel)))
    assert len(names) > 50
    for name in names:
        assert str(uuid.UUID(name)) == name, f"{name!r} is not a lower-case UUID"
    duplicates = {n: c for n, c in Counter(names).items() if c > 1 and n not in RESERVED_IDS}
    assert not duplicates
    assert agent["flows"]["Default Start Flow"]["flow"]["name"] == "00000000-0000-0000-0000-000000000000"
    assert agent["intents"]["Default Welcome Intent"]["name"] == "00000000-0000-0000-0000-000000000000"
    assert agent["intents"]["Default Negative Intent"]["name"] == "00000000-0000-0000-0000-000000000001"


# --- references ----------------------------------------------------------------------------------------
def test_start_flow_exists(agent: dict[str, Any]) -> None:
    assert agent["agent"]["startFlow"] in agent["flows"]


def test_route_targets_and_intents_resolve(agent: dict[str, Any]) -> None:
    for flow_name, flow in agent["flows"].items():
        for where, route in _routes(flow):
            label = f"{flow_name}/{where}"
            assert "intent" in route or "condition" in route, label
            if "intent" in route:
                assert route["intent"] in agent["intents"], f"{label}: unknown intent {route['intent']!r}"
            if "targetPage" in route:
                target = route["targetPage"]
                assert target in flow["pages"] or target in PSEUDO_PAGES, f"{label}: unknown page {target!r}"
            if "targetFlow" in route:
                assert route["targetFlow"] in agent["flows"], f"{label}: unknown flow {route['targetFlow']!r}"
        for handler in _handlers(flow):
            target = handler.get("targetPage")
            assert target is None or target in flow["pages"] or target in PSEUDO_PAGES


def test_route_groups_resolve_within_their_flow(agent: dict[str, Any]) -> None:
    used = set()
    for flow_name, flow in agent["flows"].items():
        for page_name, page in flow["pages"].items():
            for group in page.get("transitionRouteGroups", []):
                assert group in flow["groups"], f"{flow_name}/{page_name}: unknown route group {group!r}"
                used.add((flow_name, group))
    declared = {(f, g) for f, flow in agent["flows"].items() for g in flow["groups"]}
    assert declared == used, "every route group is used by a page of its flow"


def test_entity_types_resolve(agent: dict[str, Any]) -> None:
    def check(entity_type: str, where: str) -> None:
        if not entity_type.startswith("@sys."):
            assert entity_type.removeprefix("@") in agent["entity_types"], f"{where}: {entity_type!r}"

    for flow_name, flow in agent["flows"].items():
        for page_name, page in flow["pages"].items():
            for param in page.get("form", {}).get("parameters", []):
                check(param["entityType"], f"{flow_name}/{page_name}/{param['displayName']}")
    for name, intent in agent["intents"].items():
        for param in intent.get("parameters", []):
            check(param["entityType"], f"intent {name}/{param['id']}")


def test_annotated_training_phrase_parts_name_declared_parameters(agent: dict[str, Any]) -> None:
    for name, phrases in agent["phrases"].items():
        declared = {p["id"] for p in agent["intents"][name].get("parameters", [])}
        for phrase in phrases:
            for part in phrase["parts"]:
                if "parameterId" in part:
                    assert part["parameterId"] in declared, f"{name}: {part}"


def test_webhooks_resolve(agent: dict[str, Any]) -> None:
    used = [f["webhook"] for f in _all_fulfillments(agent) if "webhook" in f]
    assert used, "one page calls the webhook"
    for name in used:
        assert name in agent["webhooks"]
    for webhook in agent["webhooks"].values():
        assert webhook["genericWebService"]["uri"].startswith("https://")


def _known_parameters(agent: dict[str, Any]) -> set[str]:
    names = {p["id"] for intent in agent["intents"].values() for p in intent.get("parameters", [])}
    for flow in agent["flows"].values():
        for page in flow["pages"].values():
            names |= {p["displayName"] for p in page.get("form", {}).get("parameters", [])}
    for fulfillment in _all_fulfillments(agent):
        names |= {a["parameter"] for a in fulfillment.get("setParameterActions", [])}
    return names


def test_parameter_references_resolve(agent: dict[str, Any]) -> None:
    known = _known_parameters(agent) | {"branch_name", "branch_address"}  # set by the webhook
    for fulfillment in _all_fulfillments(agent):
        for text in _texts(fulfillment):
            assert set(PARAM_REF.findall(text)) <= known, text
    for route in _all_routes(agent):
        assert set(PARAM_REF.findall(route.get("condition", ""))) <= known, route["condition"]


# --- test cases ----------------------------------------------------------------------------------------
def _turns(agent: dict[str, Any]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    for name, case in agent["test_cases"].items():
        for index, turn in enumerate(case["testCaseConversationTurns"]):
            yield name, index, turn


def test_test_case_references_resolve(agent: dict[str, Any]) -> None:
    for case in agent["test_cases"].values():
        assert case["testConfig"]["flow"] in agent["flows"]
        assert case["testConfig"]["page"] == "Start Page"
    for name, index, turn in _turns(agent):
        out = turn["virtualAgentOutput"]
        label = f"{name} turn {index + 1}"
        if "triggeredIntent" in out:
            assert out["triggeredIntent"]["name"] in agent["intents"], label
        flow = out["currentPage"]["flow"]
        assert flow in agent["flows"], label
        page = out["currentPage"]["name"]
        assert page in agent["flows"][flow]["pages"] or page in PSEUDO_PAGES | {"Start Page"}, label
        assert out["textResponses"], f"{label}: every turn answers"


def _render(template: str, params: dict[str, Any]) -> str:
    return PARAM_REF.sub(lambda m: str(params.get(m.group(1), m.group(0))), template)


def test_expected_responses_are_agent_messages(agent: dict[str, Any]) -> None:
    """Each expected text is one of the agent's messages with the turn's session parameters filled in."""
    templates = {text for f in _all_fulfillments(agent) for text in _texts(f)}
    for name, index, turn in _turns(agent):
        out = turn["virtualAgentOutput"]
        rendered = {_render(t, out.get("sessionParameters", {})) for t in templates}
        for response in out["textResponses"]:
            (text,) = response["text"]
            assert text in rendered, f"{name} turn {index + 1}: {text!r} is no message of the agent"


def test_expected_session_parameters_are_agent_parameters(agent: dict[str, Any]) -> None:
    known = _known_parameters(agent)
    for name, index, turn in _turns(agent):
        params = turn["virtualAgentOutput"].get("sessionParameters", {})
        assert set(params) <= known, f"{name} turn {index + 1}: {set(params) - known}"


def test_test_cases_do_not_depend_on_the_webhook(agent: dict[str, Any]) -> None:
    """Turns answered with a webhook fulfillment's static text run with webhooks disabled."""
    webhook_texts = [
        re.compile(".+".join(re.escape(piece) for piece in PARAM_REF.split(t)[::2]))
        for f in _all_fulfillments(agent)
        if "webhook" in f
        for t in _texts(f)
    ]
    assert webhook_texts
    reached = 0
    for name, index, turn in _turns(agent):
        texts = [r["text"][0] for r in turn["virtualAgentOutput"]["textResponses"]]
        if any(p.fullmatch(t) for p in webhook_texts for t in texts):
            reached += 1
            assert turn["userInput"]["isWebhookEnabled"] is False, f"{name} turn {index + 1}"
    assert reached >= 2, "the webhook page is exercised with the webhook disabled"


def test_test_cases_cover_every_flow_and_tag(agent: dict[str, Any]) -> None:
    flows = {turn["virtualAgentOutput"]["currentPage"]["flow"] for _, _, turn in _turns(agent)}
    assert flows == set(agent["flows"])
    tags = Counter(tag for case in agent["test_cases"].values() for tag in case.get("tags", []))
    assert {"#smoke", "#cards", "#transfers", "#branches"} <= set(tags)
    assert sum(len(c["testCaseConversationTurns"]) > 1 for c in agent["test_cases"].values()) >= 8


# --- features ------------------------------------------------------------------------------------------
def test_agent_has_the_promised_features(agent: dict[str, Any]) -> None:
    flows = agent["flows"]
    assert len(flows) >= 4
    assert "Default Start Flow" in flows
    forms = [p for f in flows.values() for p in f["pages"].values() if p.get("form", {}).get("parameters")]
    assert len(forms) >= 3
    for page in forms:
        for param in page["form"]["parameters"]:
            assert param["required"] is True
            behavior = param["fillBehavior"]
            assert list(_texts(behavior["initialPromptFulfillment"])), page["displayName"]
            events = {h["event"] for h in behavior["repromptEventHandlers"]}
            assert {"sys.no-match-default", "sys.no-input-default"} <= events
    conditions = {r.get("condition") for r in _all_routes(agent)}
    assert '$page.params.status = "FINAL"' in conditions
    assert any("$session.params.amount > 1000" in (c or "") for c in conditions)
    targets = {r.get("targetPage") for r in _all_routes(agent)} | {r.get("targetFlow") for r in _all_routes(agent)}
    assert targets >= PSEUDO_PAGES
    assert {"Card Services", "Transfers", "Branch Finder"} <= targets
    fulfillments = _all_fulfillments(agent)
    assert any(f.get("conditionalCases") for f in fulfillments)
    assert any(f.get("setParameterActions") for f in fulfillments)
    start = flows["Default Start Flow"]["flow"]
    assert {h["event"] for h in start["eventHandlers"]} == {"sys.no-match-default", "sys.no-input-default"}
    assert any(f["groups"] for f in flows.values())


def test_intents_and_training_phrases(agent: dict[str, Any]) -> None:
    intents = agent["intents"]
    assert {"Default Welcome Intent", "Default Negative Intent"} <= set(intents)
    assert intents["Default Negative Intent"].get("isFallback") is True
    assert len(intents) >= 12
    annotated = 0
    for name, phrases in agent["phrases"].items():
        if not name.startswith("Default "):
            assert 8 <= len(phrases) <= 20, f"{name} has {len(phrases)} training phrases"
        texts = ["".join(part["text"] for part in p["parts"]).lower() for p in phrases]
        assert len(set(texts)) == len(texts), f"{name} repeats a training phrase"
        annotated += sum(any("parameterId" in part for part in p["parts"]) for p in phrases)
    assert annotated >= 10


def test_entity_types(agent: dict[str, Any]) -> None:
    kinds = {name: et["kind"] for name, et in agent["entity_types"].items()}
    assert len(kinds) == 3
    assert set(kinds.values()) == {"KIND_MAP", "KIND_REGEXP"}
    assert any(et.get("enableFuzzyExtraction") for et in agent["entity_types"].values())
    for name, entities in agent["entities"].items():
        assert entities, name
        if kinds[name] == "KIND_MAP":
            assert all(e["value"] in e["synonyms"] or len(e["synonyms"]) > 1 for e in entities), name
        else:
            for entity in entities:
                re.compile(entity["value"])


def test_package_reader_sees_the_same_agent(agent: dict[str, Any]) -> None:
    package = read_package(sample_agent_path())
    assert package.display_name == "Acme Bank Support"
    assert {f.display_name for f in package.flows} == set(agent["flows"])
    assert {i.display_name for i in package.intents} == set(agent["intents"])
    assert {e.display_name for e in package.entity_types} == set(agent["entity_types"])
    assert {t.display_name for t in package.test_cases} == set(agent["test_cases"])
    assert not package.other_files, f"files the reader does not place: {sorted(package.other_files)}"
