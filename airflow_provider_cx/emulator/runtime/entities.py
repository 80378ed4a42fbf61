"""Custom entity types: map (value with synonyms), list, regexp, fuzzy, and composite references.

A :class:`EntityTypeMatcher` is built once per entity type and language (see :mod:`index`) and finds
mentions in an utterance as :class:`EntityMatch` spans:

- ``KIND_MAP``: any synonym (word-normalised, light stemming) resolves to the entity's value, kept
  exactly as the agent wrote it.
- ``KIND_LIST``: the matched entry is the value.
- ``KIND_REGEXP``: each entry (value and synonyms) is a regular expression; the matched text is the value.
- ``enableFuzzyExtraction``: when nothing matches exactly, a synonym also matches if each of its words is
  within one edit of the utterance's word (words of four letters or more); failing that, a window of
  words spelt like a synonym it shares a word with (letter similarity >= 0.8: "The Google Fighters"
  for "The Goo Fighters", not "Hithrow" for "Heathrow"). Failing that, a *partial*
  match: a run of consecutive words that all belong to one entry's synonyms ("Longsleeve" for
  "Longsleeve Shirt", "New York Kennedy airport" for JFK) matches that entry, provided the run holds
  a word, as said, of three letters or more that no other entry uses. The other words compare exactly,
  ignoring apostrophes, or within one edit for words of four letters or more (exact beats near).
- Several entries sharing a synonym (after normalisation): the one whose synonym as written is closest
  to what was said wins ("Houston" picks the entry spelled ``Houston\t`` over ``Houston\t\t``).
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


# Bounds of the per-matcher caches (texts searched, words looked up).
_FIND_CACHE = 4096
_WORD_CACHE = 16384
# Letter similarity (1 - edit distance / length) at which a window is a misspelt synonym.
CLOSE_SPELLING = 0.8
# A partial mention must cover this share of the letters of one of the entry's synonyms.
PARTIAL_COVERAGE = 0.6


@dataclass
class _Entry:
    """One entry (value) of a map entity type, seen by partial matching."""

    value: Any
    synonyms: list[tuple[str, ...]] = field(default_factory=list)
    spellings: list[str] = field(default_factory=list)
    distinctive: set[str] = field(default_factory=set)

    def words(self) -> set[str]:
        return {w for synonym in self.synonyms for w in synonym}

    def covers(self, said: list[str]) -> bool:
        """Whether the words said cover enough of one synonym ("Longsleeve" of "Longsleeve Shirt", not "Shirt")."""
        heard = set(said)
        for synonym in self.synonyms:
            total = sum(len(w) for w in synonym)
            hit = sum(len(w) for w in synonym if w in heard or any(_close(h, w) for h in heard))
            if total and hit >= PARTIAL_COVERAGE * total:
                return True
        return False


@dataclass
class EntityTypeMatcher:
    """Finds mentions of one custom entity type in an utterance."""

    display_name: str
    kind: str
    fuzzy: bool
    exact: dict[tuple[str, ...], Any] = field(default_factory=dict)
    regexps: list[re.Pattern[str]] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    # Every (synonym as written, value) sharing a normalised synonym: the closest to what was said wins.
    spellings: dict[tuple[str, ...], list[tuple[str, Any]]] = field(default_factory=dict)
    _by_first: dict[str, list[tuple[str, ...]]] | None = None
    _entry_words: dict[str, _Entry] | None = None
    _vocab: dict[str, set[str]] | None = None
    _near: dict[str, set[str]] | None = None
    _word_entries: dict[str, set[str]] = field(default_factory=dict)
    _found: dict[tuple[str, dt.date, bool], list[EntityMatch]] = field(default_factory=dict)
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
                    matcher.spellings.setdefault(key, []).append((synonym.casefold(), resolved))
                    matcher.max_words = max(matcher.max_words, len(key))
        return matcher

    def find(self, text: str, today: dt.date, prompted: bool, lookup: Lookup) -> list[EntityMatch]:
        """Mentions in ``text`` (remembered: conversations and test runs repeat their inputs)."""
        key = (text, today, prompted)
        found = self._found.get(key)
        if found is None:
            found = self._find(text, today, prompted, lookup)
            if len(self._found) >= _FIND_CACHE:
                self._found.clear()
            self._found[key] = found
        return list(found)

    def clear_cache(self) -> None:
        self._found.clear()
        self._word_entries.clear()

    def _find(self, text: str, today: dt.date, prompted: bool, lookup: Lookup) -> list[EntityMatch]:
        if self.kind == "KIND_REGEXP":
            return [
                EntityMatch(m.start(), m.end(), m.group(), m.group()) for r in self.regexps for m in r.finditer(text)
            ]
        spans = word_spans(text)
        found = self._exact(text, spans)
        if not found and self.fuzzy:
            found = self._fuzzy(text, spans) or self._close_spelling(text, spans) or self._partial(text, spans)
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
                    out.append(EntityMatch(start, end, self._closest(key, said), said))
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
                    out.append(EntityMatch(start, end, self.exact[key], text[start:end], fuzzy=True))
        return out

    def _closest(self, key: tuple[str, ...], said: str) -> Any:
        spellings = self.spellings.get(key, [])
        if len(spellings) <= 1 or len({repr(v) for _s, v in spellings}) == 1:
            return self.exact[key]
        said = said.casefold()
        return min(spellings, key=lambda sv: edit_distance(sv[0], said))[1]

    def _close_spelling(self, text: str, spans: tuple[tuple[int, int, str], ...]) -> list[EntityMatch]:
        """Windows spelt like a synonym (letter similarity >= 0.8) that share a word with it."""
        vocabulary = self._vocabulary()
        said = [_plain(word) for _s, _e, word in spans]
        raw = [_spelling(text[s:e]) for s, e, _w in spans]
        entries = set().union(*(vocabulary.get(w, set()) for w in said)) if said else set()
        out = []
        for value_key in sorted(entries):
            entry = self._entries()[value_key]
            for target in entry.spellings:
                words = target.count(" ") + 1
                if len(target) < 5:
                    continue
                for n in sorted({max(1, words - 1), words, words + 1}):
                    for i in range(len(spans) - n + 1):
                        window = " ".join(raw[i : i + n])
                        if abs(len(window) - len(target)) > 0.25 * len(target):
                            continue
                        limit = int((1 - CLOSE_SPELLING) * max(len(window), len(target)) + 1e-9)
                        if edit_distance_within(window, target, limit):
                            start, end = spans[i][0], spans[i + n - 1][1]
                            out.append(EntityMatch(start, end, entry.value, text[start:end], fuzzy=True))
        return out

    def _partial(self, text: str, spans: tuple[tuple[int, int, str], ...]) -> list[EntityMatch]:
        candidates = [self._entries_for(word) for _s, _e, word in spans]
        entries = self._entries()
        out = []
        for value_key in sorted(set().union(*candidates)) if candidates else ():
            entry = entries[value_key]
            i = 0
            while i < len(spans):
                if value_key not in candidates[i]:
                    i += 1
                    continue
                j = i
                while j < len(spans) and value_key in candidates[j]:
                    j += 1
                said = [_plain(spans[k][2]) for k in range(i, j)]
                if any(w in entry.distinctive for w in said) and entry.covers(said):
                    start, end = spans[i][0], spans[j - 1][1]
                    out.append(EntityMatch(start, end, entry.value, text[start:end], fuzzy=True))
                i = j
        return out

    def _entries(self) -> dict[str, _Entry]:
        """Entries by ``repr(value)``, with their synonyms and distinctive words (for partial matching)."""
        if self._entry_words is None:
            entries: dict[str, _Entry] = {}
            for key, value in self.exact.items():
                entry = entries.setdefault(repr(value), _Entry(value))
                entry.synonyms.append(tuple(_plain(w) for w in key))
                entry.spellings.extend(_spelling(spelt) for spelt, _v in self.spellings.get(key, []))
            owners: dict[str, int] = {}
            for entry in entries.values():
                for word in entry.words():
                    owners[word] = owners.get(word, 0) + 1
            self._vocab = {}
            for k, entry in entries.items():
                words = entry.words()
                entry.distinctive = {w for w in words if owners[w] == 1 and len(w) >= 3 and w not in STOPWORDS}
                for word in words:
                    self._vocab.setdefault(word, set()).add(k)
            self._entry_words = entries
        return self._entry_words

    def _vocabulary(self) -> dict[str, set[str]]:
        self._entries()
        assert self._vocab is not None
        return self._vocab

    def _entries_for(self, word: str) -> set[str]:
        """Entries whose synonyms use ``word`` (ignoring apostrophes), else those with a word one edit away."""
        plain = _plain(word)
        found = self._word_entries.get(plain)
        if found is not None:
            return found
        vocabulary = self._vocabulary()
        found = vocabulary.get(plain) or set()
        if not found and len(plain) >= 4:
            if self._near is None:
                near_index: dict[str, set[str]] = {}
                for known in vocabulary:
                    if len(known) >= 4:
                        for variant in _deletions(known):
                            near_index.setdefault(variant, set()).add(known)
                self._near = near_index
            for variant in _deletions(plain):
                for known in self._near.get(variant, ()):
                    if edit_distance_at_most_one(known, plain):
                        found = found | vocabulary[known]
        if len(self._word_entries) < _WORD_CACHE:
            self._word_entries[plain] = found
        return found

    def _fuzzy_index(self) -> dict[str, list[tuple[str, ...]]]:
        """Synonyms by every one-deletion variant of their first word (symmetric-delete look-up)."""
        if self._by_first is None:
            index: dict[str, list[tuple[str, ...]]] = {}
            for key in self.exact:
                for variant in _deletions(key[0]):
                    index.setdefault(variant, []).append(key)
            self._by_first = index
        return self._by_first


# Words too common to identify an entity entry on their own (partial matching never keys on them).
STOPWORDS = frozenset(
    "a an and are at be by for from i in is it me my of on or please the this that to with you your".split()  # noqa: SIM905
)


def _spelling(text: str) -> str:
    """Folded letters and digits of ``text``, words separated by single spaces (no stemming)."""
    return " ".join(w.replace("'", "") for w in re.findall(r"[\w']+", fold(text)))


def _plain(word: str) -> str:
    return word.replace("'", "")


def edit_distance_within(a: str, b: str, limit: int) -> bool:
    """Whether the Levenshtein distance of ``a`` and ``b`` is at most ``limit`` (banded: O(len * limit))."""
    if abs(len(a) - len(b)) > limit:
        return False
    big = limit + 1
    previous = [j if j <= limit else big for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        low, high = max(1, i - limit), min(len(b), i + limit)
        current = [big] * (len(b) + 1)
        current[0] = i if i <= limit else big
        for j in range(low, high + 1):
            cost = previous[j - 1] + (a[i - 1] != b[j - 1])
            current[j] = min(cost, previous[j] + 1, current[j - 1] + 1, big)
        if min(current) > limit:
            return False
        previous = current
    return previous[-1] <= limit


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (small strings: synonyms and what was said)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


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
