"""Text normalisation shared by intent matching and entity extraction.

Matching works on *tokens*: lower-cased words with punctuation removed and a light English suffix
stemming, so "tickets" and "ticket" or "booking" and "book" meet. The same normalisation is applied to
training phrases, entity synonyms and user input, which is what makes it safe to be crude.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[\w@'\u2019.+-]+", re.UNICODE)
_EDGE_PUNCT = ".'\u2019-+"
# (suffix, shortest stem left): "does" and "bus" keep their "s", "tickets" loses it.
_SUFFIXES = (("ing", 3), ("ed", 3), ("es", 3), ("s", 4))


def fold(text: str) -> str:
    """Lower-case, strip accents and collapse whitespace: the canonical form for exact comparisons."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.lower().split())


def words(text: str) -> list[str]:
    """Folded words of a text, punctuation removed (apostrophes inside words are kept)."""
    out = []
    for raw in _WORD.findall(fold(text)):
        word = raw.strip(_EDGE_PUNCT).replace("\u2019", "'")
        if word:
            out.append(word)
    return out


def stem(word: str) -> str:
    """A deliberately small stemmer: drop one common English inflection from longer words."""
    if word.endswith("n't") or not word.isalpha():
        return word
    for suffix, shortest in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= shortest:
            return word[: -len(suffix)]
    return word


def tokens(text: str) -> list[str]:
    """Stemmed words: the unit of intent similarity."""
    return [stem(w) for w in words(text)]


def normalised(text: str) -> str:
    """Exact-match key of an utterance: folded words joined by single spaces."""
    return " ".join(words(text))


def edit_distance_at_most_one(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one insertion, deletion or substitution."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la > lb:
        a, b, la, lb = b, a, lb, la
    i = 0
    while i < la and a[i] == b[i]:
        i += 1
    if la == lb:
        return a[i + 1 :] == b[i + 1 :]
    return a[i:] == b[i + 1 :]
