"""What a lint rule reports: a :class:`Finding`, and the severity scale it is judged on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

ERROR = "ERROR"
WARNING = "WARNING"
INFO = "INFO"
# Ordered from least to most severe: a gate at WARNING also stops ERRORs.
SEVERITIES = (INFO, WARNING, ERROR)

RESOURCE_TYPES = (
    "agent",
    "flow",
    "page",
    "intent",
    "entityType",
    "webhook",
    "testCase",
    "transitionRouteGroup",
)


def severity_rank(severity: str) -> int:
    """Position of a severity on the scale (INFO=0 … ERROR=2); a ValueError for anything else."""
    try:
        return SEVERITIES.index(severity.upper())
    except ValueError:
        raise ValueError(f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}") from None


@dataclass(frozen=True)
class Finding:
    """One problem in one resource of a package.

    ``message`` names the file and the resource, so it reads on its own; the other fields let tools
    filter, group and link without parsing it. ``flow`` is the display name of the flow a page or a
    flow-scoped route group belongs to (None for agent-level resources).
    """

    rule_id: str
    severity: str
    message: str
    path: str
    resource_type: str
    resource_display_names: tuple[str, ...]
    flow: str | None = None

    def reaches(self, severity: str) -> bool:
        """Whether this finding is at least as severe as ``severity``."""
        return severity_rank(self.severity) >= severity_rank(severity)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["resource_display_names"] = list(self.resource_display_names)
        return data


def highest_severity(findings: Iterable[Finding]) -> str | None:
    """The most severe level among ``findings``, None when there are none."""
    ranks = [severity_rank(f.severity) for f in findings]
    return SEVERITIES[max(ranks)] if ranks else None


def any_reaches(findings: Iterable[Finding], severity: str) -> bool:
    """Whether a gate at ``severity`` stops these findings."""
    return any(f.reaches(severity) for f in findings)


def sort_key(finding: Finding) -> tuple[Any, ...]:
    """Most severe first, then by rule and file, so reports read the same on every run."""
    return (
        -severity_rank(finding.severity),
        finding.rule_id,
        finding.path,
        finding.resource_display_names,
        finding.message,
    )
