"""What changed between two agent packages, as data and as release notes.

Resources are matched by display name within their scope (pages and flow route groups within their
flow); a resource whose display name changed but whose id (``name``) did not is reported as renamed.
Routes (transition routes and event handlers) are matched by their id, or by their trigger when
they have none. Test-case run metadata (``lastTestResult``, ``creationTime``) is not content and is
ignored. Resources inside an added or removed flow are not listed one by one: the flow's entry says
how many pages it brings or takes away.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from airflow_provider_cx.package.markdown import md_code as markdown_code
from airflow_provider_cx.package.markdown import md_text
from airflow_provider_cx.package.model import AgentPackage, Flow, Resource

ADDED, REMOVED, CHANGED, RENAMED = "added", "removed", "changed", "renamed"
_R = TypeVar("_R", bound=Resource)
_WRAP = 100  # columns of the release notes' summary paragraph
_VOLATILE_KEYS = {"lastTestResult", "creationTime"}
_ROUTE_LISTS = {"transitionRoutes": "route", "eventHandlers": "event handler"}
_TYPE_OF_COLLECTION = {
    "flows": "flow",
    "intents": "intent",
    "entityTypes": "entityType",
    "webhooks": "webhook",
    "testCases": "testCase",
    "transitionRouteGroups": "transitionRouteGroup",
    "generators": "generator",
    "playbooks": "playbook",
    "tools": "tool",
}
# Release-note sections, in reading order: (resource type, heading).
_SECTIONS = (
    ("flow", "Flows"),
    ("page", "Pages"),
    ("transitionRouteGroup", "Route groups"),
    ("intent", "Intents"),
    ("entityType", "Entity types"),
    ("webhook", "Webhooks"),
    ("testCase", "Test cases"),
    ("generator", "Generators"),
    ("playbook", "Playbooks"),
    ("tool", "Tools"),
)


@dataclass(frozen=True)
class ResourceChange:
    """A resource added, removed, renamed or changed; ``details`` says what changed, briefly."""

    resource_type: str
    display_name: str
    change: str
    flow: str | None = None
    previous_name: str | None = None
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteChange:
    """A transition route or event handler added, removed or changed on a flow, page or route group."""

    owner_type: str  # "flow" | "page" | "transitionRouteGroup"
    owner: str
    flow: str | None
    change: str
    route: str  # e.g. "route on intent `help` → page `Help`"
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhraseChange:
    intent: str
    language: str
    change: str  # "added" | "removed"
    text: str


@dataclass(frozen=True)
class FileChange:
    """A file no resource owns (e.g. generative settings) added, removed or changed."""

    path: str
    change: str


@dataclass(frozen=True)
class PackageDiff:
    base_name: str = ""
    target_name: str = ""
    agent_settings: tuple[str, ...] = ()
    resources: tuple[ResourceChange, ...] = ()
    routes: tuple[RouteChange, ...] = ()
    training_phrases: tuple[PhraseChange, ...] = ()
    files: tuple[FileChange, ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        return not (self.agent_settings or self.resources or self.routes or self.training_phrases or self.files)

    def __bool__(self) -> bool:
        return not self.is_empty

    def of_type(self, resource_type: str) -> list[ResourceChange]:
        return [c for c in self.resources if c.resource_type == resource_type]

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts by resource type and change kind, e.g. ``{"page": {"added": 2}}``; routes included."""
        counts: dict[str, Counter[str]] = {}
        for change in self.resources:
            counts.setdefault(change.resource_type, Counter())[change.change] += 1
        for route in self.routes:
            counts.setdefault("route", Counter())[route.change] += 1
        for phrase in self.training_phrases:
            counts.setdefault("trainingPhrase", Counter())[phrase.change] += 1
        return {kind: dict(sorted(c.items())) for kind, c in counts.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base_name,
            "target": self.target_name,
            "empty": self.is_empty,
            "summary": self.summary(),
            "agent_settings": list(self.agent_settings),
            "resources": [_plain(asdict(c)) for c in self.resources],
            "routes": [_plain(asdict(c)) for c in self.routes],
            "training_phrases": [asdict(c) for c in self.training_phrases],
            "files": [asdict(c) for c in self.files],
        }

    def to_markdown(self, title: str | None = None) -> str:
        """Release notes: one section per kind of resource, most structural first."""
        return "\n".join(_release_notes(self, title)) + "\n"


def diff_packages(base: AgentPackage, target: AgentPackage) -> PackageDiff:
    """Everything that differs from ``base`` to ``target`` (pure: neither package is changed)."""
    resources: list[ResourceChange] = []
    routes: list[RouteChange] = []
    phrases: list[PhraseChange] = []
    collections = sorted(set(base.collections) | set(target.collections), key=_collection_order)
    for collection in collections:
        resource_type = _TYPE_OF_COLLECTION.get(collection, collection)
        pairs, added, removed = _match(base.collections.get(collection, []), target.collections.get(collection, []))
        resources += [ResourceChange(resource_type, r.display_name, ADDED, details=_brief(r)) for r in added]
        resources += [ResourceChange(resource_type, r.display_name, REMOVED, details=_brief(r)) for r in removed]
        for old, new in pairs:
            change = _resource_change(resource_type, old, new)
            if change:
                resources.append(change)
            if resource_type == "intent":
                phrases += _phrase_changes(old, new)
            if isinstance(old, Flow) and isinstance(new, Flow):
                resources += _flow_children(old, new)
                routes += _flow_routes(old, new)
            elif resource_type == "transitionRouteGroup":
                routes += _route_changes(old, new, "transitionRouteGroup", None)
    return PackageDiff(
        base_name=base.display_name,
        target_name=target.display_name,
        agent_settings=tuple(_changed_keys(base.agent, target.agent)),
        resources=tuple(resources),
        routes=tuple(routes),
        training_phrases=tuple(phrases),
        files=tuple(_file_changes(base.other_files, target.other_files)),
    )


# --- matching -------------------------------------------------------------------------------------
def _match(old: list[_R], new: list[_R]) -> tuple[list[tuple[_R, _R]], list[_R], list[_R]]:
    """Pairs by display name, then leftovers by id (renames); the rest are added / removed."""
    pairs: list[tuple[_R, _R]] = []
    new_by_name: dict[str, list[_R]] = {}
    for res in new:
        new_by_name.setdefault(res.display_name, []).append(res)
    unmatched_old: list[_R] = []
    for res in old:
        candidates = new_by_name.get(res.display_name)
        if candidates:
            pairs.append((res, candidates.pop(0)))
        else:
            unmatched_old.append(res)
    unmatched_new = [r for group in new_by_name.values() for r in group]
    new_by_id = {r.id: r for r in unmatched_new if r.id}
    removed: list[_R] = []
    for res in unmatched_old:
        twin = new_by_id.pop(res.id, None) if res.id else None
        if twin is not None:
            pairs.append((res, twin))
            unmatched_new.remove(twin)
        else:
            removed.append(res)
    return pairs, unmatched_new, removed


def _collection_order(collection: str) -> tuple[int, str]:
    order = list(_TYPE_OF_COLLECTION)
    return (order.index(collection) if collection in order else len(order), collection)


# --- resources ------------------------------------------------------------------------------------
def _resource_change(
    resource_type: str, old: Resource, new: Resource, flow: str | None = None
) -> ResourceChange | None:
    details = _details(resource_type, old, new)
    if old.display_name != new.display_name:
        return ResourceChange(resource_type, new.display_name, RENAMED, flow, old.display_name, tuple(details))
    if details:
        return ResourceChange(resource_type, new.display_name, CHANGED, flow, None, tuple(details))
    return None


def _details(resource_type: str, old: Resource, new: Resource) -> list[str]:
    skip = {"displayName", "name", *_VOLATILE_KEYS}
    if resource_type in ("flow", "page", "transitionRouteGroup"):
        skip |= set(_ROUTE_LISTS)  # reported route by route
    details = [f"{md_text(key)} changed" for key in _changed_keys(old.data, new.data, skip)]
    if resource_type == "testCase":
        turns = [len(_list(r.data.get("testCaseConversationTurns"))) for r in (old, new)]
        details = [
            f"conversation changed ({turns[0]} → {turns[1]} turns)" if d.startswith("testCaseConversationTurns") else d
            for d in details
        ]
    if resource_type == "intent":
        added, removed = _phrase_sets(old, new)
        if added or removed:
            details.append(f"+{len(added)} / -{len(removed)} training phrases")
    if resource_type == "entityType":
        details += _entity_details(old, new)
    own_parts = ("trainingPhrases/", "entities/") if resource_type in ("intent", "entityType") else ()
    for file in _file_changes(old.parts, new.parts):
        if not file.path.startswith(own_parts):
            details.append(f"file {md_text(file.path)} {file.change}")
    return details


def _brief(res: Resource) -> tuple[str, ...]:
    """What an added or removed resource brings along, in a few words."""
    if isinstance(res, Flow):
        return (f"{len(res.pages)} page(s)",)
    phrases = sum(len(_texts(part)) for path, part in res.parts.items() if path.startswith("trainingPhrases/"))
    return (f"{phrases} training phrase(s)",) if res.collection == "intents" else ()


def _flow_children(old: Flow, new: Flow) -> list[ResourceChange]:
    changes = []
    for kind, old_items, new_items in (
        ("page", old.pages, new.pages),
        ("transitionRouteGroup", old.route_groups, new.route_groups),
    ):
        pairs, added, removed = _match(old_items, new_items)
        flow = new.display_name
        changes += [ResourceChange(kind, r.display_name, ADDED, flow) for r in added]
        changes += [ResourceChange(kind, r.display_name, REMOVED, flow) for r in removed]
        for a, b in pairs:
            change = _resource_change(kind, a, b, flow)
            if change:
                changes.append(change)
    return changes


# --- routes ---------------------------------------------------------------------------------------
def _flow_routes(old: Flow, new: Flow) -> list[RouteChange]:
    flow = new.display_name
    changes = _route_changes(old, new, "flow", flow)
    for items in ((old.pages, new.pages), (old.route_groups, new.route_groups)):
        pairs, _, _ = _match(*items)
        for a, b in pairs:
            kind = "page" if a.collection == "pages" else "transitionRouteGroup"
            changes += _route_changes(a, b, kind, flow)
    return changes


def _route_changes(old: Resource, new: Resource, owner_type: str, flow: str | None) -> list[RouteChange]:
    changes = []
    for list_key, label in _ROUTE_LISTS.items():
        before, after = _routes(old.data.get(list_key)), _routes(new.data.get(list_key))
        paired = _pair_routes(before, after)
        for route in after:
            previous = paired.get(id(route))
            if previous is None:
                changes.append(RouteChange(owner_type, new.display_name, flow, ADDED, _describe(label, route)))
            elif _strip_id(previous) != _strip_id(route):
                details = tuple(_route_details(previous, route))
                changes.append(
                    RouteChange(owner_type, new.display_name, flow, CHANGED, _describe(label, route), details)
                )
        kept = {id(route) for route in paired.values()}
        for route in before:
            if id(route) not in kept:
                changes.append(RouteChange(owner_type, new.display_name, flow, REMOVED, _describe(label, route)))
    return changes


def _routes(routes: Any) -> list[dict[str, Any]]:
    return [route for route in _list(routes) if isinstance(route, dict)]


def _pair_routes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """``{id(new route): old route}``: the same route id, or else the same trigger, in order.

    Route ids differ between agents (dev and prod were created apart) and some exports have none,
    so a route the release only retargets must still pair with its old self, by what triggers it.
    """
    by_id = {_route_id(route): route for route in before if _route_id(route)}
    paired: dict[int, dict[str, Any]] = {}
    for route in after:
        previous = by_id.pop(_route_id(route), None)
        if previous is not None:
            paired[id(route)] = previous
    taken = {id(route) for route in paired.values()}
    by_trigger: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for route in before:
        if id(route) not in taken:
            by_trigger.setdefault(_trigger(route), []).append(route)
    for route in after:
        waiting = by_trigger.get(_trigger(route)) if id(route) not in paired else None
        if waiting:
            paired[id(route)] = waiting.pop(0)
    return paired


def _route_id(route: dict[str, Any]) -> str:
    name = route.get("name")
    return name if isinstance(name, str) else ""


def _trigger(route: dict[str, Any]) -> tuple[str, str, str]:
    return (str(route.get("intent")), str(route.get("condition")), str(route.get("event")))


def _strip_id(route: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in route.items() if k != "name"}


def _describe(label: str, route: dict[str, Any]) -> str:
    trigger = []
    if route.get("event"):
        trigger.append(f"event {markdown_code(route['event'])}")
    if route.get("intent"):
        trigger.append(f"intent {markdown_code(route['intent'])}")
    if route.get("condition"):
        trigger.append(f"condition {markdown_code(route['condition'])}")
    text = f"{label} on {' and '.join(trigger)}" if trigger else label
    for key, kind in (("targetPage", "page"), ("targetFlow", "flow"), ("targetPlaybook", "playbook")):
        if route.get(key):
            text += f" → {kind} {markdown_code(route[key])}"
    return text


def _route_details(old: dict[str, Any], new: dict[str, Any]) -> Iterator[str]:
    for key, label in (
        ("intent", "intent"),
        ("condition", "condition"),
        ("event", "event"),
        ("targetPage", "target page"),
        ("targetFlow", "target flow"),
        ("targetPlaybook", "target playbook"),
    ):
        if old.get(key) != new.get(key):
            yield f"{label} {_shown(old.get(key))} → {_shown(new.get(key))}"
    others = _changed_keys(
        old, new, {"name", "intent", "condition", "event", "targetPage", "targetFlow", "targetPlaybook"}
    )
    yield from (f"{md_text(key)} changed" for key in others)


def _shown(value: Any) -> str:
    return markdown_code(str(value)) if value not in (None, "") else "(none)"


# --- intents and entity types ---------------------------------------------------------------------
def _texts(part: Any) -> list[str]:
    phrases = part.get("trainingPhrases") if isinstance(part, dict) else None
    texts = []
    for phrase in phrases if isinstance(phrases, list) else []:
        parts = phrase.get("parts") if isinstance(phrase, dict) else None
        text = "".join(str(p.get("text", "")) for p in _list(parts) if isinstance(p, dict))
        texts.append(text.strip())
    return texts


def _phrases_by_lang(intent: Resource) -> dict[str, set[str]]:
    return {lang: set(_texts(part)) for lang, part in intent.language_parts("trainingPhrases").items()}


def _phrase_sets(old: Resource, new: Resource) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    before = {(lang, t) for lang, texts in _phrases_by_lang(old).items() for t in texts}
    after = {(lang, t) for lang, texts in _phrases_by_lang(new).items() for t in texts}
    return after - before, before - after


def _phrase_changes(old: Resource, new: Resource) -> list[PhraseChange]:
    added, removed = _phrase_sets(old, new)
    return [PhraseChange(new.display_name, lang, ADDED, text) for lang, text in sorted(added)] + [
        PhraseChange(new.display_name, lang, REMOVED, text) for lang, text in sorted(removed)
    ]


def _entities(entity_type: Resource) -> dict[tuple[str, str], tuple[str, ...]]:
    found = {}
    for lang, part in entity_type.language_parts("entities").items():
        entities = part.get("entities") if isinstance(part, dict) else None
        for entity in entities if isinstance(entities, list) else []:
            if isinstance(entity, dict):
                synonyms = _list(entity.get("synonyms"))
                found[(lang, str(entity.get("value", "")))] = tuple(sorted(map(str, synonyms)))
    return found


def _entity_details(old: Resource, new: Resource) -> list[str]:
    before, after = _entities(old), _entities(new)
    details = []
    for label, keys in (
        ("entities added", sorted(after.keys() - before.keys())),
        ("entities removed", sorted(before.keys() - after.keys())),
        ("synonyms changed", sorted(k for k in before.keys() & after.keys() if before[k] != after[k])),
    ):
        if keys:
            details.append(f"{label}: " + ", ".join(f"{md_text(value)} ({md_text(lang)})" for lang, value in keys))
    return details


# --- generic helpers ------------------------------------------------------------------------------
def _changed_keys(old: Any, new: Any, skip: Iterable[str] = ()) -> list[str]:
    old = old if isinstance(old, dict) else {}
    new = new if isinstance(new, dict) else {}
    skip = set(skip)
    return sorted(k for k in set(old) | set(new) if k not in skip and old.get(k) != new.get(k))


def _file_changes(old: dict[str, Any], new: dict[str, Any]) -> list[FileChange]:
    changes = [FileChange(p, ADDED) for p in sorted(new.keys() - old.keys())]
    changes += [FileChange(p, REMOVED) for p in sorted(old.keys() - new.keys())]
    changes += [FileChange(p, CHANGED) for p in sorted(old.keys() & new.keys()) if old[p] != new[p]]
    return changes


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


# --- release notes --------------------------------------------------------------------------------
def _release_notes(diff: PackageDiff, title: str | None) -> list[str]:
    if title is None:
        names = [n for n in (diff.base_name, diff.target_name) if n]
        title = "Release notes" + (f": {' → '.join(dict.fromkeys(names))}" if names else "")
    lines = [f"# {md_text(title)}", ""]
    if diff.is_empty:
        return [*lines, "No changes."]
    lines += [_summary_line(diff), ""]
    if diff.agent_settings:
        lines += ["## Agent settings", ""]
        lines += [f"- Changed {markdown_code(key)}" for key in diff.agent_settings]
        lines.append("")
    for resource_type, heading in _SECTIONS:
        changes = diff.of_type(resource_type)
        if changes:
            lines += [f"## {heading}", "", *(_resource_line(c, diff) for c in changes), ""]
    others = sorted({c.resource_type for c in diff.resources} - {t for t, _ in _SECTIONS})
    for resource_type in others:
        lines += [
            f"## {md_text(resource_type)}",
            "",
            *(_resource_line(c, diff) for c in diff.of_type(resource_type)),
            "",
        ]
    if diff.routes:
        lines += ["## Routes", ""]
        for route in diff.routes:
            owner = _owner_label(route)
            extra = f" ({'; '.join(route.details)})" if route.details else ""
            lines.append(f"- {owner}: **{route.change}** {route.route}{extra}")
        lines.append("")
    if diff.files:
        lines += [
            "## Other files",
            "",
            *(f"- **{f.change.capitalize()}** {markdown_code(f.path)}" for f in diff.files),
            "",
        ]
    return lines[:-1] if lines[-1] == "" else lines


def _summary_line(diff: PackageDiff) -> str:
    parts = []
    for kind, counts in diff.summary().items():
        label = {"entityType": "entity type", "testCase": "test case", "transitionRouteGroup": "route group"}
        label.update(trainingPhrase="training phrase")
        for change, n in counts.items():
            parts.append(f"{n} {label.get(kind, md_text(kind))}{'s' if n != 1 else ''} {change}")
    if diff.agent_settings:
        parts.append(f"{len(diff.agent_settings)} agent setting(s) changed")
    if diff.files:
        parts.append(f"{len(diff.files)} other file(s) changed")
    # Wrapped: a Markdown paragraph may span lines, and a one-line summary of a big release is unreadable.
    text = "**Summary:** " + ", ".join(parts) + "."
    return textwrap.fill(text, width=_WRAP, break_long_words=False, break_on_hyphens=False)


def _resource_line(change: ResourceChange, diff: PackageDiff) -> str:
    label = {"entityType": "entity type", "testCase": "test case", "transitionRouteGroup": "route group"}
    kind = label.get(change.resource_type, md_text(change.resource_type))
    name = markdown_code(change.display_name)
    if change.change == RENAMED:
        text = f"- **Renamed** {kind} {markdown_code(change.previous_name or '')} → {name}"
    else:
        text = f"- **{change.change.capitalize()}** {kind} {name}"
    if change.flow and change.resource_type != "flow":
        text += f" (flow {markdown_code(change.flow)})"
    if change.details:
        text += ": " + "; ".join(change.details)
    if change.resource_type == "intent":
        phrases = [p for p in diff.training_phrases if p.intent == change.display_name]
        text += "".join(
            f"\n  - {md_text(p.language)}: {'+' if p.change == ADDED else '-'} {markdown_code(p.text)}" for p in phrases
        )
    return text


def _owner_label(route: RouteChange) -> str:
    name = markdown_code(route.owner)
    if route.owner_type == "flow":
        return f"flow {name} (start page)"
    where = f" of flow {markdown_code(route.flow)}" if route.flow else ""
    kind = "page" if route.owner_type == "page" else "route group"
    return f"{kind} {name}{where}"
