"""A read-only index of an :class:`AgentPackage` that the rules share.

Rules ask questions of the package ("which pages does this page route to?", "who uses this intent?");
answering them means walking every flow, page and route group, so the answers are computed once
here. Everything is defensive about shape: packages come from outside, and a field holding a string
where a list belongs must make a rule see nothing, never crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from airflow_provider_cx.flow_reachability import flow_targets, playbook_flow_refs, reachable_flows
from airflow_provider_cx.package.lint.registry import Hit
from airflow_provider_cx.package.model import AgentPackage, Flow, Resource

if TYPE_CHECKING:
    from airflow_provider_cx.package.lint.config import LintConfig

_R = TypeVar("_R", bound=Resource)

# Symbolic transition targets (CX "special pages"); exports write them as display names
# ("End Flow") or, in prebuilt components, as enum names ("END_FLOW_WITH_FAILURE").
_START_TARGETS = {"start page", "start"}
_SYMBOLIC_TARGETS = _START_TARGETS | {
    "end flow",
    "end session",
    "previous page",
    "current page",
    "end flow with failure",
    "end flow with human escalation",
    "end flow with cancellation",
}
# Subtrees that hold user data rather than agent structure: a key named "webhook" or "targetPage"
# inside a custom payload or a parameter value is not a reference.
_OPAQUE_KEYS = {"setParameterActions", "payload", "sessionParameters", "parameterMapping", "requestBody"}
_SYS_PREFIX = "sys."


def symbolic_target(name: str) -> str | None:
    """The normalised symbolic page ("end flow", "start page"…) that ``name`` denotes, if any."""
    key = re.sub(r"[\s_]+", " ", name).strip().casefold()
    if key in _START_TARGETS:
        return "start page"
    return key if key in _SYMBOLIC_TARGETS else None


def normalize_phrase(text: str) -> str:
    """Comparable form of an utterance: case, punctuation and spacing do not change what NLU hears."""
    return " ".join(re.sub(r"[^\w'\s]", " ", text.casefold()).split())


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def walk(value: Any) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every dict inside ``value`` (pre-order), with the event of the nearest enclosing event handler."""
    stack: list[tuple[Any, str | None]] = [(value, None)]
    while stack:
        node, event = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("event"), str):
                event = node["event"]
            yield node, event
            children = [v for k, v in node.items() if k not in _OPAQUE_KEYS and isinstance(v, dict | list)]
        elif isinstance(node, list):
            children = [v for v in node if isinstance(v, dict | list)]
        else:
            continue
        stack.extend((child, event) for child in reversed(children))


@dataclass(frozen=True, eq=False)
class Owner:
    """A resource that holds transitions: a flow (its start page), a page, or a route group."""

    kind: str  # "flow" | "page" | "transitionRouteGroup"
    resource: Resource
    path: str
    flow: Flow | None

    @property
    def data(self) -> dict[str, Any]:
        return self.resource.data if isinstance(self.resource.data, dict) else {}

    @property
    def display_name(self) -> str:
        return self.resource.display_name

    @property
    def flow_name(self) -> str | None:
        return self.flow.display_name if self.flow is not None else None

    def describe(self) -> str:
        name = self.display_name
        if self.kind == "flow":
            return f"flow {name!r}"
        if self.kind == "page":
            return f"page {name!r} of flow {self.flow_name!r}"
        where = f" of flow {self.flow_name!r}" if self.flow is not None else ""
        return f"route group {name!r}{where}"

    def hit(self, problem: str, *others: str) -> Hit:
        """A Hit on this resource; ``others`` are further display names the finding concerns."""
        return Hit(
            f"{self.path}: {self.describe()} {problem}",
            self.path,
            self.kind,
            (self.display_name, *others),
            self.flow_name,
        )


@dataclass(frozen=True)
class Transition:
    """One place in an owner that moves the session: a route, an event handler, a reprompt handler…"""

    owner: Owner
    node: dict[str, Any]
    event: str | None

    @property
    def target_page(self) -> str:
        return as_str(self.node.get("targetPage"))

    @property
    def target_flow(self) -> str:
        return as_str(self.node.get("targetFlow"))

    @property
    def target_playbook(self) -> str:
        return as_str(self.node.get("targetPlaybook"))

    def describe(self) -> str:
        if as_str(self.node.get("intent")):
            trigger = f"the route on intent {self.node['intent']!r}"
        elif as_str(self.node.get("condition")):
            trigger = f"the route on condition {self.node['condition']!r}"
        elif as_str(self.node.get("event")):
            trigger = f"the handler of event {self.node['event']!r}"
        else:
            trigger = "a transition"
        return trigger


@dataclass(frozen=True)
class TextMessage:
    owner: Owner
    texts: tuple[str, ...]
    language: str
    event: str | None


@dataclass(frozen=True)
class TestTurn:
    """One conversation turn of a test case, with what the test expects."""

    test_case: Resource
    index: int
    text: str
    language: str
    triggered_intent: str
    page: str
    page_flow: str
    current_flow: str


@dataclass
class FlowGraph:
    """The pages of one flow as a graph; the flow owner stands for its start page."""

    start: Owner
    pages: list[Owner]
    edges: dict[Owner, set[Owner]]
    has_exit: dict[Owner, bool]

    @cached_property
    def reachable(self) -> set[Owner]:
        seen = {self.start}
        todo = [self.start]
        while todo:
            for nxt in self.edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    @cached_property
    def referenced(self) -> set[Owner]:
        """Pages some other node transitions to (a page routing to itself does not count)."""
        return {dst for src, dsts in self.edges.items() for dst in dsts if dst is not src}


class LintContext:
    """The package, the configuration, and the indexes the rules share."""

    def __init__(self, package: AgentPackage, config: LintConfig) -> None:
        self.package = package
        self.config = config
        # One walk over the package: path_of() per resource would walk it again each time.
        self._paths = {id(res): path for path, res in package.iter_resources()}
        self.owners: list[Owner] = []
        self._flow_owners: dict[int, list[Owner]] = {}
        for flow in package.flows:
            owners = [Owner("flow", flow, self.path(flow), flow)]
            owners += [Owner("page", page, self.path(page), flow) for page in flow.pages]
            owners += [Owner("transitionRouteGroup", g, self.path(g), flow) for g in flow.route_groups]
            self._flow_owners[id(flow)] = owners
            self.owners += owners
        self.agent_groups = [Owner("transitionRouteGroup", g, self.path(g), None) for g in package.route_groups]
        self.owners += self.agent_groups
        self._owners_by_resource = {id(o.resource): o for o in self.owners}
        self._graphs: dict[int, FlowGraph] = {}
        self._nodes: dict[int, list[tuple[dict[str, Any], str | None]]] = {}
        self._indexes: dict[int, _NameIndex[Any]] = {}

    # --- look-ups by display name (indexed: rules look names up once per reference) -------------
    def _lookup(self, items: list[_R], name: str) -> _R | None:
        index = self._indexes.get(id(items))
        if index is None:
            index = self._indexes[id(items)] = _NameIndex(items)
        return index.get(name)

    def intent(self, name: str) -> Resource | None:
        return self._lookup(self.package.intents, name)

    def webhook(self, name: str) -> Resource | None:
        return self._lookup(self.package.webhooks, name)

    def entity_type(self, name: str) -> Resource | None:
        return self._lookup(self.package.entity_types, name)

    def flow(self, name: str) -> Flow | None:
        return self._lookup(self.package.flows, name)

    def page(self, flow: Flow, name: str) -> Resource | None:
        return self._lookup(flow.pages, name)

    def nodes(self, owner: Owner) -> list[tuple[dict[str, Any], str | None]]:
        """Every dict inside an owner with its enclosing event (see :func:`walk`), computed once."""
        if id(owner) not in self._nodes:
            self._nodes[id(owner)] = list(walk(owner.data))
        return self._nodes[id(owner)]

    def path(self, resource: Resource) -> str:
        """The package path of a resource's main file."""
        return self._paths[id(resource)]

    # --- owners and their transitions ---------------------------------------------------------
    def flow_owners(self, flow: Flow) -> list[Owner]:
        return self._flow_owners.get(id(flow), [])

    def transitions(self, owner: Owner) -> list[Transition]:
        return self._transitions[id(owner)]

    @cached_property
    def _transitions(self) -> dict[int, list[Transition]]:
        found: dict[int, list[Transition]] = {}
        for owner in self.owners:
            found[id(owner)] = [
                Transition(owner, node, event)
                for node, event in self.nodes(owner)
                if any(key in node for key in ("targetPage", "targetFlow", "targetPlaybook"))
            ]
        return found

    def route_group_refs(self, owner: Owner) -> list[tuple[str, Owner | None]]:
        """The route groups an owner uses, by name, resolved to their owner (None when missing)."""
        refs = []
        for name in as_list(owner.data.get("transitionRouteGroups")):
            if not isinstance(name, str):
                continue
            group = owner.flow.route_group(name) if owner.flow is not None else None
            resource = group or self.package.find("transitionRouteGroups", name)
            refs.append((name, self._owner_of(resource)))
        return refs

    def _owner_of(self, resource: Resource | None) -> Owner | None:
        return self._owners_by_resource.get(id(resource)) if resource is not None else None

    def resolve_page(self, flow: Flow | None, name: str) -> Owner | None:
        """The page (or, for "Start Page", the flow) a target names; None for other symbols or misses."""
        if flow is None:
            return None
        if symbolic_target(name) == "start page" and self.page(flow, name) is None:
            return self.flow_owners(flow)[0]
        return self._owner_of(self.page(flow, name))

    # --- graphs ---------------------------------------------------------------------------------
    def graph(self, flow: Flow) -> FlowGraph:
        if id(flow) not in self._graphs:
            self._graphs[id(flow)] = self._build_graph(flow)
        return self._graphs[id(flow)]

    def _build_graph(self, flow: Flow) -> FlowGraph:
        owners = self.flow_owners(flow)
        start, pages = owners[0], [o for o in owners if o.kind == "page"]
        edges: dict[Owner, set[Owner]] = {}
        has_exit: dict[Owner, bool] = {}
        for node in [start, *pages]:
            edges[node], has_exit[node] = set(), False
            for transition in self.node_transitions(node):
                if transition.target_flow or transition.target_playbook:
                    has_exit[node] = True
                if not transition.target_page:
                    continue
                if symbolic_target(transition.target_page) != "current page":
                    has_exit[node] = True
                target = self.resolve_page(flow, transition.target_page)
                if target is not None:
                    edges[node].add(target)
        return FlowGraph(start, pages, edges, has_exit)

    def node_transitions(self, owner: Owner) -> list[Transition]:
        """An owner's own transitions plus those of the route groups it uses."""
        found = list(self.transitions(owner))
        for _, group in self.route_group_refs(owner):
            if group is not None:
                found += self.transitions(group)
        return found

    @cached_property
    def reachable_flows(self) -> set[int] | None:
        """Ids of the flows a session can reach from the start flow (or from playbooks); None if unknown.

        The rule is :mod:`airflow_provider_cx.flow_reachability`'s, shared with the API path.
        """
        by_id = {id(flow): flow for flow in self.package.flows}
        names = [flow.display_name for flow in self.package.flows]
        start = self.flow(self.package.start_flow_name)
        roots = [id(start) if start is not None else None]
        for name in playbook_flow_refs((playbook.data for playbook in self.package.resources("playbooks")), names):
            roots.append(id(self.flow(name)))

        def resolve(reference: str) -> str | None:
            target = self.flow(reference)
            return str(id(target)) if target is not None else None

        def targets_of(key: str) -> set[str]:
            flow = by_id[int(key)]
            owners = [owner for owner in self.flow_owners(flow) if owner.kind != "transitionRouteGroup"]
            used = [group for owner in owners for _, group in self.route_group_refs(owner) if group is not None]
            return flow_targets((owner.data for owner in [*owners, *used]), resolve)

        reached = reachable_flows([str(root) if root is not None else None for root in roots], targets_of)
        return None if reached is None else {int(key) for key in reached}

    # --- references -----------------------------------------------------------------------------
    def intent_refs(self, owner: Owner) -> list[tuple[str, dict[str, Any]]]:
        """(intent name, route) for every intent route of an owner."""
        return [(as_str(n.get("intent")), n) for n, _ in self.nodes(owner) if as_str(n.get("intent"))]

    def webhook_refs(self, owner: Owner) -> list[str]:
        return [as_str(n.get("webhook")) for n, _ in self.nodes(owner) if as_str(n.get("webhook"))]

    @cached_property
    def used_intents(self) -> set[int]:
        used = set()
        for owner in self.owners:
            for name, _ in self.intent_refs(owner):
                intent = self.intent(name)
                if intent is not None:
                    used.add(id(intent))
        return used

    @cached_property
    def used_webhooks(self) -> set[int]:
        used = set()
        for owner in self.owners:
            for name in self.webhook_refs(owner):
                webhook = self.webhook(name)
                if webhook is not None:
                    used.add(id(webhook))
        # Playbooks and tools may call webhooks too.
        names = {w.display_name: w for w in self.package.webhooks}
        for collection in ("playbooks", "tools"):
            for res in self.package.resources(collection):
                used |= {id(names[s]) for s in _strings(res.data) if s in names}
        return used

    # --- messages -------------------------------------------------------------------------------
    def text_messages(self, owner: Owner) -> list[TextMessage]:
        found = []
        for node, event in self.nodes(owner):
            text = as_dict(node.get("text"))
            texts = tuple(t for t in as_list(text.get("text")) if isinstance(t, str))
            if "text" in text:
                language = as_str(node.get("languageCode")) or self.package.default_language
                found.append(TextMessage(owner, texts, language, event))
        return found

    # --- intents and test cases -----------------------------------------------------------------
    def phrase_texts(self, intent: Resource) -> dict[str, list[str]]:
        """Training phrase texts of an intent by language (a phrase's text is its parts joined)."""
        by_lang: dict[str, list[str]] = {}
        for lang, part in intent.language_parts("trainingPhrases").items():
            phrases = as_list(as_dict(part).get("trainingPhrases"))
            by_lang[lang] = [_phrase_text(p) for p in phrases if isinstance(p, dict)]
        return by_lang

    def entity_values(self, entity_type: Resource) -> list[tuple[str, list[str]]]:
        """(value, synonyms) of every entity of an entity type, all languages."""
        found = []
        for part in entity_type.language_parts("entities").values():
            for entity in as_list(as_dict(part).get("entities")):
                entity = as_dict(entity)
                synonyms = [s for s in as_list(entity.get("synonyms")) if isinstance(s, str)]
                found.append((as_str(entity.get("value")), synonyms))
        return found

    def test_turns(self, test_case: Resource) -> list[TestTurn]:
        turns = []
        for index, turn in enumerate(as_list(test_case.data.get("testCaseConversationTurns")), start=1):
            user_input = as_dict(as_dict(turn).get("userInput")).get("input")
            output = as_dict(as_dict(turn).get("virtualAgentOutput"))
            page = as_dict(output.get("currentPage"))
            turns.append(
                TestTurn(
                    test_case=test_case,
                    index=index,
                    text=as_str(as_dict(as_dict(user_input).get("text")).get("text")),
                    language=as_str(as_dict(user_input).get("languageCode")) or self.package.default_language,
                    triggered_intent=as_str(as_dict(output.get("triggeredIntent")).get("name")),
                    page=as_str(page.get("name")),
                    page_flow=as_str(page.get("flow")),
                    current_flow=as_str(as_dict(output.get("currentFlow")).get("name")),
                )
            )
        return turns

    # --- hits on resources outside flows --------------------------------------------------------
    def hit(self, resource: Resource, resource_type: str, problem: str, *others: str) -> Hit:
        """A Hit on an agent-level resource (intent, entity type, webhook, test case)."""
        path = self.path(resource)
        label = {"entityType": "entity type", "testCase": "test case"}.get(resource_type, resource_type)
        message = f"{path}: {label} {resource.display_name!r} {problem}"
        return Hit(message, path, resource_type, (resource.display_name, *others), None)


class _NameIndex(Generic[_R]):
    """Display name -> first resource with it; then the same for names without stray whitespace,
    which is how :class:`AgentPackage` look-ups resolve references too."""

    def __init__(self, items: list[_R]) -> None:
        self.exact: dict[str, _R] = {}
        self.stripped: dict[str, _R] = {}
        for item in items:
            self.exact.setdefault(item.display_name, item)
            self.stripped.setdefault(item.display_name.strip(), item)

    def get(self, name: str) -> _R | None:
        found = self.exact.get(name)
        return found if found is not None else self.stripped.get(name.strip())


def _phrase_text(phrase: dict[str, Any]) -> str:
    return "".join(as_str(as_dict(part).get("text")) for part in as_list(phrase.get("parts")))


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def is_system_entity(name: str) -> bool:
    return name.lstrip("@").startswith(_SYS_PREFIX)
