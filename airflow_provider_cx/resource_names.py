"""Dialogflow CX resource names: ``projects/P/locations/L[/agents/A[/...]]`` and operation names.

One parser shared by the hook (which picks the regional endpoint from the location in a name) and the
operators (which build child names from an agent name). Pure string logic, no Google imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Segment ids are opaque to us; forbid only what would make the name ambiguous or unsafe in a host.
_SEGMENT = r"[^/\s]+"
_NAME = re.compile(
    rf"^projects/(?P<project>{_SEGMENT})"
    rf"(?:/locations/(?P<location>{_SEGMENT}))?"
    rf"(?:/agents/(?P<agent>{_SEGMENT}))?"
    rf"(?P<rest>(?:/{_SEGMENT})*)$"
)
_LOCATION = re.compile(r"^[a-z][a-z0-9-]*$")


class InvalidResourceNameError(ValueError):
    """A string is not a Dialogflow CX resource name of the expected shape."""


@dataclass(frozen=True)
class ResourceName:
    """A parsed CX resource name; ``location`` is ``None`` for ``projects/P/operations/...``."""

    name: str
    project: str
    location: str | None
    agent: str | None

    @property
    def parent(self) -> str:
        """``projects/P/locations/L`` (where agents are listed and created)."""
        if self.location is None:
            raise InvalidResourceNameError(f"{self.name!r} has no location segment")
        return location_path(self.project, self.location)

    @property
    def agent_name(self) -> str:
        """``projects/P/locations/L/agents/A`` of the agent this resource belongs to."""
        if self.agent is None or self.location is None:
            raise InvalidResourceNameError(
                f"{self.name!r} is not an agent or agent child; expected projects/P/locations/L/agents/A[/...]"
            )
        return agent_path(self.project, self.location, self.agent)

    def __str__(self) -> str:
        return self.name


def parse_resource_name(name: str) -> ResourceName:
    """Parse any CX resource or operation name that starts with ``projects/P``."""
    if not isinstance(name, str):
        raise InvalidResourceNameError(f"resource name must be a string, got {type(name).__name__}")
    match = _NAME.match(name)
    if not match:
        raise InvalidResourceNameError(
            f"{name!r} is not a Dialogflow CX resource name; expected projects/P/locations/L/agents/A[/...]"
        )
    location = match["location"]
    if location is not None:
        validate_location(location)
    rest = match["rest"]
    # ".../locations/L/agents" (a collection, no id) would otherwise parse with agent=None.
    if match["agent"] is None and rest.startswith("/agents"):
        raise InvalidResourceNameError(f"{name!r} names the agents collection, not an agent")
    return ResourceName(name=name, project=match["project"], location=location, agent=match["agent"])


def parse_agent_name(name: str) -> ResourceName:
    """Parse a name that must be an agent or one of its children (flows, versions, environments, ...)."""
    parsed = parse_resource_name(name)
    if parsed.agent is None or parsed.location is None:
        raise InvalidResourceNameError(f"{name!r} is not an agent name; expected projects/P/locations/L/agents/A[/...]")
    return parsed


def location_of(name: str) -> str | None:
    """The location segment of a resource name, or ``None`` when it has none."""
    return parse_resource_name(name).location


def validate_location(location: str) -> str:
    """Return ``location`` if it can be a CX location id (it becomes part of a host name)."""
    if not isinstance(location, str) or not _LOCATION.match(location):
        raise InvalidResourceNameError(
            f"{location!r} is not a Dialogflow CX location; use e.g. 'global', 'us-central1', 'europe-west2'"
        )
    return location


def location_path(project: str, location: str) -> str:
    return f"projects/{project}/locations/{validate_location(location)}"


def agent_path(project: str, location: str, agent: str) -> str:
    return f"{location_path(project, location)}/agents/{agent}"
