"""The release line: how versions and environments say which release made or last changed them.

A version's description ends with ``[airflow-cx release: <id>]``; a deploy with a release id writes
the same line into the environment's description. Pure string handling, loaded at DAG parse time by
the release operators (no grpc, no CX library).
"""

from __future__ import annotations

from typing import Any

#: The API's limit on an environment's (and a version's) description.
MAX_DESCRIPTION = 500
RELEASE_LINE_PREFIX = "[airflow-cx release: "


def release_marker(release_id: str) -> str:
    """The line a description carries to say which release made it."""
    return f"{RELEASE_LINE_PREFIX}{release_id}]"


def carries_release(description: str, release_id: str) -> bool:
    marker = release_marker(release_id)
    return any(line.strip() == marker for line in description.splitlines())


def is_marked(version: Any, release_id: str) -> bool:
    """Whether ``version``'s description carries ``release_id``'s line."""
    return carries_release(version.description, release_id)


def marked_description(description: str, release_id: str | None) -> str:
    """``description`` with its release line replaced by ``release_id``'s (removed for ``None``).

    The other lines are kept, shortened if needed so the whole stays within :data:`MAX_DESCRIPTION`.
    """
    kept = "\n".join(
        line for line in description.splitlines() if not line.strip().startswith(RELEASE_LINE_PREFIX)
    ).rstrip()
    if release_id is None:
        return kept
    marker = release_marker(release_id)
    room = MAX_DESCRIPTION - len(marker) - 1
    return f"{kept[:room].rstrip()}\n{marker}" if kept[:room].strip() else marker
