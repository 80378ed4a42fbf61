"""Resource names of the CX API: parsing, formatting and the special pages.

Names look like ``projects/P/locations/L/agents/A/flows/F/pages/G``; ids are UUIDs except for the
special pages (``END_FLOW``…) and system entity types (``sys.date``…).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from airflow_provider_cx.emulator.errors import InvalidArgument

# Display names an export uses for the pseudo-pages, and the page ids the API uses for them.
SPECIAL_PAGES = {
    "Start Page": "START_PAGE",
    "Start": "START_PAGE",
    "End Flow": "END_FLOW",
    "End Session": "END_SESSION",
    "Current Page": "CURRENT_PAGE",
    "Previous Page": "PREVIOUS_PAGE",
    "End Flow With Human Escalation": "END_FLOW_WITH_HUMAN_ESCALATION",
    "End Flow With Failure": "END_FLOW_WITH_FAILURE",
    "End Flow With Cancellation": "END_FLOW_WITH_CANCELLATION",
}
# The reverse mapping picks the name exports write.
SPECIAL_PAGE_NAMES = {page_id: display for display, page_id in reversed(SPECIAL_PAGES.items())}
SPECIAL_PAGE_NAMES["START_PAGE"] = "Start Page"

_AGENT_RE = re.compile(r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/agents/(?P<agent>[^/]+)")
_PARENT_RE = re.compile(r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)$")
# What an id segment of a resource name may hold: the API's ids are UUIDs, short slugs
# (projects, locations), special page ids, ``sys.*`` entity types and the percent-encoded
# ``unresolved~`` references of dangling display names. Anything with a path
# separator, a control character or whitespace is refused, so a name can never become a path.
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_.~@:+=%-]{1,128}$")


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a resource name (empty, ``.`` or ``..`` segments, trailing slash…), or None."""
    if not name:
        return "is empty"
    if name.endswith("/"):
        return "ends with a slash"
    for segment in name.split("/"):
        if not segment:
            return "has an empty segment (//)"
        if segment in (".", ".."):
            return f"has a {segment!r} segment"
        if not _SEGMENT_RE.match(segment):
            return f"has a segment {segment[:40]!r} with characters a resource id cannot hold"
    return None


def check_name(name: str, field: str) -> None:
    """INVALID_ARGUMENT naming ``field`` unless ``name`` is a well-formed resource name."""
    problem = name_problem(name)
    if problem is not None:
        raise InvalidArgument(f"{field} {name[:200]!r} is not a valid resource name: it {problem}")


@dataclass(frozen=True)
class ResourcePath:
    """A parsed resource name: the agent it belongs to and the (collection, id) pairs below it."""

    project: str
    location: str
    agent_id: str
    segments: tuple[tuple[str, str], ...] = ()

    @property
    def agent_name(self) -> str:
        return agent_name(self.project, self.location, self.agent_id)

    def id_of(self, collection: str) -> str | None:
        for coll, ident in self.segments:
            if coll == collection:
                return ident
        return None

    @property
    def collections(self) -> tuple[str, ...]:
        return tuple(coll for coll, _ in self.segments)


def agent_name(project: str, location: str, agent_id: str) -> str:
    return f"projects/{project}/locations/{location}/agents/{agent_id}"


def parse_location(parent: str) -> tuple[str, str]:
    """``projects/P/locations/L`` -> (P, L)."""
    match = _PARENT_RE.match(parent or "")
    if not match or name_problem(parent):
        raise InvalidArgument(f"{parent!r} is not a location name; expected projects/<project>/locations/<location>")
    return match["project"], match["location"]


def parse(name: str, shape: tuple[str, ...], what: str) -> ResourcePath:
    """Parse ``name`` whose collections below the agent must be exactly ``shape``, e.g. ("flows", "pages")."""
    match = _AGENT_RE.match(name or "")
    problem = name_problem(name or "")
    if problem is not None and match:
        raise InvalidArgument(f"{name[:200]!r} is not a valid {what} name: it {problem}")
    if not match:
        raise InvalidArgument(
            f"{name!r} is not a valid {what} name; expected "
            f"projects/<project>/locations/<location>/agents/<agent>{''.join(f'/{c}/<id>' for c in shape)}"
        )
    rest = name[match.end() :].removeprefix("/")
    parts = rest.split("/") if rest else []
    if len(parts) != 2 * len(shape) or tuple(parts[0::2]) != shape or not all(parts[1::2]):
        raise InvalidArgument(
            f"{name!r} is not a valid {what} name; expected "
            f"projects/<project>/locations/<location>/agents/<agent>{''.join(f'/{c}/<id>' for c in shape)}"
        )
    segments = tuple(zip(parts[0::2], parts[1::2], strict=True))
    return ResourcePath(match["project"], match["location"], match["agent"], segments)


def parse_any(name: str, shapes: list[tuple[str, ...]], what: str) -> ResourcePath:
    """Parse a name that may have any of several shapes (agent- or flow-level route groups)."""
    for shape in shapes:
        try:
            return parse(name, shape, what)
        except InvalidArgument:
            continue
    return parse(name, shapes[0], what)


def operation_name(project: str, location: str, op_id: str) -> str:
    return f"projects/{project}/locations/{location}/operations/{op_id}"


def parse_singleton(name: str, shape: tuple[str, ...], suffix: str, what: str) -> ResourcePath:
    """Parse ``<resource>/<suffix>`` names such as ``…/agents/A/validationResult``."""
    tail = "/" + suffix
    if not (name or "").endswith(tail):
        raise InvalidArgument(f"{name!r} is not a valid {what} name; it must end with {tail}")
    return parse(name[: -len(tail)], shape, what)


# Request fields that hold resource names, checked on every RPC before the method runs (see rpc.py).
NAME_FIELDS = frozenset(
    {
        "name",
        "parent",
        "session",
        "environment",
        "agent",
        "flow_version",
        "base_version",
        "target_version",
        "version",
        "test_cases",
        "names",
    }
)


# Top-level fields every request that has them must set (Get/List/Create/Delete…, DetectIntent).
REQUIRED_NAME_FIELDS = ("name", "parent", "session")


def check_request_names(request: Any) -> None:
    """INVALID_ARGUMENT naming the field if a resource name in ``request`` is malformed.

    Looks at the request's top-level name fields (strings and lists of strings) and at the
    ``name`` of a resource message it carries (``CreateAgentRequest.agent.name``…). A request's
    own ``name``, ``parent`` or ``session`` must be set; other empty fields are left to the method.
    """
    descriptor = getattr(request, "DESCRIPTOR", None)
    if descriptor is None or not hasattr(request, "ListFields"):
        return
    for required in REQUIRED_NAME_FIELDS:
        field = descriptor.fields_by_name.get(required)
        if field is not None and field.type == field.TYPE_STRING and not getattr(request, required):
            raise InvalidArgument(f"{required} is required: the resource name this {descriptor.name} acts on")
    for field, value in request.ListFields():
        if field.name not in NAME_FIELDS:
            continue
        if isinstance(value, str):
            check_name(value, field.name)
        elif field.type == field.TYPE_STRING:  # repeated
            for index, item in enumerate(value):
                if item:
                    check_name(item, f"{field.name}[{index}]")
        elif field.type == field.TYPE_MESSAGE and hasattr(value, "DESCRIPTOR"):
            inner = getattr(value, "name", None) if "name" in value.DESCRIPTOR.fields_by_name else None
            if isinstance(inner, str) and inner:
                check_name(inner, f"{field.name}.name")
