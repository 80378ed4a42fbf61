"""What a new agent or flow starts with, as Dialogflow CX creates them."""

from __future__ import annotations

from typing import Any

from airflow_provider_cx.package import AgentPackage, Flow, Resource, new_id

DEFAULT_START_FLOW = "Default Start Flow"
DEFAULT_FLOW_ID = "00000000-0000-0000-0000-000000000000"
WELCOME_INTENT = "Default Welcome Intent"
WELCOME_INTENT_ID = "00000000-0000-0000-0000-000000000000"
NEGATIVE_INTENT = "Default Negative Intent"
NEGATIVE_INTENT_ID = "00000000-0000-0000-0000-000000000001"
_WELCOME_PHRASES = ("hi", "hello", "hey", "good morning", "greetings", "just going to say hi")
_NO_MATCH = "I didn't get that. Can you say it again?"
_NO_INPUT = "I missed what you said. What was that?"


def default_event_handlers(language: str) -> list[dict[str, Any]]:
    return [
        {"event": event, "triggerFulfillment": {"messages": [_text(text, language)]}, "name": new_id()}
        for event, text in (("sys.no-match-default", _NO_MATCH), ("sys.no-input-default", _NO_INPUT))
    ]


def new_flow_data(display_name: str, language: str, flow_id: str | None = None) -> dict[str, Any]:
    return {
        "name": flow_id or new_id(),
        "displayName": display_name,
        "transitionRoutes": [],
        "eventHandlers": default_event_handlers(language),
        "nluSettings": {
            "modelType": "MODEL_TYPE_STANDARD",
            "classificationThreshold": 0.3,
            "modelTrainingMode": "MODEL_TRAINING_MODE_AUTOMATIC",
        },
    }


def new_agent_package(agent: dict[str, Any]) -> AgentPackage:
    """A fresh agent: the default start flow with its welcome route, and the two default intents."""
    language = str(agent.get("defaultLanguageCode", "en"))
    flow_data = new_flow_data(DEFAULT_START_FLOW, language, DEFAULT_FLOW_ID)
    flow_data["description"] = "A start flow created along with the agent"
    flow_data["transitionRoutes"] = [
        {
            "intent": WELCOME_INTENT,
            "triggerFulfillment": {"messages": [_text("Greetings! How can I assist?", language)]},
            "name": new_id(),
        }
    ]
    package = AgentPackage(agent={**agent, "startFlow": DEFAULT_START_FLOW})
    package.flows.append(Flow("flows", DEFAULT_START_FLOW, flow_data))
    phrases = [
        {"id": new_id(), "parts": [{"text": text, "auto": True}], "repeatCount": 1, "languageCode": language}
        for text in _WELCOME_PHRASES
    ]
    package.intents.append(
        Resource(
            "intents",
            WELCOME_INTENT,
            {"name": WELCOME_INTENT_ID, "displayName": WELCOME_INTENT, "priority": 500000},
            {f"trainingPhrases/{language}.json": {"trainingPhrases": phrases}},
        )
    )
    package.intents.append(
        Resource(
            "intents",
            NEGATIVE_INTENT,
            {"name": NEGATIVE_INTENT_ID, "displayName": NEGATIVE_INTENT, "priority": 500000, "isFallback": True},
        )
    )
    return package


def _text(text: str, language: str) -> dict[str, Any]:
    return {"text": {"text": [text]}, "languageCode": language}
