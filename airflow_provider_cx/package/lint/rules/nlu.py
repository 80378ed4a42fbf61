"""Natural-language understanding: intents with too little to learn from, and phrases two intents share."""

from __future__ import annotations

from collections.abc import Iterator

from airflow_provider_cx.package.lint.context import LintContext, normalize_phrase
from airflow_provider_cx.package.lint.findings import INFO, WARNING
from airflow_provider_cx.package.lint.registry import Hit, rule
from airflow_provider_cx.package.model import Resource

_NEGATIVE_INTENT = "Default Negative Intent"
_YES_NO = {"yes", "no", "yeah", "yep", "nope", "true", "false", "y", "n"}


def is_fallback(intent: Resource) -> bool:
    """The negative intent holds counter-examples: it may be empty, and nothing routes to it."""
    return bool(intent.data.get("isFallback")) or intent.display_name.strip() == _NEGATIVE_INTENT


@rule("intent-no-training-phrases", WARNING)
def intent_no_training_phrases(ctx: LintContext) -> Iterator[Hit]:
    """An intent without a single training phrase can never be matched by NLU.

    Some teams stage intents before writing phrases; disable the rule or allow-list them if so.
    """
    for intent in ctx.package.intents:
        if not is_fallback(intent) and not any(ctx.phrase_texts(intent).values()):
            yield ctx.hit(intent, "intent", "has no training phrases")


@rule("intent-few-training-phrases", WARNING)
def intent_few_training_phrases(ctx: LintContext) -> Iterator[Hit]:
    """Fewer training phrases than ``min_training_phrases`` (default 10) in a language: the CX design
    guide asks for 10 to 20 or more per intent, or matching becomes brittle.

    Languages without any phrase are ``missing-translation`` findings instead.
    """
    minimum = ctx.config.min_training_phrases
    for intent in ctx.package.intents:
        if is_fallback(intent):
            continue
        for lang, texts in sorted(ctx.phrase_texts(intent).items()):
            if 0 < len(texts) < minimum:
                yield ctx.hit(
                    intent,
                    "intent",
                    f"has {len(texts)} training phrase(s) in {lang!r}; at least {minimum} are expected",
                )


@rule("duplicate-training-phrase", WARNING)
def duplicate_training_phrase(ctx: LintContext) -> Iterator[Hit]:
    """The same training phrase (ignoring case, punctuation and spacing) belongs to two intents, so
    the model is taught two answers for one utterance and matches either unpredictably.
    """
    owners: dict[tuple[str, str], dict[str, Resource]] = {}
    originals: dict[tuple[str, str], str] = {}
    for intent in ctx.package.intents:
        for lang, texts in ctx.phrase_texts(intent).items():
            for text in texts:
                key = (lang, normalize_phrase(text))
                if key[1]:
                    owners.setdefault(key, {})[intent.display_name] = intent
                    originals.setdefault(key, text.strip())
    for key in sorted(owners):
        intents = owners[key]
        if len(intents) < 2:
            continue
        names = sorted(intents)
        first = intents[names[0]]
        path = f"intents/{first.stem}/trainingPhrases/{key[0]}.json"
        listed = ", ".join(repr(n) for n in names)
        yield Hit(
            f"{path}: training phrase {originals[key]!r} ({key[0]}) is in {len(names)} intents: {listed}",
            path,
            "intent",
            tuple(names),
            None,
        )


@rule("unused-intent", INFO)
def unused_intent(ctx: LintContext) -> Iterator[Hit]:
    """No route in any flow, page or route group uses the intent: it adds NLU noise and matches
    nothing (intents only parameters are taken from may still be intended; allow-list them).
    """
    for intent in ctx.package.intents:
        if not is_fallback(intent) and id(intent) not in ctx.used_intents:
            yield ctx.hit(intent, "intent", "is not used by any route")


@rule("yes-no-entity", INFO)
def yes_no_entity(ctx: LintContext) -> Iterator[Hit]:
    """An entity type collects yes / no answers; intents (confirmation yes / no) capture those more
    robustly and do not compete with the NLU model the way such an entity does.
    """
    for entity_type in ctx.package.entity_types:
        values = set()
        for value, synonyms in ctx.entity_values(entity_type):
            values |= {text.strip().casefold() for text in (value, *synonyms)}
        if {"yes", "no"} <= values and len(values - _YES_NO) <= len(values) // 2:
            yield ctx.hit(entity_type, "entityType", "collects yes / no answers; use confirmation intents instead")
