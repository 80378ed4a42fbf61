"""Test cases that cannot pass, or pass by luck: they name missing intents or pages, or rely on NLU."""

from __future__ import annotations

from collections.abc import Iterator

from airflow_provider_cx.package.lint.context import (
    LintContext,
    TestTurn,
    as_dict,
    as_str,
    normalize_phrase,
    symbolic_target,
)
from airflow_provider_cx.package.lint.findings import ERROR, INFO
from airflow_provider_cx.package.lint.registry import Hit, rule
from airflow_provider_cx.package.lint.rules.nlu import is_fallback


@rule("test-case-missing-intent", ERROR)
def test_case_missing_intent(ctx: LintContext) -> Iterator[Hit]:
    """A test case expects an intent the agent does not have (cxlint "invalid intent in test case"):
    the test fails on every run.
    """
    for test_case in ctx.package.test_cases:
        for turn in ctx.test_turns(test_case):
            if turn.triggered_intent and ctx.intent(turn.triggered_intent) is None:
                yield ctx.hit(
                    test_case,
                    "testCase",
                    f"turn {turn.index} expects intent {turn.triggered_intent!r}, which does not exist",
                    turn.triggered_intent,
                )


@rule("test-case-missing-page", ERROR)
def test_case_missing_page(ctx: LintContext) -> Iterator[Hit]:
    """A test case expects (or starts at) a flow or page the agent does not have: it cannot pass."""
    for test_case in ctx.package.test_cases:
        config = as_dict(test_case.data.get("testConfig"))
        start_flow, start_page = as_str(config.get("flow")), as_str(config.get("page"))
        if start_flow or start_page:
            problem = _missing(ctx, start_flow, start_page)
            if problem:
                yield ctx.hit(test_case, "testCase", f"starts at {problem}")
        for turn in ctx.test_turns(test_case):
            problem = _turn_problem(ctx, turn)
            if problem:
                yield ctx.hit(test_case, "testCase", f"turn {turn.index} expects {problem}")


def _turn_problem(ctx: LintContext, turn: TestTurn) -> str | None:
    if turn.current_flow and ctx.flow(turn.current_flow) is None:
        return f"flow {turn.current_flow!r}, which does not exist"
    if turn.page:
        return _missing(ctx, turn.page_flow or turn.current_flow, turn.page)
    return None


def _missing(ctx: LintContext, flow_name: str, page_name: str) -> str | None:
    """What is missing among a flow and a page of it, or None when both resolve."""
    flow = ctx.flow(flow_name) if flow_name else None
    if flow_name and flow is None:
        return f"flow {flow_name!r}, which does not exist"
    if not page_name or symbolic_target(page_name):
        return None
    if flow is not None:
        return None if ctx.page(flow, page_name) else f"page {page_name!r}, which flow {flow_name!r} does not have"
    if any(ctx.page(f, page_name) for f in ctx.package.flows):
        return None
    return f"page {page_name!r}, which no flow has"


@rule("test-phrase-not-in-intent", INFO)
def test_phrase_not_in_intent(ctx: LintContext) -> Iterator[Hit]:
    """A test turn's utterance is not a training phrase of the intent it expects (cxlint "explicit
    training phrase not in test cases"): whether it matches depends on how NLU generalises after each
    retraining, so the test becomes flaky. Test conversation logic with exact phrases.
    """
    for test_case in ctx.package.test_cases:
        for turn in ctx.test_turns(test_case):
            intent = ctx.intent(turn.triggered_intent) if turn.triggered_intent else None
            if intent is None or not turn.text.strip():
                continue
            phrases = {normalize_phrase(t) for t in ctx.phrase_texts(intent).get(turn.language, [])}
            if normalize_phrase(turn.text) not in phrases:
                yield ctx.hit(
                    test_case,
                    "testCase",
                    f"turn {turn.index} says {turn.text!r}, which is not a training phrase of intent "
                    f"{intent.display_name!r} ({turn.language})",
                    intent.display_name,
                )


@rule("intent-not-tested", INFO)
def intent_not_tested(ctx: LintContext) -> Iterator[Hit]:
    """An intent that routes use is expected by no test case: its training phrases are not covered,
    so a regression in its matching goes unnoticed. Only checked when the agent has test cases.
    """
    if not ctx.package.test_cases:
        return
    tested = {
        id(intent)
        for test_case in ctx.package.test_cases
        for turn in ctx.test_turns(test_case)
        if turn.triggered_intent and (intent := ctx.intent(turn.triggered_intent)) is not None
    }
    for intent in ctx.package.intents:
        if id(intent) in ctx.used_intents and id(intent) not in tested and not is_fallback(intent):
            yield ctx.hit(intent, "intent", "is used by routes but no test case expects it")
