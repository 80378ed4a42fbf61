"""The conversation engine: one DetectIntent turn over an agent package, as CX runs it.

Page lifecycle (CX "page" and "state handler" docs): on entering a page its entry fulfillment runs,
its form is prefilled from session parameters of the same name, its condition routes are evaluated,
and if nothing transitions the first unfilled required form parameter is prompted.

Handler scope and precedence used here:

- Intent routes in scope, in order: the page's routes, the page's route groups, the flow's routes,
  the flow's route groups (flow intent routes are in scope on every page of the flow).
- Condition routes in scope: the page's, then its route groups'; on a flow's start page, the flow's
  and the flow's route groups'. Each is evaluated once per pass, in order; a route whose condition holds
  is called (fulfillment, then transition); a route without a target lets evaluation continue.
- End-user text: the best in-scope intent (see :mod:`matcher`) and the form compete. An input that
  just answers the prompt (mentions of the prompted parameter's type hold 80% of the letters of its
  content words) fills the form unless it is a training phrase word for word; otherwise a matched
  intent wins, and form parameters the input mentions are filled only when no intent matched.
  Intent parameters become session parameters. Neither → ``sys.no-match-N`` /
  ``sys.no-match-default``; no text → ``sys.no-input-*``.
- Event handlers are looked up in the prompted parameter's reprompt handlers, then the page, then the
  flow; within a scope the numbered event (``sys.no-match-2``) before the default one. After a
  parameter's reprompt handler the parameter prompt is not repeated.
- Entering a flow through an intent route lets the new flow's start page intent routes handle the same
  intent. END_FLOW returns to the page that entered the flow and re-evaluates its condition routes; in
  the start flow it ends the session. END_SESSION ends the interaction; the next turn starts over.
- Fulfillment: parameter presets, then messages (only those in the turn's language), then
  conditional cases, then the webhook. A failing webhook raises ``webhook.error.*``; if nothing
  handles it the turn goes on with the static messages.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow_provider_cx.emulator.runtime import expressions, templates
from airflow_provider_cx.emulator.runtime.entities import STOPWORDS, best_match, non_overlapping, word_spans
from airflow_provider_cx.emulator.runtime.index import AgentIndex
from airflow_provider_cx.emulator.runtime.matcher import IntentMatch, Utterance, extract_intent_parameters, match_intent
from airflow_provider_cx.emulator.runtime.state import (
    END_FLOW,
    END_SESSION,
    START_PAGE,
    MatchType,
    ResponseText,
    SessionState,
    TransitionLoopError,
    TurnResult,
    UnknownTargetError,
    param_of,
    set_param_in,
)
from airflow_provider_cx.emulator.runtime.webhook import WebhookCaller, WebhookError, timeout_of
from airflow_provider_cx.package.model import AgentPackage, Flow, Resource

ANSWER_COVERAGE = 0.8
MAX_TRANSITIONS = 64
_PROMPTED_ONLY = {"@sys.any"}


class Engine:
    """Runs conversations over one agent package; build once per package version and reuse.

    ``flow_snapshots`` maps flow display names to the :class:`Flow` objects an environment pins;
    ``today`` fixes the reference date for relative dates (default: today in the agent's time zone).
    """

    def __init__(
        self,
        package: AgentPackage,
        flow_snapshots: dict[str, Flow] | None = None,
        *,
        today: dt.date | None = None,
    ) -> None:
        self.package = package
        self.index = AgentIndex(package, flow_snapshots)
        self._today = today

    def today(self) -> dt.date:
        if self._today is not None:
            return self._today
        try:
            zone = ZoneInfo(str(self.package.agent.get("timeZone") or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        return dt.datetime.now(zone).date()

    def detect_intent(
        self,
        state: SessionState,
        text: str | None,
        *,
        language: str | None = None,
        parameters: dict[str, Any] | None = None,
        current_page: tuple[str, str | None] | None = None,
        event: str | None = None,
        intent: str | None = None,
        disable_webhook: bool = False,
        webhook_caller: WebhookCaller | None = None,
        session: str = "",
    ) -> TurnResult:
        """Run one turn: text, an event, or a direct intent; ``state`` is updated in place."""
        turn = _Turn(self, state, language or self.package.default_language, disable_webhook, webhook_caller, session)
        return turn.run(text, parameters=parameters, current_page=current_page, event=event, intent=intent)


class _Turn:
    """The work of one turn; holds what the turn produced until it is turned into a TurnResult."""

    def __init__(
        self,
        engine: Engine,
        state: SessionState,
        language: str,
        disable_webhook: bool,
        webhook_caller: WebhookCaller | None,
        session: str,
    ) -> None:
        self.engine = engine
        self.index = engine.index
        self.state = state
        self.language = language
        self.webhooks_enabled = not disable_webhook
        self.webhook_caller = webhook_caller
        self.session = session
        self.texts: list[ResponseText] = []
        self.messages: list[dict[str, Any]] = []
        self.webhook_statuses: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.trace: list[str] = []
        self.match_type = MatchType.NO_MATCH
        self.intent: IntentMatch | None = None
        self.intent_consumed = False
        self.hops = 0
        self.reprompted = False
        self.end_interaction = False
        self.text = ""
        self.event: str | None = None

    # --- entry point ---------------------------------------------------------------------------
    def run(
        self,
        text: str | None,
        *,
        parameters: dict[str, Any] | None,
        current_page: tuple[str, str | None] | None,
        event: str | None,
        intent: str | None,
    ) -> TurnResult:
        state = self.state
        if state.ended:
            state.reset()
        if current_page is not None:
            self._jump(current_page)
        if state.flow is None:
            state.flow = self.index.start_flow
            state.page = None
        if parameters:
            for name, value in parameters.items():
                self.set_param(name, value)
        state.turn_count += 1
        self.text = text or ""
        try:
            if intent:
                self.handle_direct_intent(intent)
            elif event:
                self.match_type = MatchType.EVENT
                self.event = event
                self.fire_event(event)
            elif text is None or not text.strip():
                self.match_type = MatchType.NO_INPUT
                state.no_input_count += 1
                self.fire_event("sys.no-input")
            else:
                self.handle_text(text)
        except TransitionLoopError as exc:
            self.errors.append(str(exc))
        return self.result()

    def _jump(self, current_page: tuple[str, str | None]) -> None:
        flow, page = current_page
        if self.index.flow(flow) is None:
            raise UnknownTargetError(f"flow {flow!r} does not exist in agent {self.engine.package.display_name!r}")
        if page and page != START_PAGE and self.index.page(flow, page) is None:
            raise UnknownTargetError(f"page {page!r} does not exist in flow {flow!r}")
        self.state.flow = self.index.flow(flow).display_name.strip()  # type: ignore[union-attr]
        self.state.page = None if not page or page == START_PAGE else page.strip()
        self.state.prompted_param = self._first_unfilled()

    # --- where we are --------------------------------------------------------------------------
    @property
    def flow(self) -> Flow:
        flow = self.index.flow(self.state.flow or self.index.start_flow)
        if flow is None:
            raise UnknownTargetError(f"flow {self.state.flow!r} does not exist")
        return flow

    @property
    def page(self) -> Resource | None:
        """The current page, or None on the flow's start page."""
        if self.state.page is None or self.state.page == END_SESSION:
            return None
        return self.index.page(self.state.flow or "", self.state.page)

    def groups(self, owner: dict[str, Any]) -> list[Resource]:
        out = []
        for name in owner.get("transitionRouteGroups", []):
            group = self.index.route_group(self.state.flow or "", str(name))
            if group is None:
                self.errors.append(f"route group {name!r} not found")
            else:
                out.append(group)
        return out

    def _handler_sources(self) -> list[dict[str, Any]]:
        """Page (or start page) first, then its route groups; flow sources follow for intents."""
        page = self.page
        if page is None:
            return [self.flow.data, *[g.data for g in self.groups(self.flow.data)]]
        return [page.data, *[g.data for g in self.groups(page.data)]]

    def intent_routes(self) -> list[dict[str, Any]]:
        sources = self._handler_sources()
        if self.page is not None:
            sources += [self.flow.data, *[g.data for g in self.groups(self.flow.data)]]
        return [r for src in sources for r in src.get("transitionRoutes", []) if r.get("intent")]

    def condition_routes(self) -> list[dict[str, Any]]:
        return [r for src in self._handler_sources() for r in src.get("transitionRoutes", []) if not r.get("intent")]

    # --- parameters ----------------------------------------------------------------------------
    def resolve(self, path: str) -> Any:
        parts = path.lstrip("$").split(".")
        head = parts[0]
        if head == "session" and len(parts) >= 3 and parts[1] == "params":
            return _dig(param_of(self.state.params, parts[2]), parts[3:])
        if head == "page" and len(parts) >= 3 and parts[1] == "params":
            if parts[2] == "status":
                return "FINAL" if self._form_complete() else None
            if parts[2].casefold() in {n.casefold() for n in self._form_names()}:
                return _dig(param_of(self.state.params, parts[2]), parts[3:])
            return None
        if head == "flow" and len(parts) >= 2:
            return _dig(param_of(self.state.flow_params.get(self.state.flow or "", {}), parts[1]), parts[2:])
        if head == "intent":
            return self._resolve_intent(parts[1:])
        if head == "request" and len(parts) >= 2:
            return {"language": self.language, "language-code": self.language}.get(parts[1])
        return None

    def _resolve_intent(self, parts: list[str]) -> Any:
        if self.intent is None or not parts:
            return None
        if parts[0] in ("display_name", "displayName", "name"):
            return self.intent.intent
        if parts[0] == "params" and len(parts) >= 2:
            if len(parts) >= 3 and parts[2] in ("original", "originalValue"):
                return param_of(self.intent.originals, parts[1])
            return param_of(self.intent.parameters, parts[1])
        return None

    def set_param(self, name: str, value: Any) -> None:
        name = name.strip()
        if name.startswith("$flow."):
            bucket = self.state.flow_params.setdefault(self.state.flow or "", {})
            key = name[len("$flow.") :]
        else:
            bucket = self.state.params
            key = name.removeprefix("$session.params.").removeprefix("$page.params.")
        if key.startswith("$"):
            self.errors.append(f"cannot set parameter {name!r}")
            return
        set_param_in(bucket, key, value)

    def _form_params(self) -> list[dict[str, Any]]:
        page = self.page
        return list((page.data.get("form") or {}).get("parameters", [])) if page is not None else []

    def _form_names(self) -> set[str]:
        return {str(p.get("displayName", "")).strip() for p in self._form_params()}

    def _is_filled(self, name: str) -> bool:
        return param_of(self.state.params, name) is not None

    def _first_unfilled(self) -> str | None:
        for param in self._form_params():
            name = str(param.get("displayName", "")).strip()
            if param.get("required") and not self._is_filled(name):
                return name
        return None

    def _form_complete(self) -> bool:
        return self._first_unfilled() is None

    def _prefill(self) -> None:
        for param in self._form_params():
            name = str(param.get("displayName", "")).strip()
            if not self._is_filled(name) and param.get("defaultValue") is not None:
                self.set_param(name, param["defaultValue"])

    # --- input handling ------------------------------------------------------------------------
    def handle_text(self, text: str) -> None:
        utterance = Utterance(self.index, self.language, text, self.engine.today())
        routes = [r for r in self.intent_routes() if self._condition(r.get("condition", ""))]
        threshold = self.index.threshold(self.state.flow or "")
        match = self.index.remembered_match(
            (self.language, text, utterance.today, threshold, tuple(str(r["intent"]) for r in routes)),
            lambda: match_intent(utterance, [str(r["intent"]) for r in routes], threshold),
        )
        if match is not None and match.negative:
            match = None
        fills, answered = self.extract_form(utterance)
        if match is not None and (match.exact or not answered):
            self.state.no_match_count = 0
            self.match_type = MatchType.INTENT
            self.take_intent(match, routes)
        elif fills:
            self.state.no_match_count = 0
            self.match_type = MatchType.PARAMETER_FILLING
            for name, value in fills.items():
                self.set_param(name, value)
            self.trace.append(f"filled {', '.join(fills)}")
            if not self.condition_pass():
                self.prompt()
        else:
            self.match_type = MatchType.NO_MATCH
            self.state.no_match_count += 1
            self.fire_event("sys.no-match")

    def handle_direct_intent(self, name: str) -> None:
        routes = [r for r in self.intent_routes() if self._condition(r.get("condition", ""))]
        info = self.index.intents(self.language).get(name.strip())
        if info is None:
            raise UnknownTargetError(f"intent {name!r} does not exist in agent {self.engine.package.display_name!r}")
        match = IntentMatch(info.display_name, 1.0, exact=True)
        if self.text:
            extract_intent_parameters(Utterance(self.index, self.language, self.text, self.engine.today()), info, match)
        self.match_type = MatchType.DIRECT_INTENT
        self.take_intent(match, routes)

    def take_intent(self, match: IntentMatch, routes: list[dict[str, Any]]) -> None:
        self.intent = match
        for name, value in match.parameters.items():
            self.set_param(name, value)
        route = next((r for r in routes if str(r["intent"]).strip() == match.intent.strip()), None)
        if route is None:
            self.fire_event("sys.no-match")
            return
        self.trace.append(f"intent route {match.intent.strip()}")
        if self.call_handler(route):
            return
        if not self.condition_pass():
            self.prompt()

    def extract_form(self, utterance: Utterance) -> tuple[dict[str, Any], bool]:
        """Form parameters the utterance fills (the prompted one, plus others of distinct, specific types),
        and whether the utterance is just an answer to the prompt: a mention of the prompted parameter's
        (specific) entity type covering nearly all of it."""
        page = self.page
        if page is None:
            return {}, False
        answered = False
        prompted = self.state.prompted_param or self._first_unfilled()
        fills: dict[str, Any] = {}
        taken: list[tuple[int, int]] = []
        params = sorted(self._form_params(), key=lambda p: str(p.get("displayName", "")).strip() != prompted)
        prompted_type = None
        for param in params:
            name = str(param.get("displayName", "")).strip()
            entity_type = "@" + str(param.get("entityType", "")).lstrip("@")
            is_prompted = name == prompted
            if is_prompted:
                prompted_type = entity_type
            elif self._is_filled(name) or entity_type in _PROMPTED_ONLY or entity_type == prompted_type:
                continue
            mentions = [
                m
                for m in utterance.mentions(entity_type, prompted=is_prompted)
                if all(m.end <= s or m.start >= e for s, e in taken)
            ]
            if not mentions:
                continue
            if param.get("isList"):
                kept = non_overlapping(mentions)
                fills[name] = [m.value for m in kept]
                taken.extend((m.start, m.end) for m in kept)
            else:
                chosen = best_match(mentions)
                if chosen is not None:
                    fills[name] = chosen.value
                    taken.append((chosen.start, chosen.end))
            if is_prompted and entity_type not in _PROMPTED_ONLY:
                answered = _covers_content(utterance.text, taken)
        return fills, answered

    # --- handlers ------------------------------------------------------------------------------
    def _condition(self, condition: str) -> bool:
        if not condition:
            return True
        try:
            return expressions.check(condition, self.resolve)
        except (expressions.ConditionError, ValueError) as exc:
            self.errors.append(f"condition {condition!r}: {exc}")
            return False

    def condition_pass(self) -> bool:
        """Evaluate the condition routes in scope once; True if one transitioned."""
        for route in self.condition_routes():
            condition = str(route.get("condition", "")).strip()
            if not condition:
                continue
            if self._condition(condition):
                self.trace.append(f"condition route {condition}")
                if self.call_handler(route):
                    return True
        return False

    def call_handler(self, handler: dict[str, Any]) -> bool:
        """Run a handler's fulfillment and follow its target; True if the session moved."""
        if self.run_fulfillment(handler.get("triggerFulfillment")):
            return True
        target_flow = handler.get("targetFlow")
        target_page = handler.get("targetPage")
        if target_flow or target_page:
            self.transition(target_page, target_flow)
            return True
        return False

    def fire_event(self, event: str) -> bool:
        """Call the handler of ``event`` in scope (parameter, page, flow); True if it moved the session."""
        names = self._event_names(event)
        scopes: list[tuple[str, list[dict[str, Any]]]] = []
        reprompt = event in ("sys.no-match", "sys.no-input")
        param = self._prompted_param() if reprompt else None
        if param is not None:
            scopes.append(("parameter", (param.get("fillBehavior") or {}).get("repromptEventHandlers", [])))
        elif self.page is not None:
            scopes.append(("page", self.page.data.get("eventHandlers", [])))
        if param is None:
            scopes.append(("flow", self.flow.data.get("eventHandlers", [])))
        elif self.page is not None:
            scopes.append(("page", self.page.data.get("eventHandlers", [])))
        for scope, handlers in scopes:
            for name in names:
                handler = next((h for h in handlers if str(h.get("event", "")).strip() == name), None)
                if handler is None:
                    continue
                self.trace.append(f"{scope} event handler {name}")
                if scope == "parameter":
                    self.reprompted = True
                if self.call_handler(handler):
                    return True
                if event in ("sys.no-match", "sys.no-input"):
                    self.prompt()
                return False
        if event in ("sys.no-match", "sys.no-input"):
            self.prompt()
        return False

    def _prompted_param(self) -> dict[str, Any] | None:
        if self.page is None or not self.state.prompted_param:
            return None
        return next(
            (p for p in self._form_params() if str(p.get("displayName", "")).strip() == self.state.prompted_param),
            None,
        )

    def _event_names(self, event: str) -> list[str]:
        if event == "sys.no-match":
            return [f"sys.no-match-{self.state.no_match_count}", "sys.no-match-default"]
        if event == "sys.no-input":
            return [f"sys.no-input-{self.state.no_input_count}", "sys.no-input-default"]
        if event.startswith("webhook.error.") or event == "webhook.error":
            return list(dict.fromkeys([event, "webhook.error"]))
        return [event]

    def prompt(self) -> None:
        """Prompt for the first unfilled required form parameter (unless a reprompt handler just spoke)."""
        name = self._first_unfilled()
        self.state.prompted_param = name
        if name is None or self.reprompted:
            return
        param = next(p for p in self._form_params() if str(p.get("displayName", "")).strip() == name)
        self.run_fulfillment((param.get("fillBehavior") or {}).get("initialPromptFulfillment"))

    # --- transitions ---------------------------------------------------------------------------
    def transition(self, target_page: str | None, target_flow: str | None) -> None:
        self.hops += 1
        if self.hops > MAX_TRANSITIONS:
            raise TransitionLoopError(f"more than {MAX_TRANSITIONS} transitions in one turn (at {self.state.page!r})")
        if target_flow:
            self.enter_flow(str(target_flow))
            return
        name = str(target_page or "").strip()
        self.trace.append(f"-> {name}")
        if name == END_SESSION:
            self.end_session()
        elif name == END_FLOW:
            self.end_flow()
        elif name == START_PAGE and self.index.page(self.state.flow or "", name) is None:
            self.enter_page(None)
        elif name == "Current Page":
            self.enter_page(self.state.page)
        elif name == "Previous Page" and self.state.previous_page is not None:
            flow, page = self.state.previous_page
            self.state.flow = flow
            self.enter_page(page)
        elif self.index.page(self.state.flow or "", name) is None:
            self.errors.append(f"target page {name!r} does not exist in flow {self.state.flow!r}")
        else:
            self.enter_page(name)

    def enter_page(self, name: str | None) -> None:
        state = self.state
        state.previous_page = (state.flow or "", state.page)
        state.page = name
        state.prompted_param = None
        state.no_match_count = 0
        state.no_input_count = 0
        self.reprompted = False
        page = self.page
        if page is None:
            self.evaluate_start_page(entering=False)
            return
        if self.run_fulfillment(page.data.get("entryFulfillment")):
            return
        self._prefill()
        if self.condition_pass():
            return
        self.prompt()

    def enter_flow(self, name: str) -> None:
        flow = self.index.flow(name)
        if flow is None:
            self.errors.append(f"target flow {name!r} does not exist")
            return
        self.trace.append(f"-> flow {flow.display_name.strip()}")
        self.state.flow_stack.append((self.state.flow or "", self.state.page))
        self.state.previous_page = (self.state.flow or "", self.state.page)
        self.state.flow = flow.display_name.strip()
        self.state.page = None
        self.state.prompted_param = None
        self.evaluate_start_page(entering=True)

    def evaluate_start_page(self, entering: bool) -> None:
        if entering and self.intent is not None and not self.intent_consumed:
            self.intent_consumed = True
            for route in self.intent_routes():
                same = str(route["intent"]).strip() == self.intent.intent.strip()
                if same and self._condition(route.get("condition", "")):
                    self.trace.append(f"flow start intent route {self.intent.intent.strip()}")
                    if self.call_handler(route):
                        return
                    break
        self.condition_pass()

    def end_flow(self) -> None:
        if not self.state.flow_stack:
            self.end_session()
            return
        flow, page = self.state.flow_stack.pop()
        self.trace.append(f"<- {flow}/{page or START_PAGE}")
        self.state.flow = flow
        self.state.page = page
        self.state.prompted_param = None
        self.reprompted = False
        if self.condition_pass():
            return
        self.prompt()

    def end_session(self) -> None:
        self.state.page = END_SESSION
        self.state.ended = True
        self.state.prompted_param = None
        self.end_interaction = True

    # --- fulfillment ---------------------------------------------------------------------------
    def run_fulfillment(self, fulfillment: dict[str, Any] | None) -> bool:
        """Presets, messages, conditional cases, webhook; True if the webhook moved the session."""
        if not fulfillment:
            return False
        for action in fulfillment.get("setParameterActions", []):
            value = templates.resolve_value(action.get("value"), self.resolve, self.errors)
            self.set_param(str(action.get("parameter", "")), value)
        self.emit(fulfillment.get("messages", []))
        for block in fulfillment.get("conditionalCases", []):
            self.run_cases(block.get("cases", []))
        if fulfillment.get("webhook"):
            return self.call_webhook(str(fulfillment["webhook"]), fulfillment.get("tag"))
        return False

    def run_cases(self, cases: list[dict[str, Any]]) -> None:
        for case in cases:
            if not self._condition(str(case.get("condition", "")).strip()):
                continue
            for content in case.get("caseContent", []):
                if "message" in content:
                    self.emit([content["message"]])
                elif "additionalCases" in content:
                    self.run_cases(content["additionalCases"].get("cases", []))
            return

    def emit(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            lang = message.get("languageCode")
            if (lang and lang.lower() != self.language.lower()) or message.get("channel"):
                continue
            if "text" in message:
                variants = [templates.render(v, self.resolve, self.errors) for v in message["text"].get("text", [])]
                if variants:
                    self.texts.append(ResponseText(variants[0], variants))
                    self.messages.append({"text": {"text": [variants[0]]}})
                continue
            if "endInteraction" in message:
                self.end_interaction = True
            body = {k: v for k, v in message.items() if k != "languageCode"}
            self.messages.append(copy.deepcopy(body))

    def call_webhook(self, name: str, tag: str | None) -> bool:
        status: dict[str, Any] = {"webhook": name, "tag": tag or ""}
        self.webhook_statuses.append(status)
        if not self.webhooks_enabled:
            status["status"] = "DISABLED"
            return False
        webhook = self.index.webhooks.get(name.strip())
        try:
            if webhook is None:
                raise WebhookError("not-found", f"webhook {name!r} does not exist")
            if self.webhook_caller is None:
                raise WebhookError("unavailable", "no webhook caller is configured")
            response = self.webhook_caller(webhook.data, self.webhook_request(tag), timeout_of(webhook.data))
        except WebhookError as exc:
            status.update(status="ERROR", event=exc.event, message=str(exc))
            self.errors.append(str(exc))
            return self.fire_event(exc.event)
        status["status"] = "OK"
        return self.apply_webhook_response(response)

    def webhook_request(self, tag: str | None) -> dict[str, Any]:
        """A WebhookRequest in proto JSON (display names stand in for resource names)."""
        page = self.page
        form = [
            {
                "displayName": str(p.get("displayName", "")).strip(),
                "required": bool(p.get("required")),
                "state": "FILLED" if self._is_filled(str(p.get("displayName", "")).strip()) else "EMPTY",
                "value": param_of(self.state.params, str(p.get("displayName", "")).strip()),
            }
            for p in self._form_params()
        ]
        request: dict[str, Any] = {
            "detectIntentResponseId": str(uuid.uuid4()),
            "languageCode": self.language,
            "fulfillmentInfo": {"tag": tag or ""},
            "pageInfo": {
                "currentPage": page.id if page is not None else START_PAGE,
                "displayName": page.display_name if page is not None else START_PAGE,
                "formInfo": {"parameterInfo": form},
            },
            "sessionInfo": {"session": self.session, "parameters": copy.deepcopy(self.state.params)},
            "messages": [copy.deepcopy(m) for m in self.messages],
        }
        if self.text:
            request["text"] = self.text
        if self.intent is not None:
            request["intentInfo"] = {
                "lastMatchedIntent": self.intent.intent,
                "displayName": self.intent.intent,
                "confidence": self.intent.confidence,
                "parameters": {
                    k: {"originalValue": self.intent.originals.get(k, ""), "resolvedValue": v}
                    for k, v in self.intent.parameters.items()
                },
            }
        return request

    def apply_webhook_response(self, response: dict[str, Any]) -> bool:
        fulfillment = response.get("fulfillmentResponse") or {}
        if fulfillment.get("mergeBehavior") == "REPLACE":
            self.texts.clear()
            self.messages.clear()
        self.emit(fulfillment.get("messages", []))
        for name, value in ((response.get("sessionInfo") or {}).get("parameters") or {}).items():
            self.set_param(name, value)
        form_info = (response.get("pageInfo") or {}).get("formInfo") or {}
        for info in form_info.get("parameterInfo", []):
            if "value" in info and info.get("displayName"):
                self.set_param(str(info["displayName"]), info["value"])
        target_page, target_flow = response.get("targetPage"), response.get("targetFlow")
        if target_flow:
            self.transition(None, self._flow_name(str(target_flow)))
            return True
        if target_page:
            self.transition(self._page_name(str(target_page)), None)
            return True
        return False

    def _page_name(self, reference: str) -> str:
        last = reference.rstrip("/").rsplit("/", 1)[-1]
        special = {"END_SESSION": END_SESSION, "END_FLOW": END_FLOW, "START_PAGE": START_PAGE}
        if last in special:
            return special[last]
        if last in self.index.page_ids:
            return self.index.page_ids[last][1]
        return last

    def _flow_name(self, reference: str) -> str:
        last = reference.rstrip("/").rsplit("/", 1)[-1]
        for name, flow in self.index.flows.items():
            if flow.id == last:
                return name
        return last

    # --- result --------------------------------------------------------------------------------
    def result(self) -> TurnResult:
        state = self.state
        page_name = START_PAGE if state.page is None else state.page
        intent_name = self.intent.intent if self.intent is not None else None
        confidence = self.intent.confidence if self.intent is not None else 0.0
        if self.match_type == MatchType.PARAMETER_FILLING:
            confidence = 1.0
        diagnostic: dict[str, Any] = {"Execution Sequence": list(self.trace)}
        if self.errors:
            diagnostic["Errors"] = list(self.errors)
        return TurnResult(
            match_type=self.match_type,
            intent=intent_name,
            confidence=confidence,
            flow=state.flow or self.index.start_flow,
            page=page_name,
            parameters=copy.deepcopy(state.params),
            messages=list(self.messages),
            texts=list(self.texts),
            end_interaction=self.end_interaction,
            webhook_statuses=list(self.webhook_statuses),
            diagnostic_info=diagnostic,
            intent_parameters=dict(self.intent.parameters) if self.intent is not None else {},
            language=self.language,
            event=self.event,
        )


def _covers_content(text: str, spans: list[tuple[int, int]]) -> bool:
    """Whether ``spans`` (mentions) hold nearly all the letters of the text's content words."""
    words = word_spans(text)
    if any(word not in STOPWORDS for _s, _e, word in words):
        words = tuple(w for w in words if w[2] not in STOPWORDS)  # "A" alone is content, "the A" is not
    total = covered = 0
    for start, end, _word in words:
        total += end - start
        if any(s <= start and end <= e for s, e in spans):
            covered += end - start
    return total > 0 and covered >= ANSWER_COVERAGE * total


def _dig(value: Any, path: list[str]) -> Any:
    for key in path:
        if isinstance(value, dict):
            value = value.get(key)
        else:
            return None
    return value


def new_session_state() -> SessionState:
    return SessionState()
