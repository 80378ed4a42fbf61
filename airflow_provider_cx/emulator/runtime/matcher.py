"""Intent matching: exact phrase match first, then a documented TF-IDF similarity.

Every training phrase is a vector of features: stemmed words (:mod:`text`), one slot feature per
annotated part (``@sys.date``, weight 1) and the words inside annotated parts at 60% weight (they
are an example value: weaker evidence of the intent than the words around them). Words weigh
``idf(t) = 1 + ln(N / max(df(t), 3))`` over the agent's N training phrases (a word in one or two
phrases is no more telling than one in three). The utterance becomes a vector
the same way, per intent: its mentions of that intent's parameter entity types become slot features
(every type mentioning the span: "SFO" is both ``@airport-codes`` and ``@origin-city``), their words
kept at 60%, so "fly on March 3rd" meets "fly on @sys.date"; a word no phrase contains weighs 1.

An intent's score blends how close the utterance is to its nearest phrase and to the intent as a
whole, both by cosine; the whole is the sum of the intent's unit phrase vectors (its centroid),
scaled so that its own phrases score 1 on average::

    score(U, I) = 0.5 * max_p cos(U, p) + 0.5 * min(1, cos(U, centroid(I)) / typical(I))

An utterance equal to a training phrase (after folding case, accents and punctuation) scores 1.0.
The best in-scope candidate wins if its score reaches the classification threshold; if it is the
negative intent, the result is a no-match. Ties break by candidate order (route precedence), so the
result is deterministic.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_cx.emulator.runtime import index
from airflow_provider_cx.emulator.runtime.entities import non_overlapping, word_spans
from airflow_provider_cx.emulator.runtime.index import AgentIndex, IntentInfo, Phrase, slot_token
from airflow_provider_cx.emulator.runtime.sysentities import EntityMatch
from airflow_provider_cx.emulator.runtime.text import normalised

# Entity types whose mentions are everything: slotting them would erase the utterance.
_UNSLOTTABLE = {"@sys.any"}
# Weight of the slot of a fuzzy (misspelt or partial) entity mention.
FUZZY_SLOT = 0.5
# Share of the nearest phrase in an intent's score (the rest is the intent as a whole).
PHRASE_SHARE = 0.5

Vector = dict[str, float]


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
        self._mentions: dict[tuple[str, bool], list[EntityMatch]] = {}
        self._vectors: dict[tuple[str, ...], tuple[Vector, float]] = {}

    def mentions(self, entity_type: str, prompted: bool = False) -> list[EntityMatch]:
        key = (entity_type, prompted)
        if key not in self._mentions:
            extract = self.index.extractor(entity_type, self.language)
            self._mentions[key] = extract(self.text, self.today, prompted)
        return self._mentions[key]

    def vector(self, slot_types: tuple[str, ...], idf: dict[str, float]) -> tuple[Vector, float]:
        """The utterance as a feature vector for intents whose parameters have ``slot_types``, and its norm."""
        # Only the types the utterance mentions shape the vector: intents share vectors by those.
        slot_types = tuple(t for t in slot_types if t not in _UNSLOTTABLE and self.mentions(t))
        if slot_types not in self._vectors:
            found: list[tuple[EntityMatch, str]] = []
            for slot in slot_types:
                found.extend((m, slot) for m in self.mentions(slot))
            kept = non_overlapping([m for m, _slot in found])
            # A fuzzy mention is uncertain: its slot counts half and its words keep their full weight.
            exact = [(m.start, m.end) for m in kept if not m.fuzzy]
            spans = {(m.start, m.end): (FUZZY_SLOT if m.fuzzy else 1.0) for m in kept}
            features: dict[str, float] = {}
            for start, end, word in word_spans(self.text):
                inside = any(cs <= start and end <= ce for cs, ce in exact)
                mult = index.ANNOTATED_WORD if inside else 1.0
                features[word] = max(features.get(word, 0.0), mult)
            # A span several types mention ("SFO": @airport-codes and @origin-city) carries every slot.
            for match, slot in found:
                weight = spans.get((match.start, match.end))
                if weight is not None:
                    features[slot] = max(features.get(slot, 0.0), weight)
            vector = {tok: index.feature_weight(tok, mult, idf) for tok, mult in features.items()}
            self._vectors[slot_types] = (vector, math.sqrt(sum(w * w for w in vector.values())))
        return self._vectors[slot_types]


def cosine(u: Vector, u_norm: float, v: Vector, v_norm: float) -> float:
    if not u_norm or not v_norm:
        return 0.0
    if len(v) < len(u):
        u, v = v, u
    return sum(w * v.get(tok, 0.0) for tok, w in u.items()) / (u_norm * v_norm)


def score_intent(utterance: Utterance, info: IntentInfo, idf: dict[str, float]) -> float:
    if utterance.key in info.exact:
        return 1.0
    if not info.phrases:
        return 0.0
    u, u_norm = utterance.vector(info.slot_types, idf)
    if not u_norm:
        return 0.0
    dots: dict[int, float] = {}
    for tok, weight in u.items():
        for number, phrase_weight in info.postings.get(tok, ()):
            dots[number] = dots.get(number, 0.0) + weight * phrase_weight
    phrases = info.phrases
    nearest = max((dot / (u_norm * phrases[n].norm) for n, dot in dots.items()), default=0.0)
    whole = min(1.0, cosine(u, u_norm, info.centroid, info.centroid_norm) / (info.typical or 1.0))
    return PHRASE_SHARE * nearest + (1.0 - PHRASE_SHARE) * whole


def match_intent(utterance: Utterance, candidates: list[str], threshold: float) -> IntentMatch | None:
    """The best in-scope intent at or above ``threshold`` (a negative-intent win is returned as such)."""
    intents = utterance.index.intents(utterance.language)
    idf = utterance.index.weights(utterance.language)
    names = list(dict.fromkeys(c.strip() for c in candidates))
    negative = [name for name, info in intents.items() if info.is_negative]
    scored: list[tuple[float, int, str]] = []
    for order, name in enumerate([*names, *negative]):
        info = intents.get(name)
        if info is not None:
            scored.append((score_intent(utterance, info, idf), -order, name))
    if not scored:
        return None
    best, _, name = max(scored)
    if best < threshold or best == 0.0:
        return None
    info = intents[name]
    match = IntentMatch(info.display_name, round(best, 4), exact=best >= 1.0, negative=info.is_negative)
    if not info.is_negative:
        extract_intent_parameters(utterance, info, match)
    return match


def extract_intent_parameters(
    utterance: Utterance, info: IntentInfo, match: IntentMatch, phrase: Phrase | None = None
) -> None:
    """Fill the matched intent's parameters from entity mentions in the utterance.

    Several parameters may share an entity type (``Merch``, ``Merch1``…): the training phrase that
    best fits the mentions decides which ones fill (see :func:`template_phrase`), its annotations of
    each type taken in order; mentions beyond them fill the intent's other parameters of that type.
    ``phrase`` forces the template (a direct intent has none: first parameters first).
    """
    by_type: dict[str, list[str]] = {}
    for param_id, param in info.parameters.items():
        entity_type = slot_token(str(param.get("entityType", "")))
        if entity_type not in _UNSLOTTABLE:
            by_type.setdefault(entity_type, []).append(param_id)
    mentioned = {t: non_overlapping(utterance.mentions(t)) for t in by_type}
    mentioned = {t: m for t, m in mentioned.items() if m}
    if not mentioned:
        return
    template = phrase if phrase is not None else template_phrase(utterance, info, mentioned)
    for entity_type, mentions in mentioned.items():
        order = [pid for pid, slot, _t in (template.slots if template else ()) if slot == entity_type]
        order += [pid for pid in by_type[entity_type] if pid not in order]
        for position, param_id in enumerate(dict.fromkeys(order)):
            if position >= len(mentions):
                break
            if info.parameters[param_id].get("isList"):
                chosen = mentions[position:]
                match.parameters[param_id] = [m.value for m in chosen]
                match.originals[param_id] = ", ".join(m.original for m in chosen)
                break
            mention = mentions[position] if len(mentions) > 1 else mentions[0]
            match.parameters[param_id] = mention.value
            match.originals[param_id] = mention.original


def template_phrase(utterance: Utterance, info: IntentInfo, mentioned: dict[str, list[Any]]) -> Phrase | None:
    """The annotated training phrase that fits the utterance's mentions best.

    Fit = mentioned types the phrase annotates + mentions whose words equal one of its annotations
    - annotated types the utterance does not mention; ties go to the phrase nearest by cosine.
    """
    said = {t: {normalised(m.original) for m in ms} for t, ms in mentioned.items()}
    idf = utterance.index.weights(utterance.language)
    u, u_norm = utterance.vector(info.slot_types, idf)
    best: tuple[float, float, int] | None = None
    chosen = None
    for order, phrase in enumerate(info.phrases):
        if not phrase.slots:
            continue
        types = {slot for _p, slot, _t in phrase.slots}
        fit = len(types & said.keys())
        fit += sum(1 for _p, slot, text in phrase.slots if text in said.get(slot, ()))
        fit -= len(types - said.keys())
        key = (fit, cosine(u, u_norm, phrase.vector, phrase.norm), -order)
        if best is None or key > best:
            best, chosen = key, phrase
    return chosen
