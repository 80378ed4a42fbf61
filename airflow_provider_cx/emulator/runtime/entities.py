"""Custom entity types: map (value with synonyms), list, regexp, fuzzy, and composite references.

A :class:`EntityTypeMatcher` is built once per entity type and language (see :mod:`index`) and finds
mentions in an utterance as :class:`EntityMatch` spans:

- ``KIND_MAP``: any synonym (word-normalised, light stemming) resolves to the entity's value, kept
  exactly as the agent wrote it.
- ``KIND_LIST``: the matched entry is the value.
- ``KIND_REGEXP``: each entry (value and synonyms) is a regular expression; the matched text is the value.
- ``enableFuzzyExtraction``: when nothing matches exactly, a synonym also matches if each of its words is
  within one edit of the utterance's word (words of four letters or more).
- An entry such as ``@sys.number-sequence`` or ``@OtherType`` refers to another entity type (composite
  entities): its matches count as matches of this type.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from airflow_provider_cx.emulator.runtime.sysentities import EntityMatch
from airflow_provider_cx.emulator.runtime.text import edit_distance_at_most_one, fold, stem

_WORD_SPAN = re.compile(r"[\w'\u2019@.+-]+", re.UNICODE)

Lookup = Callable[[str], "Callable[[str, dt.date, bool], list[EntityMatch]]"]


@lru_cache(maxsize=4096)
def word_spans(text: str) -> tuple[tuple[int, int, str], ...]:
    """(start, end, normalised word) for each word of ``text``, offsets into the original text."""
    out = []
    for match in _WORD_SPAN.finditer(text):
        raw = match.group()
        lead = len(raw) - len(raw.lstrip(".'\u2019-+"))
        core = raw.strip(".'\u2019-+")
        if core:
            start = match.start() + lead
            out.append((start, start + len(core), stem(fold(core).replace("\u2019", "'"))))
    return tuple(out)


def synonym_key(synonym: str) -> tuple[str, ...]:
    return tuple(word for _s, _e, word in word_spans(synonym))


@dataclass
class EntityTypeMatcher:
    """Finds mentions of one custom entity type in an utterance."""

    display_name: str
    kind: str
    fuzzy: bool
    exact: dict[tuple[str, ...], Any] = field(default_factory=dict)
    regexps: list[re.Pattern[str]] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    # When two entries share a normalised synonym, the one written exactly as said wins.
    verbatim: dict[tuple[tuple[str, ...], str], Any] = field(default_factory=dict)
    _by_first: dict[str, list[tuple[str, ...]]] | None = None
    max_words: int = 0

    @classmethod
    def build(cls, data: dict[str, Any], entities: list[dict[str, Any]]) -> EntityTypeMatcher:
        kind = str(data.get("kind", "KIND_MAP"))
        matcher = cls(str(data.get("displayName", "")), kind, bool(data.get("enableFuzzyExtraction")))
        for entity in entities:
            value = entity.get("value", "")
            synonyms = entity.get("synonyms") or [value]
            if kind == "KIND_REGEXP":
                for pattern in {value, *synonyms}:
                    try:
                        matcher.regexps.append(re.compile(pattern, re.I))
                    except re.error:
                        continue
                continue
            for synonym in synonyms:
                if synonym.strip().startswith("@"):
                    matcher.references.append(synonym.strip().lstrip("@").split(":")[0])
                    continue
                key = synonym_key(synonym)
                if key:
                    resolved = synonym.strip() if kind == "KIND_LIST" else value
                    matcher.exact.setdefault(key, resolved)
                    matcher.verbatim.setdefault((key, synonym.casefold()), resolved)
                    matcher.max_words = max(matcher.max_words, len(key))
        return matcher

    def find(self, text: str, today: dt.date, prompted: bool, lookup: Lookup) -> list[EntityMatch]:
        if self.kind == "KIND_REGEXP":
            return [
                EntityMatch(m.start(), m.end(), m.group(), m.group()) for r in self.regexps for m in r.finditer(text)
            ]
        spans = word_spans(text)
        found = self._exact(text, spans)
        if not found and self.fuzzy:
            found = self._fuzzy(text, spans)
        for ref in self.references:
            found.extend(lookup(ref)(text, today, prompted))
        return found

    def _exact(self, text: str, spans: tuple[tuple[int, int, str], ...]) -> list[EntityMatch]:
        out = []
        for i in range(len(spans)):
            for n in range(min(self.max_words, len(spans) - i), 0, -1):
                key = tuple(word for _s, _e, word in spans[i : i + n])
                if key in self.exact:
                    start, end = spans[i][0], spans[i + n - 1][1]
                    said = text[start:end]
                    value = self.verbatim.get((key, said.casefold()), self.exact[key])
                    out.append(EntityMatch(start, end, value, said))
                    break
        return out

    def _fuzzy(self, text: str, spans: tuple[tuple[int, int, str], ...]) -> list[EntityMatch]:
        by_first = self._fuzzy_index()
        out = []
        for i, (_s, _e, word) in enumerate(spans):
            for key in {k for variant in _deletions(word) for k in by_first.get(variant, ())}:
                window = spans[i : i + len(key)]
                if len(window) < len(key):
                    continue
                if all(_close(w, want) for (_ws, _we, w), want in zip(window, key, strict=True)):
                    start, end = window[0][0], window[-1][1]
                    out.append(EntityMatch(start, end, self.exact[key], text[start:end]))
        return out

    def _fuzzy_index(self) -> dict[str, list[tuple[str, ...]]]:
        """Synonyms by every one-deletion variant of their first word (symmetric-delete look-up)."""
        if self._by_first is None:
            index: dict[str, list[tuple[str, ...]]] = {}
            for key in self.exact:
                for variant in _deletions(key[0]):
                    index.setdefault(variant, []).append(key)
            self._by_first = index
        return self._by_first


def _deletions(word: str) -> set[str]:
    """The word and, for words of four letters or more, every form with one letter deleted."""
    if len(word) < 4:
        return {word}
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def _close(word: str, want: str) -> bool:
    if word == want:
        return True
    return len(want) >= 4 and len(word) >= 4 and edit_distance_at_most_one(word, want)


def best_match(matches: list[EntityMatch]) -> EntityMatch | None:
    """The longest, then earliest, mention: what fills a single-valued parameter."""
    if not matches:
        return None
    return max(matches, key=lambda m: (m.length, -m.start))


def non_overlapping(matches: list[EntityMatch]) -> list[EntityMatch]:
    """Longest mentions first, dropping those that overlap a kept one; in text order."""
    kept: list[EntityMatch] = []
    for match in sorted(matches, key=lambda m: (-m.length, m.start)):
        if all(match.end <= k.start or match.start >= k.end for k in kept):
            kept.append(match)
    return sorted(kept, key=lambda m: m.start)
