"""The in-memory model of a Dialogflow CX agent package (the JSON_PACKAGE export format).

A package is a tree of JSON files whose resources refer to each other by display name. The model
keeps every file it reads: resources it understands are parsed into :class:`Resource` objects, and
whatever it does not know (new folders, new fields) is carried along verbatim, so reading a package
and writing it back is lossless.

File and folder names are kept as they were read (``stem``): real exports percent-encode some
characters, keep trailing spaces and truncate long names, so a name cannot be recomputed from the
display name. New resources get a stem from :func:`encode_stem`.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

JSON = Any
_R = TypeVar("_R", bound="Resource")

# Top-level collections whose resources live in a folder of their own: <collection>/<stem>/<stem>.json,
# with the resource's other files (training phrases, entities, phrases, pages…) beside it.
FOLDER_COLLECTIONS = (
    "flows",
    "intents",
    "entityTypes",
    "generators",
    "playbooks",
    "tools",
    "transitionRouteGroups",
)
# Top-level collections whose resources are single files: <collection>/<stem>.json.
FILE_COLLECTIONS = ("webhooks", "testCases")
AGENT_FILE = "agent.json"

# Characters Dialogflow escapes in file names (seen in real exports: %27 %3a %3e), plus path separators.
_ESCAPED = set("%/\\:*?\"'<>|")


class PackageError(ValueError):
    """The package cannot be read or is not a Dialogflow CX JSON package."""


class PackageLimitError(PackageError):
    """The package exceeds a reading limit (bytes, files, nesting or compression ratio): see ``ReadLimits``."""


class UnsafePackageError(PackageError):
    """The archive is built so that tools could disagree on it or a reader could be harmed.

    Paths that escape the package, duplicate entries, encrypted entries and compression methods no
    agent export uses.
    """


def encode_stem(display_name: str) -> str:
    """File-name form of a display name, escaping what exports escape (lower-case hex, as CX writes it)."""
    if not display_name.strip():
        raise PackageError("a display name must not be empty")
    out: list[str] = []
    for char in display_name:
        if char in _ESCAPED or ord(char) < 32:
            out.extend(f"%{byte:02x}" for byte in char.encode())
        else:
            out.append(char)
    return "".join(out)


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Resource:
    """One resource of a package: its main JSON object and the files that belong to it.

    ``parts`` holds the resource's other files by path relative to its folder, e.g.
    ``{"trainingPhrases/en.json": {...}}`` for an intent or ``{"entities/en.json": {...}}`` for an
    entity type. Values are parsed JSON, or bytes for files that are not JSON.
    """

    collection: str
    stem: str
    data: dict[str, JSON]
    parts: dict[str, JSON] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        return str(self.data.get("displayName", self.stem))

    @property
    def id(self) -> str:
        """The resource's id (the ``name`` field, a UUID in exports)."""
        return str(self.data.get("name", ""))

    def language_parts(self, folder: str) -> dict[str, JSON]:
        """Per-language files of one sub-folder, e.g. ``language_parts("trainingPhrases")`` -> {"en": {...}}."""
        prefix = folder + "/"
        return {
            path[len(prefix) : -len(".json")]: value
            for path, value in self.parts.items()
            if path.startswith(prefix) and path.endswith(".json") and "/" not in path[len(prefix) :]
        }


@dataclass
class Flow(Resource):
    """A flow with its pages and its flow-scoped transition route groups."""

    pages: list[Resource] = field(default_factory=list)
    route_groups: list[Resource] = field(default_factory=list)

    def page(self, display_name: str) -> Resource | None:
        return _by_display_name(self.pages, display_name)

    def route_group(self, display_name: str) -> Resource | None:
        return _by_display_name(self.route_groups, display_name)


@dataclass
class AgentPackage:
    """A whole agent: ``agent.json``, its collections, and every file nobody here understands yet."""

    agent: dict[str, JSON]
    collections: dict[str, list[Resource]] = field(default_factory=dict)
    other_files: dict[str, JSON] = field(default_factory=dict)

    # --- collections -------------------------------------------------------------------------
    def resources(self, collection: str) -> list[Resource]:
        return self.collections.setdefault(collection, [])

    @property
    def flows(self) -> list[Flow]:
        return self.resources("flows")  # type: ignore[return-value]

    @property
    def intents(self) -> list[Resource]:
        return self.resources("intents")

    @property
    def entity_types(self) -> list[Resource]:
        return self.resources("entityTypes")

    @property
    def webhooks(self) -> list[Resource]:
        return self.resources("webhooks")

    @property
    def test_cases(self) -> list[Resource]:
        return self.resources("testCases")

    @property
    def route_groups(self) -> list[Resource]:
        """Agent-level transition route groups (flow-level ones live on their :class:`Flow`)."""
        return self.resources("transitionRouteGroups")

    @property
    def display_name(self) -> str:
        return str(self.agent.get("displayName", ""))

    @property
    def default_language(self) -> str:
        return str(self.agent.get("defaultLanguageCode", "en"))

    @property
    def start_flow_name(self) -> str:
        return str(self.agent.get("startFlow", "Default Start Flow"))

    # --- look-ups by display name ---------------------------------------------------------------
    def flow(self, display_name: str) -> Flow | None:
        return _by_display_name(self.flows, display_name)

    def intent(self, display_name: str) -> Resource | None:
        return _by_display_name(self.intents, display_name)

    def entity_type(self, display_name: str) -> Resource | None:
        return _by_display_name(self.entity_types, display_name)

    def webhook(self, display_name: str) -> Resource | None:
        return _by_display_name(self.webhooks, display_name)

    def test_case(self, display_name: str) -> Resource | None:
        return _by_display_name(self.test_cases, display_name)

    def find(self, collection: str, display_name: str) -> Resource | None:
        return _by_display_name(self.resources(collection), display_name)

    def languages(self) -> list[str]:
        """The default language first, then the supported ones agent.json declares."""
        langs = [self.default_language]
        langs += [lang for lang in self.agent.get("supportedLanguageCodes", []) if lang not in langs]
        return langs

    def training_phrases(self, intent: Resource, language: str | None = None) -> list[dict[str, JSON]]:
        """Training phrases of an intent, for one language or for all of them."""
        by_lang = intent.language_parts("trainingPhrases")
        langs = [language] if language else sorted(by_lang)
        phrases: list[dict[str, JSON]] = []
        for lang in langs:
            phrases.extend(by_lang.get(lang, {}).get("trainingPhrases", []))
        return phrases

    def entities(self, entity_type: Resource, language: str | None = None) -> list[dict[str, JSON]]:
        """Entities (value and synonyms) of an entity type, for one language or for all of them."""
        by_lang = entity_type.language_parts("entities")
        langs = [language] if language else sorted(by_lang)
        entities: list[dict[str, JSON]] = []
        for lang in langs:
            entities.extend(by_lang.get(lang, {}).get("entities", []))
        return entities

    # --- paths ----------------------------------------------------------------------------------
    def iter_resources(self) -> Iterator[tuple[str, Resource]]:
        """Every resource with the package path of its main file (pages and flow route groups included)."""
        for items in self.collections.values():
            for res in items:
                yield resource_path(res), res
                if isinstance(res, Flow):
                    for page in res.pages:
                        yield page_path(res, page), page
                    for group in res.route_groups:
                        yield flow_route_group_path(res, group), group

    def path_of(self, resource: Resource) -> str:
        for path, res in self.iter_resources():
            if res is resource:
                return path
        raise KeyError(f"resource {resource.display_name!r} is not part of this package")

    def copy(self) -> AgentPackage:
        return copy.deepcopy(self)


def resource_path(res: Resource) -> str:
    if res.collection in FILE_COLLECTIONS:
        return f"{res.collection}/{res.stem}.json"
    return f"{res.collection}/{res.stem}/{res.stem}.json"


def page_path(flow: Flow, page: Resource) -> str:
    return f"flows/{flow.stem}/pages/{page.stem}.json"


def flow_route_group_path(flow: Flow, group: Resource) -> str:
    return f"flows/{flow.stem}/transitionRouteGroups/{group.stem}.json"


def _by_display_name(items: list[_R], display_name: str) -> _R | None:
    for item in items:
        if item.display_name == display_name:
            return item
    # Exports keep stray whitespace in names; references to them are sometimes trimmed.
    wanted = display_name.strip()
    for item in items:
        if item.display_name.strip() == wanted:
            return item
    return None
