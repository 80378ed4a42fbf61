"""Per-package look-up structures, built once so that each turn is cheap.

An :class:`AgentIndex` resolves flows (honouring flow snapshots an environment pins), pages, route
groups (flow-level first, then agent-level), intents with their prepared training phrases, and entity
types with their matchers, per language.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_cx.emulator.runtime import sysentities
from airflow_provider_cx.emulator.runtime.entities import EntityTypeMatcher
from airflow_provider_cx.emulator.runtime.sysentities import EntityMatch
from airflow_provider_cx.emulator.runtime.text import normalised, tokens
from airflow_provider_cx.package.model import AgentPackage, Flow, Resource

DEFAULT_THRESHOLD = 0.3
# Results of intent matching remembered per index (see AgentIndex.remembered_match).
MATCH_CACHE = 8192
_MISSING = object()
# Multiplier of the words inside an annotated part of a training phrase (see Phrase).
ANNOTATED_WORD = 0.6
# Weight of an entity slot feature: an entity alone is weaker evidence than a word.
SLOT_WEIGHT = 1.0
# IDF counts a word seen in fewer phrases as seen in this many: one stray example ("that info is not
# correct") must not outweigh a word an intent's phrases use again and again ("flight").
MIN_DOC_FREQ = 3
# Weight of a word no training phrase contains: it says nothing about any intent.
UNKNOWN_WORD = 1.0


def feature_weight(token: str, multiplier: float, idf: dict[str, float]) -> float:
    if token.startswith("@"):
        return multiplier * SLOT_WEIGHT
    return multiplier * idf.get(token, UNKNOWN_WORD)


NEGATIVE_INTENT = "Default Negative Intent"

Extract = Callable[[str, dt.date, bool], list[EntityMatch]]


@dataclass
class Phrase:
    """A training phrase ready for scoring: its feature vector (token -> TF-IDF weight) and its norm.

    Features are stemmed words, entity slots (``@sys.date`` for an annotated part) and, at a reduced
    weight (:data:`ANNOTATED_WORD`), the words inside annotated parts: an annotation's words are an
    example of the entity, weaker evidence of the intent than the words around it.
    """

    key: str
    features: dict[str, float]
    # (parameter id, slot, normalised text) of each annotated part, in order: which parameter a
    # mention fills.
    slots: tuple[tuple[str, str, str], ...] = ()
    vector: dict[str, float] = field(default_factory=dict)
    norm: float = 0.0


@dataclass
class IntentInfo:
    display_name: str
    parameters: dict[str, dict[str, Any]]
    phrases: list[Phrase]
    is_negative: bool
    slot_types: tuple[str, ...]
    exact: set[str] = field(default_factory=set)
    # The sum of the intent's unit phrase vectors: what its phrases say together.
    centroid: dict[str, float] = field(default_factory=dict)
    centroid_norm: float = 0.0
    # How close its own phrases come to the centroid on average (cosine): the scale of "typical".
    typical: float = 1.0
    # token -> [(phrase index, weight)]: only phrases sharing a token with the input are scored.
    postings: dict[str, list[tuple[int, float]]] = field(default_factory=dict)


def slot_token(entity_type: str) -> str:
    return "@" + entity_type.lstrip("@").strip()


class AgentIndex:
    """Everything the engine looks up, by display name, for one package (and optional flow snapshots)."""

    def __init__(self, package: AgentPackage, flow_snapshots: dict[str, Flow] | None = None) -> None:
        self.package = package
        self.flows: dict[str, Flow] = {f.display_name.strip(): f for f in package.flows}
        for name, flow in (flow_snapshots or {}).items():
            self.flows[name.strip()] = flow
        self.pages: dict[tuple[str, str], Resource] = {}
        self.page_ids: dict[str, tuple[str, str]] = {}
        for flow_name, flow in self.flows.items():
            for page in flow.pages:
                self.pages[(flow_name, page.display_name.strip())] = page
                if page.id:
                    self.page_ids[page.id] = (flow_name, page.display_name.strip())
        self.agent_groups = {g.display_name.strip(): g for g in package.route_groups}
        self.webhooks = {w.display_name.strip(): w for w in package.webhooks}
        self._intents: dict[str, dict[str, IntentInfo]] = {}
        self._weights: dict[str, dict[str, float]] = {}
        self._entity_matchers: dict[tuple[str, str], EntityTypeMatcher | None] = {}
        self._matches: dict[tuple[Any, ...], Any] = {}
        self._matches_lock = threading.Lock()

    # --- structure ------------------------------------------------------------------------------
    @property
    def start_flow(self) -> str:
        return self.package.start_flow_name.strip()

    def flow(self, name: str) -> Flow | None:
        flow = self.flows.get(name.strip())
        if flow is None:
            found = self.package.flow(name)
            return found if found is not None else None
        return flow

    def page(self, flow: str, name: str) -> Resource | None:
        return self.pages.get((flow.strip(), name.strip()))

    def route_group(self, flow: str, name: str) -> Resource | None:
        owner = self.flow(flow)
        if owner is not None:
            group = owner.route_group(name)
            if group is not None:
                return group
        return self.agent_groups.get(name.strip())

    def threshold(self, flow: str) -> float:
        owner = self.flow(flow)
        for source in (owner.data if owner is not None else {}, self.package.agent):
            value = (source.get("nluSettings") or {}).get("classificationThreshold")
            if value is not None:
                return float(value)
        return DEFAULT_THRESHOLD

    # --- intents ---------------------------------------------------------------------------------
    def intents(self, language: str) -> dict[str, IntentInfo]:
        if language not in self._intents:
            self._build_intents(language)
        return self._intents[language]

    def weights(self, language: str) -> dict[str, float]:
        self.intents(language)
        return self._weights[language]

    def _build_intents(self, language: str) -> None:
        infos: dict[str, IntentInfo] = {}
        doc_freq: Counter[str] = Counter()
        lang = language if self._has_language(language) else self.package.default_language
        for intent in self.package.intents:
            params = {p.get("id", ""): p for p in intent.data.get("parameters", [])}
            phrases = [_prepare_phrase(phrase, params) for phrase in self.package.training_phrases(intent, lang)]
            for phrase in phrases:
                doc_freq.update(phrase.features.keys())
            name = intent.display_name
            slot_types = tuple(sorted({slot_token(str(p.get("entityType", ""))) for p in params.values()}))
            infos[name.strip()] = IntentInfo(
                display_name=name,
                parameters=params,
                phrases=phrases,
                is_negative=bool(intent.data.get("isFallback")) or name.strip() == NEGATIVE_INTENT,
                slot_types=slot_types,
                exact={p.key for p in phrases},
            )
        total = max(sum(len(info.phrases) for info in infos.values()), 1)
        idf = {tok: 1.0 + math.log(total / max(df, MIN_DOC_FREQ)) for tok, df in doc_freq.items()}
        self._weights[language] = idf
        for info in infos.values():
            _vectorise(info, idf)
        self._intents[language] = infos

    def _has_language(self, language: str) -> bool:
        return language in self.package.languages()

    # --- entities --------------------------------------------------------------------------------
    def extractor(self, entity_type: str, language: str) -> Extract:
        """A function that finds mentions of ``entity_type`` (``@name`` or ``@sys.x``) in a text."""
        name = entity_type.lstrip("@").strip()
        if sysentities.is_system(name):
            return sysentities.extractor(name)
        matcher = self._entity_matcher(name, language)
        if matcher is None:
            return sysentities.prompted_only

        def extract(text: str, today: dt.date, prompted: bool) -> list[EntityMatch]:
            return matcher.find(text, today, prompted, lambda ref: self.extractor(ref, language))

        return extract

    def _entity_matcher(self, name: str, language: str) -> EntityTypeMatcher | None:
        key = (name, language)
        if key not in self._entity_matchers:
            resource = self.package.entity_type(name)
            if resource is None:
                self._entity_matchers[key] = None
            else:
                lang = language if self.package.entities(resource, language) else self.package.default_language
                self._entity_matchers[key] = EntityTypeMatcher.build(
                    resource.data, self.package.entities(resource, lang)
                )
        return self._entity_matchers[key]

    def remembered_match(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """Intent matching is a pure function of the input and the routes in scope: remember recent
        results (bounded), since conversations repeat inputs ("yes", "no") across sessions. A copy
        is returned, so a caller may change it."""
        with self._matches_lock:
            found = self._matches.get(key, _MISSING)
        if found is _MISSING:
            found = compute()
            with self._matches_lock:
                if len(self._matches) >= MATCH_CACHE:
                    self._matches.clear()
                self._matches[key] = found
        return copy.deepcopy(found)

    def clear_caches(self) -> None:
        """Forget remembered matches and entity look-ups (benchmarks measure the work without them)."""
        with self._matches_lock:
            self._matches.clear()
        for matcher in self._entity_matchers.values():
            if matcher is not None:
                matcher.clear_cache()

    def warm(self, language: str | None = None) -> None:
        """Build the lazy parts now (intents and entity matchers), e.g. before a timed batch."""
        lang = language or self.package.default_language
        self.intents(lang)
        for entity_type in self.package.entity_types:
            self._entity_matcher(entity_type.display_name.strip(), lang)


def _prepare_phrase(phrase: dict[str, Any], params: dict[str, dict[str, Any]]) -> Phrase:
    texts: list[str] = []
    features: dict[str, float] = {}
    slots: list[tuple[str, str, str]] = []
    for part in phrase.get("parts", []):
        text = str(part.get("text", ""))
        texts.append(text)
        param_id = part.get("parameterId")
        annotated = bool(param_id) and param_id in params
        if annotated:
            slot = slot_token(str(params[param_id].get("entityType", "")))
            features[slot] = 1.0
            slots.append((str(param_id), slot, normalised(text)))
        for word in tokens(text):
            weight = ANNOTATED_WORD if annotated else 1.0
            features[word] = max(features.get(word, 0.0), weight)
    return Phrase(key=normalised("".join(texts)), features=features, slots=tuple(slots))


def _vectorise(info: IntentInfo, idf: dict[str, float]) -> None:
    """Weigh each phrase's features by IDF; sum the unit phrase vectors into the intent's centroid."""
    centroid: dict[str, float] = {}
    info.postings = {}
    for number, phrase in enumerate(info.phrases):
        phrase.vector = {tok: feature_weight(tok, mult, idf) for tok, mult in phrase.features.items()}
        for tok, weight in phrase.vector.items():
            info.postings.setdefault(tok, []).append((number, weight))
        phrase.norm = math.sqrt(sum(w * w for w in phrase.vector.values()))
        if phrase.norm:
            for tok, weight in phrase.vector.items():
                centroid[tok] = centroid.get(tok, 0.0) + weight / phrase.norm
    info.centroid = centroid
    info.centroid_norm = math.sqrt(sum(w * w for w in centroid.values()))
    closeness = [
        sum(w * centroid[t] for t, w in p.vector.items()) / (p.norm * info.centroid_norm)
        for p in info.phrases
        if p.norm and info.centroid_norm
    ]
    info.typical = sum(closeness) / len(closeness) if closeness else 1.0
