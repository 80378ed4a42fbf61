from __future__ import annotations

import datetime as dt

import pytest
from runtime_agent_builder import AgentBuilder, phrase, say, text

from airflow_provider_cx.emulator.runtime import Engine, MatchType, SessionState, UnknownTargetError, WebhookError

TODAY = dt.date(2024, 3, 10)
DSF = "Default Start Flow"


def booking_agent() -> AgentBuilder:
    b = AgentBuilder()
    b.intent("greet", ["hello", "hi there", "good morning"])
    b.intent(
        "book",
        ["book a flight", "I want to fly", phrase("fly to ", ("Paris", "city"))],
        parameters=[{"id": "city", "entityType": "@sys.geo-city"}],
    )
    b.intent("help", ["help", "I need help"])
    b.intent("yes", ["yes", "sure", "yes please"])
    b.intent("cancel", ["cancel", "stop everything"])
    b.intent("Default Negative Intent", ["what is the weather"])
    b.flow(
        DSF,
        transitionRoutes=[
            {"intent": "greet", "triggerFulfillment": say("Hello!")},
            {"intent": "book", "targetPage": "Collect", "triggerFulfillment": say("Let's book.")},
            {"intent": "help", "triggerFulfillment": say("Flow help.")},
        ],
        eventHandlers=[
            {"event": "sys.no-match-default", "triggerFulfillment": say("Flow no-match.")},
            {"event": "sys.no-input-default", "triggerFulfillment": say("Flow no-input.")},
        ],
        transitionRouteGroups=["Common"],
    )
    b.flow_group(
        DSF, "Common", [{"intent": "cancel", "targetPage": "End Session", "triggerFulfillment": say("Cancelled.")}]
    )
    b.page(
        DSF,
        "Collect",
        form={
            "parameters": [
                {
                    "displayName": "date",
                    "entityType": "@sys.date",
                    "required": True,
                    "fillBehavior": {
                        "initialPromptFulfillment": say("Which date?"),
                        "repromptEventHandlers": [
                            {"event": "sys.no-match-1", "triggerFulfillment": say("Say a date like March 3.")},
                        ],
                    },
                },
                {
                    "displayName": "city",
                    "entityType": "@sys.geo-city",
                    "required": True,
                    "fillBehavior": {"initialPromptFulfillment": say("Which city?")},
                },
                {"displayName": "seats", "entityType": "@sys.number", "required": False, "defaultValue": 1},
            ]
        },
        transitionRoutes=[
            {"intent": "help", "triggerFulfillment": say("Page help.")},
            {
                "condition": '$page.params.status = "FINAL"',
                "targetPage": "Confirm",
                "triggerFulfillment": say("Got it: $session.params.city on $session.params.date."),
            },
        ],
    )
    b.page(
        DSF,
        "Confirm",
        entryFulfillment={
            "messages": [text("Shall I book $session.params.seats seat?")],
            "setParameterActions": [{"parameter": "$flow.confirmations", "value": 1}],
        },
        transitionRoutes=[{"intent": "yes", "targetPage": "End Flow", "triggerFulfillment": say("Booked!")}],
    )
    return b


def run(engine: Engine, state: SessionState, *texts: str, **kwargs):
    return [engine.detect_intent(state, t, **kwargs) for t in texts][-1]


@pytest.fixture
def engine() -> Engine:
    return Engine(booking_agent().build(), today=TODAY)


def test_intent_route_with_fulfillment_and_no_target_stays(engine: Engine) -> None:
    state = SessionState()
    result = engine.detect_intent(state, "Hello")
    assert (result.match_type, result.intent, result.page) == (MatchType.INTENT, "greet", "Start Page")
    assert result.text_responses == ["Hello!"]
    assert result.confidence == 1.0


def test_form_is_prompted_filled_and_final_route_taken(engine: Engine) -> None:
    state = SessionState()
    first = engine.detect_intent(state, "book a flight")
    assert first.page == "Collect"
    assert first.text_responses == ["Let's book.", "Which date?"]
    second = engine.detect_intent(state, "March 12")
    assert second.match_type == MatchType.PARAMETER_FILLING
    assert second.parameters["date"] == {"year": 2024, "month": 3, "day": 12}
    assert second.text_responses == ["Which city?"]
    third = engine.detect_intent(state, "Paris")
    assert third.page == "Confirm"
    assert third.text_responses == ["Got it: Paris on 2024-03-12.", "Shall I book 1 seat?"]
    assert state.flow_params[DSF] == {"confirmations": 1}


def test_intent_parameters_prefill_the_target_form(engine: Engine) -> None:
    state = SessionState()
    result = engine.detect_intent(state, "fly to London")
    assert result.intent_parameters == {"city": "London"}
    assert result.parameters["city"] == "London"
    assert result.text_responses == ["Let's book.", "Which date?"]


def test_parameter_reprompt_handler_then_default_reprompt(engine: Engine) -> None:
    state = SessionState()
    engine.detect_intent(state, "book a flight")
    first = engine.detect_intent(state, "blue elephants")
    assert first.match_type == MatchType.NO_MATCH
    assert first.text_responses == ["Say a date like March 3."]
    second = engine.detect_intent(state, "purple giraffes")
    # no sys.no-match-2 handler on the parameter: the parameter is prompted again
    assert second.text_responses == ["Which date?"]


def test_page_route_beats_flow_route_for_the_same_intent(engine: Engine) -> None:
    state = SessionState()
    assert engine.detect_intent(state, "help").text_responses == ["Flow help."]
    engine.detect_intent(state, "book a flight")
    result = engine.detect_intent(state, "I need help")
    assert result.text_responses == ["Page help.", "Which date?"]


def test_flow_route_group_and_end_session(engine: Engine) -> None:
    state = SessionState()
    engine.detect_intent(state, "book a flight")
    result = engine.detect_intent(state, "cancel")
    assert (result.page, result.end_interaction) == ("End Session", True)
    assert result.text_responses == ["Cancelled."]
    restarted = engine.detect_intent(state, "hello")
    assert restarted.page == "Start Page"
    assert restarted.parameters == {}


def test_no_match_negative_intent_and_no_input(engine: Engine) -> None:
    state = SessionState()
    nonsense = engine.detect_intent(state, "zebra quantum marmalade")
    assert (nonsense.match_type, nonsense.text_responses) == (MatchType.NO_MATCH, ["Flow no-match."])
    negative = engine.detect_intent(state, "what is the weather")
    assert negative.match_type == MatchType.NO_MATCH
    assert negative.intent is None
    silent = engine.detect_intent(state, "")
    assert (silent.match_type, silent.text_responses) == (MatchType.NO_INPUT, ["Flow no-input."])


def test_injected_parameters_fill_the_form(engine: Engine) -> None:
    state = SessionState()
    engine.detect_intent(state, "book a flight")
    result = engine.detect_intent(state, "Paris", parameters={"date": {"year": 2024, "month": 5, "day": 1}})
    assert result.page == "Confirm"


def test_current_page_and_unknown_targets(engine: Engine) -> None:
    state = SessionState()
    result = engine.detect_intent(state, "yes", current_page=(DSF, "Confirm"))
    assert result.page == "End Session"  # END_FLOW in the start flow ends the session
    with pytest.raises(UnknownTargetError, match="Nowhere"):
        engine.detect_intent(SessionState(), "hi", current_page=(DSF, "Nowhere"))


def test_deterministic(engine: Engine) -> None:
    texts = ["hello", "book a flight", "tomorrow", "Berlin", "yes"]
    runs = []
    for _ in range(2):
        state = SessionState()
        runs.append(
            [
                (r.intent, r.page, r.text_responses, r.confidence)
                for r in (engine.detect_intent(state, t) for t in texts)
            ]
        )
    assert runs[0] == runs[1]


def subflow_agent() -> Engine:
    b = AgentBuilder()
    b.intent("order", ["order a pizza"])
    b.intent("done", ["that's all"])
    b.flow(
        DSF,
        transitionRoutes=[
            {"intent": "order", "targetFlow": "Pizza"},
            {
                "condition": "$session.params.ordered = true",
                "triggerFulfillment": say("Back in main."),
                "targetPage": "Main Done",
            },
        ],
    )
    b.page(DSF, "Main Done", entryFulfillment=say("Anything else?"))
    b.flow(
        "Pizza",
        transitionRoutes=[
            {"intent": "order", "targetPage": "Size", "triggerFulfillment": say("Pizza time.")},
        ],
    )
    b.page(
        "Pizza",
        "Size",
        entryFulfillment=say("What size?"),
        transitionRoutes=[
            {
                "intent": "done",
                "targetPage": "End Flow",
                "triggerFulfillment": {"setParameterActions": [{"parameter": "ordered", "value": True}]},
            }
        ],
    )
    return Engine(b.build(), today=TODAY)


def test_flow_transition_replays_intent_on_start_page_and_end_flow_returns() -> None:
    engine, state = subflow_agent(), SessionState()
    entered = engine.detect_intent(state, "order a pizza")
    assert (entered.flow, entered.page) == ("Pizza", "Size")
    assert entered.text_responses == ["Pizza time.", "What size?"]
    back = engine.detect_intent(state, "that's all")
    assert (back.flow, back.page) == (DSF, "Main Done")
    assert back.text_responses == ["Back in main.", "Anything else?"]


def webhook_agent(**page_handlers) -> AgentBuilder:
    b = AgentBuilder()
    b.intent("balance", ["what is my balance"])
    b.webhook("bank", "http://127.0.0.1:9/bank", timeout={"seconds": 2})
    b.flow(DSF, transitionRoutes=[{"intent": "balance", "targetPage": "Balance"}], **page_handlers)
    b.page(
        DSF,
        "Balance",
        entryFulfillment={"messages": [text("Checking.")], "webhook": "bank", "tag": "balance"},
        transitionRoutes=[{"condition": "$session.params.amount != null", "targetPage": "Show"}],
    )
    b.page(DSF, "Show", entryFulfillment=say("You have $session.params.amount dollars."))
    return b


def test_webhook_response_sets_parameters_and_messages() -> None:
    seen = {}

    def caller(webhook, request, timeout):
        seen.update(webhook=webhook["displayName"], request=request, timeout=timeout)
        return {
            "fulfillmentResponse": {"messages": [{"text": {"text": ["From webhook."]}}]},
            "sessionInfo": {"parameters": {"amount": 42}},
        }

    engine, state = Engine(webhook_agent().build(), today=TODAY), SessionState()
    result = engine.detect_intent(state, "what is my balance", webhook_caller=caller)
    assert result.text_responses == ["Checking.", "From webhook.", "You have 42 dollars."]
    assert seen["webhook"] == "bank"
    assert seen["timeout"] == 2
    assert seen["request"]["fulfillmentInfo"] == {"tag": "balance"}
    assert seen["request"]["intentInfo"]["displayName"] == "balance"
    assert result.webhook_statuses[0]["status"] == "OK"


def test_webhook_error_event_and_disabled_webhooks() -> None:
    def failing(webhook, request, timeout):
        raise WebhookError("timeout", "too slow")

    handlers = {
        "eventHandlers": [
            {"event": "webhook.error", "triggerFulfillment": say("Bank is down."), "targetPage": "End Session"}
        ]
    }
    engine = Engine(webhook_agent(**handlers).build(), today=TODAY)
    failed = engine.detect_intent(SessionState(), "what is my balance", webhook_caller=failing)
    assert failed.text_responses == ["Checking.", "Bank is down."]
    assert failed.webhook_statuses[0]["event"] == "webhook.error.timeout"
    disabled = engine.detect_intent(SessionState(), "what is my balance", webhook_caller=failing, disable_webhook=True)
    assert disabled.page == "Balance"
    assert disabled.text_responses == ["Checking."]
    assert disabled.webhook_statuses[0]["status"] == "DISABLED"


def test_conditional_cases_and_language_filter() -> None:
    b = AgentBuilder(supportedLanguageCodes=["pt-br"])
    b.intent("price", ["price"])
    b.flow(
        DSF,
        transitionRoutes=[
            {
                "intent": "price",
                "triggerFulfillment": {
                    "messages": [text("Prices:"), {"text": {"text": ["Preços:"]}, "languageCode": "pt-br"}],
                    "conditionalCases": [
                        {
                            "cases": [
                                {
                                    "condition": '$session.params.tier = "gold"',
                                    "caseContent": [{"message": text("Gold: $5")}],
                                },
                                {"caseContent": [{"message": text("Standard: $10")}]},
                            ]
                        }
                    ],
                },
            }
        ],
    )
    engine = Engine(b.build(), today=TODAY)
    assert engine.detect_intent(SessionState(), "price").text_responses == ["Prices:", "Standard: $10"]
    gold = engine.detect_intent(SessionState(), "price", parameters={"tier": "gold"})
    assert gold.text_responses == ["Prices:", "Gold: $5"]
