"""Translations: every language the agent declares needs phrases, entities and responses in it."""

from __future__ import annotations

from collections.abc import Iterator

from airflow_provider_cx.package.lint.context import LintContext
from airflow_provider_cx.package.lint.findings import WARNING
from airflow_provider_cx.package.lint.registry import Hit, rule


def _missing(declared: list[str], present: set[str]) -> list[str]:
    present = {lang.casefold() for lang in present}
    return [lang for lang in declared if lang.casefold() not in present]


@rule("missing-translation", WARNING)
def missing_translation(ctx: LintContext) -> Iterator[Hit]:
    """The agent declares a language (``supportedLanguageCodes``) that a resource has content for in
    other languages but not in this one: intents without its training phrases cannot match it,
    entity types do not extract it, and pages answer its users with nothing.
    """
    declared = ctx.package.languages()
    if len(declared) < 2:
        return
    for intent in ctx.package.intents:
        present = {lang for lang, texts in ctx.phrase_texts(intent).items() if texts}
        missing = _missing(declared, present)
        if present and missing:
            yield ctx.hit(intent, "intent", f"has no training phrases in {', '.join(missing)}")
    for entity_type in ctx.package.entity_types:
        present = {lang for lang, part in entity_type.language_parts("entities").items() if part}
        missing = _missing(declared, present)
        if present and missing:
            yield ctx.hit(entity_type, "entityType", f"has no entities in {', '.join(missing)}")
    for owner in ctx.owners:
        present = {m.language for m in ctx.text_messages(owner) if any(t.strip() for t in m.texts)}
        missing = _missing(declared, present)
        if present and missing:
            yield owner.hit(f"has text responses but none in {', '.join(missing)}")
