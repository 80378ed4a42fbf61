"""A small, self-consistent agent package built in code, so each runtime test states what it relies on."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_cx.package import AgentPackage, parse_files


def text(*variants: str) -> dict[str, Any]:
    return {"text": {"text": list(variants)}, "languageCode": "en"}


def say(*variants: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [text(*variants)], **extra}


def phrase(*parts: str | tuple[str, str]) -> dict[str, Any]:
    out = []
    for part in parts:
        if isinstance(part, tuple):
            out.append({"text": part[0], "parameterId": part[1]})
        else:
            out.append({"text": part})
    return {"parts": out, "repeatCount": 1}


class AgentBuilder:
    """Collects package files; ``build()`` returns the parsed :class:`AgentPackage`."""

    def __init__(self, start_flow: str = "Default Start Flow", **agent: Any) -> None:
        self.files: dict[str, Any] = {
            "agent.json": {"displayName": "Test Agent", "defaultLanguageCode": "en", "startFlow": start_flow, **agent}
        }

    def flow(self, name: str, **data: Any) -> AgentBuilder:
        self.files[f"flows/{name}/{name}.json"] = {"name": f"flow-{name}", "displayName": name, **data}
        return self

    def page(self, flow: str, name: str, **data: Any) -> AgentBuilder:
        self.files[f"flows/{flow}/pages/{name}.json"] = {"name": f"page-{name}", "displayName": name, **data}
        return self

    def flow_group(self, flow: str, name: str, routes: list[dict[str, Any]]) -> AgentBuilder:
        path = f"flows/{flow}/transitionRouteGroups/{name}.json"
        self.files[path] = {"displayName": name, "transitionRoutes": routes}
        return self

    def agent_group(self, name: str, routes: list[dict[str, Any]]) -> AgentBuilder:
        self.files[f"transitionRouteGroups/{name}/{name}.json"] = {"displayName": name, "transitionRoutes": routes}
        return self

    def intent(self, name: str, phrases: list[Any], parameters: list[dict[str, Any]] | None = None) -> AgentBuilder:
        prepared = [p if isinstance(p, dict) else phrase(p) for p in phrases]
        self.files[f"intents/{name}/{name}.json"] = {"displayName": name, "parameters": parameters or []}
        self.files[f"intents/{name}/trainingPhrases/en.json"] = {"trainingPhrases": prepared}
        return self

    def entity_type(self, name: str, entities: list[dict[str, Any]], **data: Any) -> AgentBuilder:
        self.files[f"entityTypes/{name}/{name}.json"] = {"displayName": name, "kind": "KIND_MAP", **data}
        self.files[f"entityTypes/{name}/entities/en.json"] = {"entities": entities}
        return self

    def webhook(self, name: str, uri: str, **data: Any) -> AgentBuilder:
        self.files[f"webhooks/{name}.json"] = {
            "displayName": name,
            "genericWebService": {"uri": uri},
            **data,
        }
        return self

    def test_case(self, name: str, turns: list[dict[str, Any]], **data: Any) -> AgentBuilder:
        self.files[f"testCases/{name}.json"] = {"displayName": name, "testCaseConversationTurns": turns, **data}
        return self

    def build(self) -> AgentPackage:
        return parse_files({path: json.dumps(data).encode() for path, data in self.files.items()})


def turn(
    user: str,
    *,
    intent: str | None = None,
    page: str | None = None,
    flow: str | None = None,
    texts: list[str] | None = None,
    params: dict[str, Any] | None = None,
    injected: dict[str, Any] | None = None,
    webhook: bool = True,
) -> dict[str, Any]:
    """A test case turn: the user's text and what the agent is expected to do."""
    output: dict[str, Any] = {}
    if intent:
        output["triggeredIntent"] = {"name": intent}
    if page:
        output["currentPage"] = {"name": page, "flow": flow or "Default Start Flow"}
    if texts is not None:
        output["textResponses"] = [{"text": [t]} for t in texts]
    if params is not None:
        output["sessionParameters"] = params
    user_input: dict[str, Any] = {"input": {"text": {"text": user}, "languageCode": "en"}, "isWebhookEnabled": webhook}
    if injected:
        user_input["injectedParameters"] = injected
    return {"userInput": user_input, "virtualAgentOutput": output}
