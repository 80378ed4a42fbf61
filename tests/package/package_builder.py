"""A tiny builder of agent packages for tests: a clean agent in a few lines, defects planted by hand.

``clean_agent()`` builds an agent on which no lint rule fires (in chat and in voice mode); a test
takes it, plants one defect, and checks that exactly the expected rule fires on exactly the planted
resource. Responses are statements, not questions, so the punctuation rules stay quiet until a test
writes a question.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_cx.package import AgentPackage, Flow, Resource, encode_stem

START_FLOW = "Default Start Flow"


def say(text: str, language: str = "en") -> dict[str, Any]:
    return {"text": {"text": [text]}, "languageCode": language}


def fulfillment(*texts: str, languages: tuple[str, ...] = ("en",), **extra: Any) -> dict[str, Any]:
    """A fulfillment saying ``texts`` in every language (suffixed " [de]" outside English)."""
    messages = [say(t if lang == "en" else f"{t} [{lang}]", lang) for lang in languages for t in texts]
    return {"messages": messages, **extra} if messages else dict(extra)


def route(
    *,
    intent: str | None = None,
    condition: str | None = None,
    page: str | None = None,
    flow: str | None = None,
    says: str | None = None,
    webhook: str | None = None,
    languages: tuple[str, ...] = ("en",),
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if intent is not None:
        data["intent"] = intent
    if condition is not None:
        data["condition"] = condition
    extra = {"webhook": webhook, "tag": "t"} if webhook else {}
    data["triggerFulfillment"] = fulfillment(*([says] if says else []), languages=languages, **extra)
    if page is not None:
        data["targetPage"] = page
    if flow is not None:
        data["targetFlow"] = flow
    return data


def handler(event: str, says: str | None = None, page: str | None = None, languages=("en",)) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event": event,
        "triggerFulfillment": fulfillment(*([says] if says else []), languages=languages),
    }
    if page is not None:
        data["targetPage"] = page
    return data


class PackageBuilder:
    """Adds resources to an :class:`AgentPackage`, computing stems and per-language files."""

    def __init__(self, languages: tuple[str, ...] = ("en",)) -> None:
        self.languages = languages
        agent: dict[str, Any] = {
            "displayName": "Test Agent",
            "defaultLanguageCode": languages[0],
            "startFlow": START_FLOW,
        }
        if len(languages) > 1:
            agent["supportedLanguageCodes"] = list(languages[1:])
        self.package = AgentPackage(agent=agent)

    def flow(self, name: str, **data: Any) -> Flow:
        flow = Flow("flows", encode_stem(name), {"name": f"id-{name}", "displayName": name, **data})
        self.package.flows.append(flow)
        return flow

    def page(self, flow: str, name: str, **data: Any) -> Resource:
        page = Resource("pages", encode_stem(name), {"name": f"id-{name}", "displayName": name, **data})
        self._flow(flow).pages.append(page)
        return page

    def flow_route_group(self, flow: str, name: str, routes: list[dict[str, Any]]) -> Resource:
        group = Resource("transitionRouteGroups", encode_stem(name), {"displayName": name, "transitionRoutes": routes})
        self._flow(flow).route_groups.append(group)
        return group

    def intent(self, name: str, phrases: list[str], **data: Any) -> Resource:
        parts = {
            f"trainingPhrases/{lang}.json": {
                "trainingPhrases": [
                    {"parts": [{"text": p if lang == "en" else f"{p} {lang}"}], "repeatCount": 1, "languageCode": lang}
                    for p in phrases
                ]
            }
            for lang in self.languages
            if phrases
        }
        intent = Resource("intents", encode_stem(name), {"name": f"id-{name}", "displayName": name, **data}, parts)
        self.package.intents.append(intent)
        return intent

    def entity_type(self, name: str, entities: dict[str, list[str]], **data: Any) -> Resource:
        parts = {
            f"entities/{lang}.json": {
                "entities": [{"value": value, "synonyms": synonyms} for value, synonyms in entities.items()]
            }
            for lang in self.languages
        }
        body = {"name": f"id-{name}", "displayName": name, "kind": "KIND_MAP", **data}
        entity_type = Resource("entityTypes", encode_stem(name), body, parts)
        self.package.entity_types.append(entity_type)
        return entity_type

    def webhook(self, name: str, uri: str) -> Resource:
        body = {"name": f"id-{name}", "displayName": name, "genericWebService": {"uri": uri}, "timeout": {"seconds": 5}}
        webhook = Resource("webhooks", encode_stem(name), body)
        self.package.webhooks.append(webhook)
        return webhook

    def test_case(self, name: str, turns: list[tuple[str, str | None, str, str]], **data: Any) -> Resource:
        """``turns``: (user text, expected intent or None, expected page, expected flow)."""
        body: dict[str, Any] = {"name": f"id-{name}", "displayName": name, "testCaseConversationTurns": []}
        for text, intent, page, flow in turns:
            output: dict[str, Any] = {"currentPage": {"name": page, "flow": flow}}
            if intent:
                output["triggeredIntent"] = {"name": intent}
            body["testCaseConversationTurns"].append(
                {"userInput": {"input": {"text": {"text": text}, "languageCode": "en"}}, "virtualAgentOutput": output}
            )
        body.update(data)
        test_case = Resource("testCases", encode_stem(name), body)
        self.package.test_cases.append(test_case)
        return test_case

    def _flow(self, name: str) -> Flow:
        flow = self.package.flow(name)
        assert flow is not None, name
        return flow


GREET = [f"hello number {i}" for i in range(10)]
HELP = [f"i need help with thing {i}" for i in range(10)]


def clean_agent(languages: tuple[str, ...] = ("en",)) -> AgentPackage:
    """A small agent with no defect any rule knows: every page reachable, every phrase tested."""
    b = PackageBuilder(languages)
    lang = {"languages": languages}
    b.flow(
        START_FLOW,
        transitionRoutes=[route(intent="greet", says="Welcome to the shop.", page="Ask Name", **lang)],
        eventHandlers=[
            handler("sys.no-match-default", "Sorry, say that again.", languages=languages),
            handler("sys.no-input-default", "Sorry, I did not hear you.", languages=languages),
            handler("webhook.error", "The service is down.", languages=languages),
        ],
        transitionRouteGroups=["Help"],
    )
    b.flow_route_group(START_FLOW, "Help", [route(intent="help", says="I can take your order.", **lang)])
    b.page(
        START_FLOW,
        "Ask Name",
        entryFulfillment=fulfillment("Tell me your name.", languages=languages),
        form={
            "parameters": [
                {
                    "displayName": "name",
                    "required": True,
                    "entityType": "@person-name",
                    "fillBehavior": {
                        "initialPromptFulfillment": fulfillment("Tell me your name.", languages=languages),
                        "repromptEventHandlers": [
                            handler("sys.no-match-1", "Tell me your first name.", languages=languages),
                            handler("sys.no-input-1", "Tell me your name, please.", languages=languages),
                        ],
                    },
                }
            ]
        },
        transitionRoutes=[route(condition='$page.params.status = "FINAL"', webhook="lookup", page="Done", **lang)],
    )
    b.page(
        START_FLOW,
        "Done",
        entryFulfillment=fulfillment("Thanks, goodbye.", languages=languages),
        transitionRoutes=[route(condition="true", page="End Flow")],
    )
    b.intent("greet", GREET)
    b.intent("help", HELP)
    b.intent("Default Negative Intent", [], isFallback=True)
    b.entity_type("person-name", {"Alice": ["Alice"], "Bob": ["Bob"]})
    b.webhook("lookup", "https://example.com/lookup")
    b.test_case(
        "Greeting",
        [(GREET[0], "greet", "Ask Name", START_FLOW), (HELP[0], "help", "Ask Name", START_FLOW)],
        testConfig={"flow": START_FLOW, "page": "Start Page"},
    )
    return b.package


# --- malformed packages: fields of the wrong JSON type, as hand edits and bad merges leave them ---
def wreck_flow(pkg: AgentPackage) -> None:
    flow = pkg.flow(START_FLOW)
    flow.data.update(transitionRoutes="oops", eventHandlers=[1, None, "x"], transitionRouteGroups={"a": 1})


def wreck_page(pkg: AgentPackage) -> None:
    flow = pkg.flow(START_FLOW)
    flow.page("Ask Name").data.update(form={"parameters": "nope"}, transitionRoutes=[{"targetPage": 7, "intent": 3}])
    flow.page("Done").data["entryFulfillment"] = {"messages": [{"text": "flat"}, {"text": {"text": [3, None]}}]}


def wreck_intent(pkg: AgentPackage) -> None:
    pkg.intent("greet").parts["trainingPhrases/en.json"] = ["not", "a", "dict"]
    pkg.intent("help").parts["trainingPhrases/en.json"] = {
        "trainingPhrases": [{"parts": "x"}, 5, {"parts": [{"text": 1}]}]
    }
    pkg.entity_type("person-name").parts["entities/en.json"] = b"\x00binary"


def wreck_test_case(pkg: AgentPackage) -> None:
    turns = [None, {"userInput": "x"}, {"virtualAgentOutput": []}]
    pkg.test_case("Greeting").data.update(testCaseConversationTurns=turns, testConfig="start")


def wreck_webhook(pkg: AgentPackage) -> None:
    pkg.webhook("lookup").data["genericWebService"] = {"uri": "https://host:99999999/x"}
    pkg.agent["supportedLanguageCodes"] = ["de"]


CORRUPTIONS = [wreck_flow, wreck_page, wreck_intent, wreck_test_case, wreck_webhook]
