"""Conversation repair and dead routes: what happens when a webhook fails, the user says nothing or
something unexpected, or a route fires and does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_provider_cx.package.lint.context import LintContext, Owner, as_dict, as_list, as_str, walk
from airflow_provider_cx.package.lint.findings import INFO, WARNING
from airflow_provider_cx.package.lint.registry import Hit, rule

_WEBHOOK_ERROR = "webhook.error"
_NO_MATCH = "sys.no-match"
_NO_INPUT = "sys.no-input"
_HANDLER_LISTS = ("transitionRoutes", "eventHandlers", "repromptEventHandlers")


def _events(data: Any) -> set[str]:
    return {as_str(node.get("event")) for node, _ in walk(data) if as_str(node.get("event"))}


@rule("webhook-error-handler-missing", WARNING)
def webhook_error_handler_missing(ctx: LintContext) -> Iterator[Hit]:
    """A page (or a flow's start page) calls a webhook, directly or through a route group, but neither
    it nor its flow handles ``webhook.error`` events: a failed call leaves the user without repair.
    """
    for flow in ctx.package.flows:
        owners = ctx.flow_owners(flow)
        flow_events = _events(as_list(owners[0].data.get("eventHandlers")))
        for owner in (o for o in owners if o.kind in ("flow", "page")):
            webhooks = set(ctx.webhook_refs(owner))
            for _, group in ctx.route_group_refs(owner):
                if group is not None:
                    webhooks |= set(ctx.webhook_refs(group))
            if not webhooks:
                continue
            events = _events(owner.data) | flow_events
            if not any(event.startswith(_WEBHOOK_ERROR) for event in events):
                listed = ", ".join(repr(w) for w in sorted(webhooks))
                yield owner.hit(f"calls webhook(s) {listed} but has no webhook.error event handler")


def _form_parameters(owner: Owner) -> list[dict[str, Any]]:
    params = as_list(as_dict(owner.data.get("form")).get("parameters"))
    return [as_dict(p) for p in params if as_dict(p).get("required")]


def _form_handler_missing(ctx: LintContext, prefix: str, label: str) -> Iterator[Hit]:
    for owner in ctx.owners:
        if owner.kind != "page":
            continue
        page_events = _events(as_list(owner.data.get("eventHandlers")))
        for param in _form_parameters(owner):
            events = page_events | _events(as_dict(param.get("fillBehavior")).get("repromptEventHandlers"))
            if not any(event.startswith(prefix) for event in events):
                name = as_str(param.get("displayName"))
                yield owner.hit(f"asks for form parameter {name!r} without a {label} handler on it or the page")


@rule("form-no-match-handler-missing", INFO)
def form_no_match_handler_missing(ctx: LintContext) -> Iterator[Hit]:
    """A required form parameter has no ``sys.no-match`` reprompt handler (on the parameter or the
    page): when the answer is not understood, the user only hears the generic flow-level repair
    instead of a re-prompt for this parameter.
    """
    yield from _form_handler_missing(ctx, _NO_MATCH, "no-match")


@rule("form-no-input-handler-missing", INFO)
def form_no_input_handler_missing(ctx: LintContext) -> Iterator[Hit]:
    """A required form parameter has no ``sys.no-input`` reprompt handler (on the parameter or the
    page): silence gets only the generic flow-level repair instead of a re-prompt for this parameter.
    """
    yield from _form_handler_missing(ctx, _NO_INPUT, "no-input")


def _has_text(message: dict[str, Any]) -> bool:
    return any(isinstance(t, str) and t.strip() for t in as_list(as_dict(message.get("text")).get("text")))


def _fulfillment_acts(fulfillment: dict[str, Any]) -> bool:
    """Whether a fulfillment does anything: says something, calls a webhook, sets or decides something."""
    for message in as_list(fulfillment.get("messages")):
        message = as_dict(message)
        if _has_text(message) or any(key not in ("text", "languageCode", "channel") for key in message):
            return True
    keys = ("webhook", "setParameterActions", "conditionalCases", "generators", "enableGenerativeFallback")
    return any(fulfillment.get(key) for key in keys)


@rule("empty-fulfillment", WARNING)
def empty_fulfillment(ctx: LintContext) -> Iterator[Hit]:
    """A route or handler that fires and does nothing (no response, webhook, parameter, or target),
    so the user's turn is swallowed; or a text response whose every variant is blank, so the agent
    says nothing where a response was written.
    """
    for owner in ctx.owners:
        for node, _ in ctx.nodes(owner):
            for key in _HANDLER_LISTS:
                for handler in as_list(node.get(key)):
                    handler = as_dict(handler)
                    if handler and _is_noop(ctx, handler):
                        trigger = _trigger(handler)
                        yield owner.hit(f"has {trigger} that does nothing: no response, webhook, parameter or target")
        for message in ctx.text_messages(owner):
            if not any(t.strip() for t in message.texts):
                where = f" in the handler of event {message.event!r}" if message.event else ""
                yield owner.hit(f"has an empty text response{where}")


def _is_noop(ctx: LintContext, handler: dict[str, Any]) -> bool:
    if any(handler.get(key) for key in ("targetPage", "targetFlow", "targetPlaybook")):
        return False
    if _fulfillment_acts(as_dict(handler.get("triggerFulfillment"))):
        return False
    intent = ctx.intent(as_str(handler.get("intent"))) if as_str(handler.get("intent")) else None
    # Matching an intent with parameters fills them: the route has an effect after all.
    return not (intent is not None and as_list(intent.data.get("parameters")))


def _trigger(handler: dict[str, Any]) -> str:
    if as_str(handler.get("intent")):
        return f"a route on intent {handler['intent']!r}"
    if as_str(handler.get("event")):
        return f"a handler of event {handler['event']!r}"
    if as_str(handler.get("condition")):
        return f"a route on condition {handler['condition']!r}"
    return "a route"
