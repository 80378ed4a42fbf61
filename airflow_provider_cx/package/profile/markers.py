"""Secret markers: where a stage package holds a reference to a secret instead of its value.

A stage's package is an artifact: it is archived in the release folder, read by later tasks and
kept for audits, so it must not carry the stage's credentials. Where a profile sets a secret (a
webhook header value, a password, an OAuth client secret, a tool's API key or token), the package
written to storage holds a marker naming the reference (``SecretRef.marker``:
``${secret:conn:branch_api}``), and the
value is put in only in memory, just before the package is sent to CX.

Markers are put in by :func:`~airflow_provider_cx.package.profile.apply_profile` with
``secret_markers=True``; :func:`resolve_secret_markers` puts the values in by applying the same
profile again with its secrets resolved. Because applying a profile is idempotent, that changes
exactly the fields the profile sets and nothing else, and a marker the profile did not put there
(copied into another webhook, or naming a connection the profile does not) is left, found and
refused: a package can never make the restore send an arbitrary secret to a backend of its choice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_cx.package.model import AgentPackage
from airflow_provider_cx.package.profile.apply import apply_profile
from airflow_provider_cx.package.profile.model import ProfileError, StageProfile
from airflow_provider_cx.package.profile.secrets import SecretResolver

#: ``${secret:<scheme>:<key>}`` anywhere in a string of the package.
MARKER = re.compile(r"\$\{secret:([^{}\s]*)\}")


class UnresolvedSecretError(ProfileError):
    """A package still holds secret markers where it is about to be sent to CX."""


@dataclass(frozen=True)
class MarkerSite:
    """One marker in a package: the file, the JSON field and the reference it names."""

    path: str
    field: str
    ref: str

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: ${{secret:{self.ref}}}"


def find_secret_markers(package: AgentPackage) -> list[MarkerSite]:
    """Every marker in the package (agent.json, every resource and its parts, other JSON files)."""
    sites: list[MarkerSite] = []
    for path, document in _documents(package):
        sites += [MarkerSite(path, field, ref) for field, ref in _markers_in(document, "")]
    return sites


def require_no_secret_markers(package: AgentPackage, what: str = "the package") -> None:
    """Raise :class:`UnresolvedSecretError` naming each marker of ``package``, if it has any."""
    sites = find_secret_markers(package)
    if sites:
        raise UnresolvedSecretError(
            f"{what} holds {len(sites)} unresolved secret marker(s) ({_listed(sites)}); it is a stage package "
            "whose secrets are references: restore it with the stage profile that wrote it (the restore "
            "resolves them in memory), never as it is"
        )


def resolve_secret_markers(
    package: AgentPackage,
    profile: StageProfile,
    resolve: SecretResolver,
    on_secret: Callable[[str], None] | None = None,
) -> AgentPackage:
    """A copy of ``package`` with the values of ``profile``'s secrets where its markers are.

    ``resolve`` turns each reference into its value and ``on_secret`` sees each value first (a log
    masker). Raises :class:`UnresolvedSecretError` when a marker is left that the profile does not
    set or the profile would change more than its secrets (the package and the profile do not
    belong together), and the profile's own errors
    (:class:`ProfileError`) when it does not match the package or a secret cannot be resolved.
    """
    # The package must be this profile's output as it is: then applying the profile with values
    # changes the secrets and nothing else, so what is sent is exactly what the gate checked.
    drift = apply_profile(package, profile, secret_markers=True).changes
    if drift:
        raise UnresolvedSecretError(
            f"the package was not written with this stage profile: applying it would change {len(drift)} field(s) "
            f"({'; '.join(str(change) for change in drift[:5])}); restore a stage package with the profile "
            "that wrote it"
        )
    resolved = apply_profile(package, profile, resolve=resolve, on_secret=on_secret).package
    left = find_secret_markers(resolved)
    if left:
        label = f"stage profile {profile.stage!r}" if profile.stage else "the stage profile"
        raise UnresolvedSecretError(
            f"{len(left)} secret marker(s) are not set by {label} ({_listed(left)}); restore a stage "
            "package with the profile that wrote it"
        )
    return resolved


def _listed(sites: list[MarkerSite], most: int = 5) -> str:
    shown = "; ".join(str(site) for site in sites[:most])
    return shown + (f"; and {len(sites) - most} more" if len(sites) > most else "")


def _documents(package: AgentPackage) -> Iterator[tuple[str, Any]]:
    yield "agent.json", package.agent
    for path, resource in package.iter_resources():
        yield path, resource.data
        for name, part in resource.parts.items():
            if isinstance(part, dict | list):
                yield f"{path} ({name})", part
    for path, document in package.other_files.items():
        if isinstance(document, dict | list):
            yield path, document


def _markers_in(node: Any, field: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _markers_in(value, f"{field}.{key}" if field else str(key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _markers_in(item, f"{field}[{index}]")
    elif isinstance(node, str):
        yield from ((field or "(value)", match.group(1)) for match in MARKER.finditer(node))
