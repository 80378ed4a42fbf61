"""Per-package look-up structures, built once so that each turn is cheap.

An :class:`AgentIndex` resolves flows (honouring flow snapshots an environment pins), pages, route
groups (flow-level first, then agent-level), intents with their prepared training phrases, and entity
types with their matchers, per language.
"""

from __future__ import annotations

import datetime as dt
import math
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
SLOT_WEIGHT = 1.0
NEGATIVE_INTENT = "Default Negative Intent"

Extract = Callable[[str, dt.date, bool], list[EntityMatch]]


@dataclass
class Phrase:
    """A training phrase ready for scoring: its literal tokens and its tokens with entity slots."""

    key: str
    literal: frozenset[str]
    slotted: frozenset[str]
    literal_weight: float = 0.0
    slotted_weight: float = 0.0


@dataclass
class IntentInfo:
    display_name: str
    parameters: dict[str, dict[str, Any]]
    phrases: list[Phrase]
    is_negative: bool
    slot_types: tuple[str, ...]
    exact: set[str] = field(default_factory=set)


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
        for source in (self.flow(flow).data if self.flow(flow) else {}, self.package.agent):
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
        phrase_count = 0
        lang = language if self._has_language(language) else self.package.default_language
        for intent in self.package.intents:
            params = {p.get("id", ""): p for p in intent.data.get("parameters", [])}
            phrases = []
            exact = set()
            for phrase in self.package.training_phrases(intent, lang):
                prepared = _prepare_phrase(phrase, params)
                phrases.append(prepared)
                exact.add(prepared.key)
                doc_freq.update(prepared.literal | prepared.slotted)
                phrase_count += 1
            name = intent.display_name
            slot_types = tuple(sorted({slot_token(str(p.get("entityType", ""))) for p in params.values()}))
            infos[name.strip()] = IntentInfo(
                display_name=name,
                parameters=params,
                phrases=phrases,
                is_negative=bool(intent.data.get("isFallback")) or name.strip() == NEGATIVE_INTENT,
                slot_types=slot_types,
                exact=exact,
            )
        total = max(phrase_count, 1)
        weights = {tok: 1.0 + math.log(total / df) for tok, df in doc_freq.items()}
        for tok in weights:
            if tok.startswith("@"):  # an entity slot alone is weak evidence of an intent
                weights[tok] = SLOT_WEIGHT
        self._weights[language] = weights
        for info in infos.values():
            for phrase in info.phrases:
                phrase.literal_weight = sum(weights[t] for t in phrase.literal)
                phrase.slotted_weight = sum(weights[t] for t in phrase.slotted)
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

    def warm(self, language: str | None = None) -> None:
        """Build the lazy parts now (intents and entity matchers), e.g. before a timed batch."""
        lang = language or self.package.default_language
        self.intents(lang)
        for entity_type in self.package.entity_types:
            self._entity_matcher(entity_type.display_name.strip(), lang)


def _prepare_phrase(phrase: dict[str, Any], params: dict[str, dict[str, Any]]) -> Phrase:
    literal_parts: list[str] = []
    slotted: list[str] = []
    for part in phrase.get("parts", []):
        text = str(part.get("text", ""))
        literal_parts.append(text)
        param_id = part.get("parameterId")
        if param_id and param_id in params:
            slotted.append(slot_token(str(params[param_id].get("entityType", ""))))
        else:
            slotted.extend(tokens(text))
    full = "".join(literal_parts)
    return Phrase(key=normalised(full), literal=frozenset(tokens(full)), slotted=frozenset(slotted))
