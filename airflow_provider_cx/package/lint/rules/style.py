"""Style: naming conventions, stray whitespace in names, and how questions are punctuated.

Punctuation follows the agent type the configuration names. Chat agents use written punctuation (a
question ends with "?"). Voice agents use punctuation as intonation marks, as the CX voice-agent
design guide (and cxlint) recommend: Wh- questions fall (end with "."), closed-choice questions rise
after each alternative but the last ("A? or B."), and clarifying re-prompts rise ("?").
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from airflow_provider_cx.package.lint.context import LintContext, TextMessage
from airflow_provider_cx.package.lint.findings import INFO, WARNING
from airflow_provider_cx.package.lint.registry import Hit, rule
from airflow_provider_cx.package.model import Resource

_DEFAULT_NAMES = {"Default Start Flow", "Default Welcome Intent", "Default Negative Intent"}
_COLLECTION_TYPES = {
    "flows": "flow",
    "intents": "intent",
    "entityTypes": "entityType",
    "webhooks": "webhook",
    "testCases": "testCase",
    "transitionRouteGroups": "transitionRouteGroup",
}
_WH = {"what", "which", "who", "whom", "whose", "where", "when", "why", "how"}
_AUX = {
    "do",
    "does",
    "did",
    "is",
    "are",
    "was",
    "were",
    "am",
    "can",
    "could",
    "would",
    "will",
    "shall",
    "should",
    "may",
    "might",
}
_SUBJECTS = {
    "you",
    "i",
    "we",
    "it",
    "there",
    "this",
    "that",
    "they",
    "he",
    "she",
    "your",
    "the",
    "my",
    "a",
    "an",
    "these",
    "those",
}
_WH_DETERMINERS = {"which", "what", "whose"}
_BE = {"is", "are", "was", "were"}
_NO_MATCH = "sys.no-match"
# Openers that do not change what kind of sentence follows: "Sorry, which city?" is a Wh- question.
_FILLERS = {"sorry", "ok", "okay", "so", "well", "and", "but", "now", "then", "alright", "great", "oh", "hmm", "please"}


def _named_resources(ctx: LintContext) -> Iterator[tuple[str, Resource, str, str | None]]:
    """(resource type, resource, path, flow name) for every resource with a display name."""
    for collection, resource_type in _COLLECTION_TYPES.items():
        for res in ctx.package.resources(collection):
            yield resource_type, res, ctx.path(res), None
    for flow in ctx.package.flows:
        for page in flow.pages:
            yield "page", page, ctx.path(page), flow.display_name
        for group in flow.route_groups:
            yield "transitionRouteGroup", group, ctx.path(group), flow.display_name


def _label(resource_type: str, name: str, flow: str | None) -> str:
    kind = {"entityType": "entity type", "testCase": "test case", "transitionRouteGroup": "route group"}
    where = f" of flow {flow!r}" if flow else ""
    return f"{kind.get(resource_type, resource_type)} {name!r}{where}"


@rule("naming-convention", WARNING)
def naming_convention(ctx: LintContext) -> Iterator[Hit]:
    """A display name does not match the pattern the configuration sets for its resource type
    (``naming_patterns``); consistent names keep large agents navigable. The built-in Default Start
    Flow and default intents are exempt.
    """
    patterns = {kind: re.compile(p) for kind, p in ctx.config.naming_patterns.items()}
    if not patterns:
        return
    for resource_type, res, path, flow in _named_resources(ctx):
        pattern = patterns.get(resource_type)
        if pattern is None or res.display_name in _DEFAULT_NAMES or pattern.search(res.display_name):
            continue
        yield Hit(
            f"{path}: {_label(resource_type, res.display_name, flow)} does not match the naming pattern "
            f"{pattern.pattern!r}",
            path,
            resource_type,
            (res.display_name,),
            flow,
        )


@rule("display-name-whitespace", WARNING)
def display_name_whitespace(ctx: LintContext) -> Iterator[Hit]:
    """A display name starts or ends with whitespace or holds a run of spaces: references that type
    the name without them do not resolve everywhere, and the name reads the same as another.
    """
    for resource_type, res, path, flow in _named_resources(ctx):
        name = res.display_name
        if name != name.strip() or re.search(r"\s{2,}", name):
            yield Hit(
                f"{path}: {_label(resource_type, name, flow)} has stray whitespace in its display name",
                path,
                resource_type,
                (name,),
                flow,
            )


# --- questions ------------------------------------------------------------------------------------
_CLOSERS = "\"')]}\u00bb\u201d\u2019 \t"  # quotes and brackets, typographic ones included


def _sentences(text: str) -> list[str]:
    """Sentences of a response, without the quotes or brackets that close them."""
    parts = re.split("(?<=[.!?])[" + re.escape(_CLOSERS.strip()) + "]*\\s+|\n+", text)
    return [s.strip().rstrip(_CLOSERS) for s in parts if s.strip().rstrip(_CLOSERS)]


def _words(sentence: str) -> list[str]:
    words = []
    for word in re.findall(r"[a-z']+", sentence.casefold()):
        if word.endswith("'s") and word[:-2] in _WH:  # "what's" -> "what is"
            words += [word[:-2], "is"]
        else:
            words.append(word.strip("'"))
    return words


def question_kind(sentence: str) -> str | None:
    """ "wh" or "yes-no" when an English sentence is phrased as a question, else None."""
    words = _words(sentence)
    while words and words[0] in _FILLERS:
        words = words[1:]
    if len(words) < 2:
        return None
    first = words[0]
    if first in _AUX and words[1] in _SUBJECTS:
        return "yes-no"
    if first in _WH:
        if words[1] in _BE:
            return "wh"
        # "Which size is…", "What time do…": a determiner Wh- word, one noun, then the verb.
        if first in _WH_DETERMINERS and len(words) > 2 and words[2] in _AUX:
            return "wh"
        if any(words[i] in _AUX and words[i + 1] in _SUBJECTS for i in range(1, min(4, len(words) - 1))):
            return "wh"
    return None


def _english_messages(ctx: LintContext) -> Iterator[TextMessage]:
    for owner in ctx.owners:
        for message in ctx.text_messages(owner):
            if message.language.casefold().startswith("en"):
                yield message


def _quote(sentence: str) -> str:
    return repr(sentence if len(sentence) <= 80 else sentence[:77] + "...")


@rule("question-mark-missing", INFO)
def question_mark_missing(ctx: LintContext) -> Iterator[Hit]:
    """Chat agents: a response phrased as a question does not end with "?", so users read a statement
    and may not answer. (Voice agents follow the intonation rules instead.)
    """
    if ctx.config.agent_type != "chat":
        return
    for message in _english_messages(ctx):
        for text in message.texts:
            for sentence in _sentences(text):
                if question_kind(sentence) and sentence[-1] not in "?!:":
                    yield message.owner.hit(f"asks {_quote(sentence)} without a question mark")


@rule("wh-question-punctuation", INFO)
def wh_question_punctuation(ctx: LintContext) -> Iterator[Hit]:
    """Voice agents: a Wh- question ("What…", "Which…", "How…") ends with "?", which makes TTS raise
    the pitch; spoken English lets Wh- questions fall, so they should end with ".".
    """
    if ctx.config.agent_type != "voice":
        return
    for message in _english_messages(ctx):
        if message.event and message.event.startswith(_NO_MATCH):
            continue  # clarifying questions rise; see clarifying-question-punctuation
        for text in message.texts:
            for sentence in _sentences(text):
                if question_kind(sentence) == "wh" and sentence.endswith("?"):
                    yield message.owner.hit(f"ends the Wh- question {_quote(sentence)} with '?' (voice: use '.')")


@rule("closed-choice-question-mark", INFO)
def closed_choice_question_mark(ctx: LintContext) -> Iterator[Hit]:
    """Voice agents: in a closed-choice question ("Do you want A or B"), each alternative but the last
    should end with "?" ("A? or B.") so TTS gives it the rising intonation that marks a choice.
    """
    if ctx.config.agent_type != "voice":
        return
    for message in _english_messages(ctx):
        for text in message.texts:
            for sentence in _sentences(text):
                if question_kind(sentence) != "yes-no" or " or " not in sentence:
                    continue
                before_last = sentence.rsplit(" or ", 1)[0].rstrip()
                if not before_last.endswith("?"):
                    yield message.owner.hit(
                        f"asks the closed-choice question {_quote(sentence)} without '?' before 'or'"
                    )


@rule("clarifying-question-punctuation", INFO)
def clarifying_question_punctuation(ctx: LintContext) -> Iterator[Hit]:
    """Voice agents: a no-match handler's re-prompt is a clarifying question and should rise, so it
    ends with "?" whatever its syntax ("Sorry, which city?").
    """
    if ctx.config.agent_type != "voice":
        return
    for message in _english_messages(ctx):
        if not (message.event and message.event.startswith(_NO_MATCH)):
            continue
        for text in message.texts:
            sentences = _sentences(text)
            if sentences and question_kind(sentences[-1]) and not sentences[-1].endswith("?"):
                yield message.owner.hit(
                    f"re-prompts with {_quote(sentences[-1])} in the {message.event!r} handler; end it with '?'"
                )
