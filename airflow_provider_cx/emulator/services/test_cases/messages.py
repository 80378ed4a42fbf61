"""Test cases and test results between the package form (display names) and API protos.

A package test case (``testCases/<name>.json``) names pages, flows and intents by display name:
``"currentPage": {"name": "Shipping", "flow": "Customer Care"}``, ``"triggeredIntent": {"name":
"redirect.shipping.info"}``, ``"testConfig": {"flow": "Default Start Flow", "page": "Start Page"}``.
The API uses resource names there (``Page.name`` plus ``display_name``). The runtime's results use
the package form too, so one pair of functions serves test cases and results alike.

Package-only fields the API has no place for (``currentFlow``) are dropped on the way out and
rebuilt from the page's flow on the way in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.cloud.dialogflowcx_v3.types import test_case as tc_types
from google.protobuf import json_format, timestamp_pb2

from airflow_provider_cx.emulator.convert import References
from airflow_provider_cx.emulator.errors import InvalidArgument
from airflow_provider_cx.emulator.rpc import pb
from airflow_provider_cx.package import Flow

JSON = Any
_TestCase = pb(tc_types.TestCase)
_TestCaseResult = pb(tc_types.TestCaseResult)
ConversationTurn = pb(tc_types.ConversationTurn)
_TestResult = tc_types.TestResult


class CaseRefs:
    """:class:`References` plus the look-ups test cases need (flows by display name, page ids)."""

    def __init__(self, refs: References) -> None:
        self.refs = refs
        self.agent = refs.agent
        self._flows = {f.display_name.strip(): f for f in refs.package.flows}
        self._flows_by_id = {f.id: f for f in refs.package.flows}

    def flow(self, display: str) -> Flow | None:
        return self._flows.get(display.strip())

    # display -> resource name
    def flow_ref(self, display: str) -> str:
        return self.refs.flow_ref(display)

    def page_ref(self, flow_display: str, page_display: str) -> str:
        flow = self.flow(flow_display) if flow_display else None
        return self.refs.page_ref(flow, page_display)

    def intent_ref(self, display: str) -> str:
        return self.refs.intent_ref(display)

    # resource name -> display
    def flow_display(self, name: str) -> str:
        return self.refs.flow_display(name)

    def page_display(self, name: str) -> tuple[str, str]:
        """(flow display, page display) of a page resource name."""
        display = self.refs.page_display(name)
        parts = name.split("/")
        flow_id = parts[parts.index("flows") + 1] if "flows" in parts else ""
        flow = self._flows_by_id.get(flow_id)
        if flow is None and flow_id not in ("", "-") and not flow_id.startswith("unresolved~"):
            raise InvalidArgument(f"flow of page {name} does not exist in agent {self.agent}")
        if flow is None and flow_id.startswith("unresolved~"):
            return self.refs.flow_display(f"{self.agent}/flows/{flow_id}"), display
        return (flow.display_name if flow is not None else ""), display

    def intent_display(self, name: str) -> str:
        return self.refs.intent_display(name)


# --- package -> proto --------------------------------------------------------------------------------
def case_message(data: dict[str, JSON], refs: CaseRefs, full: bool) -> Any:
    """The TestCase proto of a package test case (``full=False``: the BASIC view, no turns)."""
    message = _TestCase(
        name=f"{refs.agent}/testCases/{data.get('name', '')}",
        display_name=str(data.get("displayName", "")),
        notes=str(data.get("notes", "")),
        tags=[str(t) for t in data.get("tags", [])],
    )
    config = data.get("testConfig")
    if isinstance(config, dict):
        message.test_config.CopyFrom(config_message(config, refs))
    if full:
        for turn in data.get("testCaseConversationTurns", []):
            message.test_case_conversation_turns.append(turn_message(turn, refs))
    created = data.get("creationTime")
    if isinstance(created, dict):
        message.creation_time.CopyFrom(timestamp_pb2.Timestamp(**_seconds_nanos(created)))
    elif isinstance(created, str):
        message.creation_time.FromJsonString(created)
    return message


def config_message(config: dict[str, JSON], refs: CaseRefs) -> Any:
    message = pb(tc_types.TestConfig)(tracking_parameters=[str(p) for p in config.get("trackingParameters", [])])
    flow = str(config.get("flow") or "")
    page = str(config.get("page") or "")
    if flow:
        message.flow = refs.flow_ref(flow)
    if page:
        message.page = refs.page_ref(flow or refs.refs.package.start_flow_name, page)
    return message


def turn_message(turn: dict[str, JSON], refs: CaseRefs) -> Any:
    """A ConversationTurn proto from a package (or runtime result) turn.

    Fields are set directly (a test run converts thousands of turns); anything unusual in the user
    input goes through ``json_format``.
    """
    message = ConversationTurn()
    _user_input(message.user_input, turn.get("userInput") or {}, refs)
    output = turn.get("virtualAgentOutput") or {}
    target = message.virtual_agent_output
    if output.get("sessionParameters"):
        target.session_parameters.update(output["sessionParameters"])
    for difference in output.get("differences", []):
        target.differences.add(
            type_=_DIFF_TYPES.get(str(difference.get("type", "")), 0),
            description=str(difference.get("description", "")),
        )
    if output.get("diagnosticInfo"):
        target.diagnostic_info.update(output["diagnosticInfo"])
    intent = output.get("triggeredIntent")
    if isinstance(intent, dict) and intent.get("name"):
        target.triggered_intent.name = refs.intent_ref(str(intent["name"]))
        target.triggered_intent.display_name = str(intent["name"])
    page = output.get("currentPage")
    if isinstance(page, dict) and page.get("name"):
        flow = str(page.get("flow") or (output.get("currentFlow") or {}).get("name") or "")
        target.current_page.name = refs.page_ref(flow, str(page["name"]))
        target.current_page.display_name = str(page["name"])
    for response in output.get("textResponses", []):
        target.text_responses.add().text.extend(str(t) for t in response.get("text", []))
    status = output.get("status")
    if isinstance(status, dict):
        target.status.code = int(status.get("code", 0) or 0)
        target.status.message = str(status.get("message", ""))
    return message


_DIFF_TYPES = {name: value for name, value in pb(tc_types.TestRunDifference).DiffType.items()}
_PLAIN_INPUT = {"text", "event", "dtmf", "languageCode"}


def _user_input(target: Any, user: dict[str, JSON], refs: CaseRefs) -> None:
    query = user.get("input") or {}
    if (
        isinstance(query, dict)
        and set(query) <= _PLAIN_INPUT
        and all(isinstance(v, dict) for k, v in query.items() if k != "languageCode")
    ):
        if "text" in query:
            target.input.text.text = str(query["text"].get("text", ""))
        if "event" in query:
            target.input.event.event = str(query["event"].get("event", ""))
        if "dtmf" in query:
            target.input.dtmf.digits = str(query["dtmf"].get("digits", ""))
            target.input.dtmf.finish_digit = str(query["dtmf"].get("finishDigit", ""))
        if query.get("languageCode"):
            target.input.language_code = str(query["languageCode"])
    elif query:
        if isinstance(query.get("intent"), dict) and query["intent"].get("intent"):
            query = {**query, "intent": {**query["intent"], "intent": refs.intent_ref(str(query["intent"]["intent"]))}}
        try:
            json_format.ParseDict(query, target.input, ignore_unknown_fields=True)
        except json_format.ParseError as err:
            raise InvalidArgument(f"test case turn input is malformed: {err}") from err
    if user.get("injectedParameters"):
        target.injected_parameters.update(user["injectedParameters"])
    target.is_webhook_enabled = bool(user.get("isWebhookEnabled", False))
    target.enable_sentiment_analysis = bool(user.get("enableSentimentAnalysis", False))


def result_message(result: dict[str, JSON], refs: CaseRefs) -> Any:
    """A TestCaseResult proto from a stored result (package-form turns plus name/environment/testTime)."""
    message = _TestCaseResult(
        name=str(result.get("name", "")),
        environment=str(result.get("environment", "")),
        test_result=_TestResult.__members__[str(result.get("testResult", "TEST_RESULT_UNSPECIFIED"))].value,
    )
    for turn in result.get("conversationTurns", []):
        message.conversation_turns.append(turn_message(turn, refs))
    if result.get("testTime") is not None:
        message.test_time.CopyFrom(timestamp_of(float(result["testTime"])))
    return message


def timestamp_of(seconds: float) -> Any:
    whole = int(seconds)
    return timestamp_pb2.Timestamp(seconds=whole, nanos=round((seconds - whole) * 1e9) % 1_000_000_000)


def _seconds_nanos(value: dict[str, JSON]) -> dict[str, int]:
    return {"seconds": int(value.get("seconds", 0) or 0), "nanos": int(value.get("nanos", 0) or 0)}


# --- proto -> package --------------------------------------------------------------------------------
def case_data(message: Any, refs: CaseRefs) -> dict[str, JSON]:
    """The package form of a TestCase proto (no ``name``; creation time and last result left out)."""
    data: dict[str, JSON] = {}
    if message.tags:
        data["tags"] = list(message.tags)
    data["displayName"] = message.display_name
    if message.notes:
        data["notes"] = message.notes
    data["testCaseConversationTurns"] = [turn_data(t, refs) for t in message.test_case_conversation_turns]
    if message.HasField("test_config"):
        data["testConfig"] = config_data(message.test_config, refs)
    return data


def config_data(config: Any, refs: CaseRefs) -> dict[str, JSON]:
    data: dict[str, JSON] = {}
    if config.tracking_parameters:
        data["trackingParameters"] = list(config.tracking_parameters)
    if config.flow:
        data["flow"] = refs.flow_display(config.flow)
    if config.page:
        flow, page = refs.page_display(config.page)
        if flow and "flow" not in data:
            data["flow"] = flow
        data["page"] = page
    return data


def turn_data(turn: Any, refs: CaseRefs) -> dict[str, JSON]:
    """The package form of a ConversationTurn proto."""
    data = json_format.MessageToDict(turn)
    user = data.get("userInput") or {}
    intent = ((user.get("input") or {}).get("intent") or {}).get("intent")
    if intent:
        user["input"]["intent"]["intent"] = refs.intent_display(intent)
    output = data.get("virtualAgentOutput")
    if isinstance(output, dict):
        page = output.get("currentPage")
        if isinstance(page, dict):
            if page.get("name"):
                flow, display = refs.page_display(str(page["name"]))
                output["currentPage"] = {"name": display, "flow": flow} if flow else {"name": display}
            else:
                output["currentPage"] = {"name": str(page.get("displayName", ""))}
        intent_out = output.get("triggeredIntent")
        if isinstance(intent_out, dict):
            name = intent_out.get("displayName") or (
                refs.intent_display(str(intent_out["name"])) if intent_out.get("name") else ""
            )
            output["triggeredIntent"] = {"name": name}
    return data


def creation_time_now() -> dict[str, int]:
    now = dt.datetime.now(dt.UTC).timestamp()
    stamp = timestamp_of(now)
    return {"seconds": stamp.seconds, "nanos": stamp.nanos}
