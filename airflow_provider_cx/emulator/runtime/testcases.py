"""Replaying test cases and comparing each turn with the recorded virtual agent output.

What is compared, following the TestCase API:

- INTENT: ``triggeredIntent.name`` when the expected turn names one (display names, whitespace-trimmed).
- PAGE: ``currentPage.name``; FLOW: ``currentPage.flow`` or ``currentFlow.name``, when expected.
- PARAMETERS: only the session parameters listed in ``testConfig.trackingParameters`` ("session
  parameters to be compared when calculating differences"); others are not compared.
- UTTERANCE: the expected ``textResponses``, in order, against the texts the agent sent. CX picks one
  variant of a multi-variant text message at random, so an expected text matches a sent message if it
  equals any variant of it. Texts are compared after collapsing runs of whitespace and trimming.

A user turn sends ``injectedParameters`` as query parameters and, when ``isWebhookEnabled`` is false,
disables webhooks for that turn. ``testConfig.flow``/``page`` choose the starting point (default: the
start flow's start page). Results use display names where the API has resource names.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow_provider_cx.emulator.runtime.engine import Engine
from airflow_provider_cx.emulator.runtime.state import START_PAGE, SessionState, TurnResult, param_of
from airflow_provider_cx.emulator.runtime.values import equal
from airflow_provider_cx.emulator.runtime.webhook import WebhookCaller
from airflow_provider_cx.package.model import AgentPackage, Flow

PASSED = "PASSED"
FAILED = "FAILED"


def run_test_case(
    package: AgentPackage | Engine,
    test_case_data: dict[str, Any],
    *,
    flow_snapshots: dict[str, Flow] | None = None,
    webhook_caller: WebhookCaller | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Replay one test case (package-format JSON); return a TestCaseResult-shaped dict.

    Pass an :class:`Engine` instead of a package to reuse its precomputed indexes across many runs.
    """
    engine = package if isinstance(package, Engine) else Engine(package, flow_snapshots, today=today)
    config = test_case_data.get("testConfig") or {}
    tracked = [str(name) for name in config.get("trackingParameters", [])]
    state = SessionState()
    start_flow = config.get("flow") or None
    start_page = config.get("page") or None
    if start_flow or start_page:
        flow = str(start_flow or engine.index.start_flow)
        state.flow = flow
        state.page = None if not start_page or start_page == START_PAGE else str(start_page)
    turns_out: list[dict[str, Any]] = []
    failed = False
    for turn in test_case_data.get("testCaseConversationTurns", []):
        user = turn.get("userInput") or {}
        expected = turn.get("virtualAgentOutput") or {}
        result = _replay(engine, state, user, webhook_caller)
        differences = compare_turn(expected, result, tracked)
        failed = failed or bool(differences)
        turns_out.append({"userInput": user, "virtualAgentOutput": agent_output(result, differences)})
    return {
        "testCase": test_case_data.get("displayName", ""),
        "conversationTurns": turns_out,
        "testResult": FAILED if failed else PASSED,
    }


def _replay(engine: Engine, state: SessionState, user: dict[str, Any], caller: WebhookCaller | None) -> TurnResult:
    query = user.get("input") or {}
    text = (query.get("text") or {}).get("text")
    event = (query.get("event") or {}).get("event")
    intent = (query.get("intent") or {}).get("intent")
    if "dtmf" in query:
        text = str((query.get("dtmf") or {}).get("digits", ""))
    return engine.detect_intent(
        state,
        text,
        language=query.get("languageCode") or None,
        parameters=user.get("injectedParameters") or None,
        event=event,
        intent=intent,
        disable_webhook=not user.get("isWebhookEnabled", False),
        webhook_caller=caller,
    )


def agent_output(result: TurnResult, differences: list[dict[str, str]]) -> dict[str, Any]:
    """A ConversationTurn.VirtualAgentOutput for the replayed turn."""
    output: dict[str, Any] = {
        "sessionParameters": result.parameters,
        "currentPage": {"name": result.page, "flow": result.flow},
        "textResponses": [{"text": [t.text]} for t in result.texts],
        "diagnosticInfo": {
            **result.diagnostic_info,
            "Match Type": result.match_type,
            "Webhook Calls": sum(1 for status in result.webhook_statuses if status.get("status") != "DISABLED"),
        },
    }
    if result.intent:
        output["triggeredIntent"] = {"name": result.intent}
    if differences:
        output["differences"] = differences
    return output


def _name(value: Any) -> str:
    return str(value or "").strip()


def _squash(text: str) -> str:
    return " ".join(text.split())


def compare_turn(expected: dict[str, Any], result: TurnResult, tracked: list[str]) -> list[dict[str, str]]:
    """The TestRunDifferences of one turn: only what the expected output specifies is compared."""
    diffs: list[dict[str, str]] = []
    want_intent = _name((expected.get("triggeredIntent") or {}).get("name"))
    if want_intent and want_intent != _name(result.intent):
        diffs.append(_diff("INTENT", want_intent, _name(result.intent) or "no intent"))
    page = expected.get("currentPage") or {}
    if _name(page.get("name")) and _name(page.get("name")) != _name(result.page):
        diffs.append(_diff("PAGE", _name(page.get("name")), _name(result.page)))
    want_flow = _name(page.get("flow")) or _name((expected.get("currentFlow") or {}).get("name"))
    if want_flow and want_flow != _name(result.flow):
        diffs.append(_diff("FLOW", want_flow, _name(result.flow)))
    expected_params = expected.get("sessionParameters") or {}
    for name in tracked:
        want, got = param_of(expected_params, name), param_of(result.parameters, name)
        if not equal(want, got):
            diffs.append(_diff("PARAMETERS", f"{name}={want!r}", f"{name}={got!r}"))
    want_texts = [_squash(" ".join(r.get("text", []))) for r in expected.get("textResponses", [])]
    if "textResponses" in expected and not _texts_match(want_texts, result):
        sent = [t.text for t in result.texts]
        diffs.append(_diff("UTTERANCE", repr(want_texts), repr(sent)))
    return diffs


def _texts_match(want: list[str], result: TurnResult) -> bool:
    if len(want) != len(result.texts):
        return False
    return all(w in {_squash(v) for v in sent.variants} for w, sent in zip(want, result.texts, strict=True))


def _diff(kind: str, expected: str, actual: str) -> dict[str, str]:
    return {"type": kind, "description": f"Expected {kind.lower()}: {expected}; actual: {actual}"}
