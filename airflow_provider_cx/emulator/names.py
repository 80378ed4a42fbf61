"""Resource names of the CX API: parsing, formatting and the special pages.

Names look like ``projects/P/locations/L/agents/A/flows/F/pages/G``; ids are UUIDs except for the
special pages (``END_FLOW``…) and system entity types (``sys.date``…).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    if not match:
        raise InvalidArgument(f"{parent!r} is not a location name; expected projects/<project>/locations/<location>")
    return match["project"], match["location"]


def parse(name: str, shape: tuple[str, ...], what: str) -> ResourcePath:
    """Parse ``name`` whose collections below the agent must be exactly ``shape``, e.g. ("flows", "pages")."""
    match = _AGENT_RE.match(name or "")
    if not match:
        raise InvalidArgument(
            f"{name!r} is not a valid {what} name; expected "
            f"projects/<project>/locations/<location>/agents/<agent>{''.join(f'/{c}/<id>' for c in shape)}"
        )
    rest = name[match.end() :].strip("/")
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
