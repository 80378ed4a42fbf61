"""Intent matching: exact phrase match first, then a weighted token-overlap similarity.

The similarity of an utterance U and a training phrase P is the IDF-weighted Dice coefficient of
their token sets::

    sim(U, P) = 2 * w(U ∩ P) / (w(U) + w(P)),   w(S) = Σ_{t in S} (1 + ln(N / df(t)))

where tokens are stemmed words (:mod:`text`), N is the number of training phrases in the agent and
df(t) the number of phrases containing t (a token no phrase contains gets the largest weight). Each
phrase is scored twice: as written, and with its annotated parts replaced by the entity type
(``@sys.date``) while the utterance's mentions of those types are replaced the same way, so
"fly on March 3rd" meets "fly on @sys.date"; a slot token weighs 1 (an entity alone says little) and
a slotted score counts at 90%. An intent's score is its best phrase's score; an
utterance equal to a training phrase (after folding case, accents and punctuation) scores 1.0.

The best candidate wins if its score reaches the classification threshold; if it is the negative
intent, the result is a no-match. Ties break by candidate order (route precedence), so the result is
deterministic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_cx.emulator.runtime.entities import best_match, non_overlapping, word_spans
from airflow_provider_cx.emulator.runtime.index import AgentIndex, IntentInfo
from airflow_provider_cx.emulator.runtime.sysentities import EntityMatch
from airflow_provider_cx.emulator.runtime.text import normalised, tokens

# Entity types whose mentions are everything: slotting them would erase the utterance.
_UNSLOTTABLE = {"@sys.any"}
# A phrase met only through entity slots ("buy @Merch") is weaker evidence than a literal match.
SLOTTED_DISCOUNT = 0.9


@dataclass
class IntentMatch:
    intent: str
    confidence: float
    exact: bool
    negative: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)
    originals: dict[str, str] = field(default_factory=dict)


class Utterance:
    """One user text with its tokens and a per-turn cache of entity mentions by type."""

    def __init__(self, index: AgentIndex, language: str, text: str, today: dt.date) -> None:
        self.index = index
        self.language = language
        self.text = text
        self.today = today
        self.key = normalised(text)
        self.tokens = frozenset(tokens(text))
        self._mentions: dict[tuple[str, bool], list[EntityMatch]] = {}
        self._slotted: dict[tuple[str, ...], frozenset[str]] = {}

    def mentions(self, entity_type: str, prompted: bool = False) -> list[EntityMatch]:
        key = (entity_type, prompted)
        if key not in self._mentions:
            extract = self.index.extractor(entity_type, self.language)
            self._mentions[key] = extract(self.text, self.today, prompted)
        return self._mentions[key]

    def slotted(self, slot_types: tuple[str, ...]) -> frozenset[str]:
        """The utterance's tokens with mentions of ``slot_types`` replaced by their slot tokens."""
        if slot_types not in self._slotted:
            found = []
            for slot in slot_types:
                if slot not in _UNSLOTTABLE:
                    found.extend((m, slot) for m in self.mentions(slot))
            kept = non_overlapping([m for m, _slot in found])
            slot_of = {id(m): slot for m, slot in found}
            covered = [(m.start, m.end) for m in kept]
            words = {w for s, e, w in word_spans(self.text) if not any(cs <= s and e <= ce for cs, ce in covered)}
            self._slotted[slot_types] = frozenset(words | {slot_of[id(m)] for m in kept})
        return self._slotted[slot_types]


def weight_of(tokens: frozenset[str], weights: dict[str, float], unknown: float) -> float:
    return sum(weights.get(t, unknown) for t in tokens)


def similarity(
    a: frozenset[str],
    b: frozenset[str],
    weights: dict[str, float],
    unknown: float,
    b_weight: float | None = None,
    a_weight: float | None = None,
) -> float:
    """Weighted Dice coefficient of two token sets (pass precomputed set weights to save work)."""
    if not a or not b:
        return 0.0
    common = a & b
    if not common:
        return 0.0
    total = (a_weight if a_weight is not None else weight_of(a, weights, unknown)) + (
        b_weight if b_weight is not None else weight_of(b, weights, unknown)
    )
    return 2.0 * weight_of(common, weights, unknown) / total


def score_intent(utterance: Utterance, info: IntentInfo, weights: dict[str, float], unknown: float) -> float:
    if utterance.key in info.exact:
        return 1.0
    best = 0.0
    slotted = utterance.slotted(info.slot_types) if info.slot_types else None
    literal_weight = weight_of(utterance.tokens, weights, unknown)
    slotted_weight = weight_of(slotted, weights, unknown) if slotted is not None else 0.0
    for phrase in info.phrases:
        score = similarity(utterance.tokens, phrase.literal, weights, unknown, phrase.literal_weight, literal_weight)
        if slotted is not None and phrase.slotted != phrase.literal:
            slot_score = similarity(slotted, phrase.slotted, weights, unknown, phrase.slotted_weight, slotted_weight)
            score = max(score, SLOTTED_DISCOUNT * slot_score)
        if score > best:
            best = score
    return best


def match_intent(utterance: Utterance, candidates: list[str], threshold: float) -> IntentMatch | None:
    """The best in-scope intent at or above ``threshold`` (a negative-intent win is returned as such)."""
    intents = utterance.index.intents(utterance.language)
    weights = utterance.index.weights(utterance.language)
    unknown = max(weights.values(), default=1.0)
    names = list(dict.fromkeys(c.strip() for c in candidates))
    negative = [name for name, info in intents.items() if info.is_negative]
    best: tuple[float, str] | None = None
    for name in [*names, *negative]:
        info = intents.get(name)
        if info is None:
            continue
        score = score_intent(utterance, info, weights, unknown)
        if best is None or score > best[0]:
            best = (score, name)
    if best is None or best[0] < threshold or best[0] == 0.0:
        return None
    score, name = best
    info = intents[name]
    match = IntentMatch(info.display_name, round(score, 4), exact=score >= 1.0, negative=info.is_negative)
    if not info.is_negative:
        extract_intent_parameters(utterance, info, match)
    return match


def extract_intent_parameters(utterance: Utterance, info: IntentInfo, match: IntentMatch) -> None:
    """Fill the matched intent's parameters from entity mentions in the utterance."""
    for param_id, param in info.parameters.items():
        entity_type = "@" + str(param.get("entityType", "")).lstrip("@")
        if entity_type in _UNSLOTTABLE:
            continue
        mentions = utterance.mentions(entity_type)
        if not mentions:
            continue
        if param.get("isList"):
            kept = non_overlapping(mentions)
            match.parameters[param_id] = [m.value for m in kept]
            match.originals[param_id] = ", ".join(m.original for m in kept)
        else:
            chosen = best_match(mentions)
            if chosen is not None:
                match.parameters[param_id] = chosen.value
                match.originals[param_id] = chosen.original
