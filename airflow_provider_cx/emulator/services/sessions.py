"""google.cloud.dialogflow.cx.v3.Sessions: DetectIntent, MatchIntent and FulfillIntent on the runtime.

Sessions are ``…/agents/A/sessions/S`` (the draft agent) or ``…/agents/A/environments/E/sessions/S``
(the flow versions E pins). Each session's state lives in the backend's :class:`Conversations`
(bounded, 30-minute idle TTL); turns of one session run one at a time, turns of different sessions
in parallel on a cached engine (see :mod:`airflow_provider_cx.emulator.conversations`).

Supported inputs: text, event, intent (direct intent) and DTMF digits (matched as text); audio and
tool call results are refused with INVALID_ARGUMENT. Query parameters honoured: ``parameters``,
``current_page``, ``disable_webhook``, ``flow_versions``; webhooks are called over HTTP for real.
"""

from __future__ import annotations

import uuid
import weakref
from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import session as session_types
from google.protobuf import json_format
from google.rpc import status_pb2

from airflow_provider_cx.emulator.conversations import Session, conversations_of
from airflow_provider_cx.emulator.errors import InvalidArgument
from airflow_provider_cx.emulator.names import ResourcePath, parse_any
from airflow_provider_cx.emulator.rpc import Service, pb, rpc
from airflow_provider_cx.emulator.runtime import Engine, RuntimeErrorBase, TurnResult, http_webhook_caller
from airflow_provider_cx.emulator.runtime.state import END_FLOW, END_SESSION, START_PAGE

MAX_SESSION_ID = 36
_SESSION_SHAPES = [("sessions",), ("environments", "sessions")]
_DetectIntentResponse = pb(session_types.DetectIntentResponse)
_QueryResult = pb(session_types.QueryResult)
_Match = pb(session_types.Match)
_MatchType = session_types.Match.MatchType
_FINAL = session_types.DetectIntentResponse.ResponseType.FINAL
_SPECIAL_PAGE_IDS = {START_PAGE: "START_PAGE", END_SESSION: "END_SESSION", END_FLOW: "END_FLOW"}
# webhook.error.* events -> the status code CX reports in QueryResult.webhook_statuses.
_WEBHOOK_CODES = {
    "webhook.error.timeout": grpc.StatusCode.DEADLINE_EXCEEDED,
    "webhook.error.unavailable": grpc.StatusCode.UNAVAILABLE,
    "webhook.error.not-found": grpc.StatusCode.NOT_FOUND,
    "webhook.error.bad-request": grpc.StatusCode.INVALID_ARGUMENT,
}


class SessionsService(Service):
    SERVICE = "google.cloud.dialogflow.cx.v3.Sessions"

    @rpc(session_types.DetectIntentRequest, session_types.DetectIntentResponse)
    def detect_intent(self, request: Any, context: grpc.ServicerContext) -> Any:
        turn = _Request(self.backend, request.session, request.query_params)
        result = turn.run(request.query_input)
        return _DetectIntentResponse(
            response_id=str(uuid.uuid4()),
            query_result=turn.query_result(request.query_input, result),
            response_type=_FINAL,
        )

    @rpc(session_types.MatchIntentRequest, session_types.MatchIntentResponse)
    def match_intent(self, request: Any, context: grpc.ServicerContext) -> Any:
        turn = _Request(self.backend, request.session, request.query_params)
        before = turn.current_page_ref()
        result = turn.run(request.query_input, dry_run=True, persist_parameters=request.persist_parameter_changes)
        response = pb(session_types.MatchIntentResponse)(matches=[turn.match(request.query_input, result)])
        _set_query(response, request.query_input)
        response.current_page.name, response.current_page.display_name = before
        return response

    @rpc(session_types.FulfillIntentRequest, session_types.FulfillIntentResponse)
    def fulfill_intent(self, request: Any, context: grpc.ServicerContext) -> Any:
        matched = request.match_intent_request
        turn = _Request(self.backend, matched.session, matched.query_params)
        query = matched.query_input
        if request.match.HasField("intent") and request.match.intent.name:
            # Fulfil the intent MatchIntent chose, with the parameters it extracted.
            query = pb(session_types.QueryInput)()
            query.CopyFrom(matched.query_input)
            query.intent.intent = request.match.intent.name
            turn.extra_parameters = json_format.MessageToDict(request.match.parameters)
            turn.intent_text = matched.query_input.text.text if matched.query_input.HasField("text") else ""
        result = turn.run(query)
        return pb(session_types.FulfillIntentResponse)(
            response_id=str(uuid.uuid4()), query_result=turn.query_result(matched.query_input, result)
        )


class _Request:
    """One Sessions request: where it goes (agent, environment, session) and how its answer is built."""

    def __init__(self, backend: Any, session_name: str, params: Any) -> None:
        path = _session_path(session_name)
        self.session_name = session_name
        self.agent_name = path.agent_name
        env_id = path.id_of("environments")
        self.environment = f"{path.agent_name}/environments/{env_id}" if env_id else ""
        self.params = params
        self.conversations = conversations_of(backend)
        self.engine = self.conversations.engine(self.agent_name, self.environment, tuple(params.flow_versions))
        self.names = _names_of(self.engine, self.agent_name)
        self.extra_parameters: dict[str, Any] = {}
        self.intent_text = ""

    # --- running the turn ----------------------------------------------------------------------------
    def run(self, query: Any, *, dry_run: bool = False, persist_parameters: bool = False) -> TurnResult:
        kind = query.WhichOneof("input")
        text = event = intent = None
        if kind == "text":
            text = query.text.text
        elif kind == "event":
            event = query.event.event
            if not event:
                raise InvalidArgument("query_input.event.event must name an event")
        elif kind == "intent":
            intent = self.names.intent_display(query.intent.intent)
            text = self.intent_text or None
        elif kind == "dtmf":
            text = query.dtmf.digits + (query.dtmf.finish_digit or "")
        elif kind is None:
            raise InvalidArgument("query_input must set text, intent, event or dtmf")
        else:
            raise InvalidArgument(f"query_input.{kind} is not supported by the emulator; send text, intent or event")
        language = query.language_code
        if not language:
            raise InvalidArgument("query_input.language_code is required")
        parameters = json_format.MessageToDict(self.params.parameters) if self.params.HasField("parameters") else {}
        parameters.update(self.extra_parameters)
        current_page = self.names.page_target(self.params.current_page) if self.params.current_page else None
        session = self.conversations.session(self.session_name)
        with session.lock:
            state = session.state.copy() if dry_run else session.state
            try:
                result = self.engine.detect_intent(
                    state,
                    text,
                    language=language,
                    parameters=parameters or None,
                    current_page=current_page,
                    event=event,
                    intent=intent,
                    disable_webhook=self.params.disable_webhook or dry_run,
                    webhook_caller=http_webhook_caller,
                    session=self.session_name,
                )
            except RuntimeErrorBase as exc:
                raise InvalidArgument(f"session {self.session_name}: {exc}") from exc
            if dry_run and persist_parameters and parameters:
                session.state.params.update(parameters)
        return result

    # --- building the answer ---------------------------------------------------------------------------
    def current_page_ref(self) -> tuple[str, str]:
        session: Session = self.conversations.session(self.session_name)
        with session.lock:
            state = session.state
            flow = state.flow or self.engine.index.start_flow
            page = state.page or START_PAGE
        return self.names.page_ref(flow, page), page

    def query_result(self, query: Any, result: TurnResult) -> Any:
        out = _QueryResult(language_code=result.language)
        _set_query(out, query)
        if result.parameters:
            out.parameters.update(result.parameters)
        for message in result.messages:
            _add_message(out.response_messages.add(), message)
        if result.end_interaction and not any("endInteraction" in m for m in result.messages):
            out.response_messages.add().end_interaction.SetInParent()
        self._webhooks(out, result)
        out.current_page.name = self.names.page_ref(result.flow, result.page)
        out.current_page.display_name = result.page
        out.current_flow.name = self.names.flow_ref(result.flow)
        out.current_flow.display_name = result.flow
        out.match.CopyFrom(self.match(query, result))
        if result.intent:
            out.intent.CopyFrom(out.match.intent)
            out.intent_detection_confidence = result.confidence
        if result.diagnostic_info:
            out.diagnostic_info.update(result.diagnostic_info)
        return out

    def match(self, query: Any, result: TurnResult) -> Any:
        match = _Match(match_type=_MatchType.__members__[result.match_type].value, confidence=result.confidence)
        if query.HasField("text"):
            match.resolved_input = query.text.text
        if result.intent:
            match.intent.name = self.names.intent_ref(result.intent)
            match.intent.display_name = result.intent
        if result.intent_parameters:
            match.parameters.update(result.intent_parameters)
        if result.event:
            match.event = result.event
        elif result.match_type in ("NO_MATCH", "NO_INPUT"):
            match.event = "sys.no-match-default" if result.match_type == "NO_MATCH" else "sys.no-input-default"
        return match

    def _webhooks(self, out: Any, result: TurnResult) -> None:
        for status in result.webhook_statuses:
            if status.get("status") == "DISABLED":
                continue
            code = grpc.StatusCode.OK
            if status.get("status") == "ERROR":
                code = _WEBHOOK_CODES.get(str(status.get("event", "")), grpc.StatusCode.INTERNAL)
            message = str(status.get("message", "")) or f"webhook {status.get('webhook', '')!r}"
            out.webhook_statuses.append(status_pb2.Status(code=code.value[0], message=message))


def _session_path(name: str) -> ResourcePath:
    path = parse_any(name, _SESSION_SHAPES, "session")
    session_id = path.id_of("sessions") or ""
    if len(session_id.encode()) > MAX_SESSION_ID:
        raise InvalidArgument(f"session id {session_id!r} is longer than {MAX_SESSION_ID} characters")
    return path


def _set_query(out: Any, query: Any) -> None:
    kind = query.WhichOneof("input")
    if kind == "text":
        out.text = query.text.text
    elif kind == "intent":
        out.trigger_intent = query.intent.intent
    elif kind == "event":
        out.trigger_event = query.event.event
    elif kind == "dtmf":
        out.dtmf.CopyFrom(query.dtmf)


def _add_message(target: Any, message: dict[str, Any]) -> None:
    text = message.get("text")
    if isinstance(text, dict) and len(message) == 1:
        target.text.text.extend(str(t) for t in text.get("text", []))
        return
    json_format.ParseDict(message, target, ignore_unknown_fields=True)


class _Names:
    """Resource names of one engine's flows, pages, intents and webhooks (display name -> name, and back)."""

    def __init__(self, engine: Engine, agent_name: str) -> None:
        self.agent = agent_name
        index = engine.index
        self.flow_ids = {name: flow.id for name, flow in index.flows.items()}
        self.flows_by_id = {flow.id: name for name, flow in index.flows.items()}
        self.page_ids = {key: page.id for key, page in index.pages.items()}
        self.pages_by_id = dict(index.page_ids)
        self.intent_ids = {i.display_name.strip(): i.id for i in engine.package.intents}
        self.intents_by_id = {i.id: i.display_name.strip() for i in engine.package.intents}

    def flow_ref(self, flow: str) -> str:
        return f"{self.agent}/flows/{self.flow_ids.get(flow.strip(), '-')}"

    def page_ref(self, flow: str, page: str) -> str:
        page_id = _SPECIAL_PAGE_IDS.get(page) or self.page_ids.get((flow.strip(), page.strip()), page)
        return f"{self.flow_ref(flow)}/pages/{page_id}"

    def intent_ref(self, intent: str) -> str:
        return f"{self.agent}/intents/{self.intent_ids.get(intent.strip(), intent)}"

    def intent_display(self, name: str) -> str:
        intent_id = name.rstrip("/").rsplit("/", 1)[-1]
        if "/intents/" not in name or intent_id not in self.intents_by_id:
            raise InvalidArgument(f"intent {name!r} does not exist in agent {self.agent}")
        return self.intents_by_id[intent_id]

    def page_target(self, name: str) -> tuple[str, str | None]:
        """(flow, page) display names of ``QueryParameters.current_page`` (page None = the start page)."""
        parts = name.split("/")
        try:
            flow_id, page_id = parts[parts.index("flows") + 1], parts[parts.index("pages") + 1]
        except (ValueError, IndexError) as exc:
            raise InvalidArgument(f"current_page {name!r} is not a page name (…/flows/<flow>/pages/<page>)") from exc
        flow = self.flows_by_id.get(flow_id)
        if flow is None:
            raise InvalidArgument(f"current_page {name}: flow {flow_id} does not exist in agent {self.agent}")
        if page_id == "START_PAGE":
            return flow, None
        found = self.pages_by_id.get(page_id)
        if found is None or found[0] != flow:
            raise InvalidArgument(f"current_page {name}: page {page_id} does not exist in flow {flow!r}")
        return flow, found[1]


_NAMES: weakref.WeakKeyDictionary[Engine, _Names] = weakref.WeakKeyDictionary()


def _names_of(engine: Engine, agent_name: str) -> _Names:
    names = _NAMES.get(engine)
    if names is None or names.agent != agent_name:
        names = _NAMES[engine] = _Names(engine, agent_name)
    return names


SERVICES = [SessionsService]
