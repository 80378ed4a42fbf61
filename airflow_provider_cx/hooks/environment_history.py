"""What an environment served before a release, from the release line in its description and its history.

A deploy with a release id writes the line ``[airflow-cx release: <id>]`` (the same line
:mod:`.create_versions` puts on versions) into the environment's description in the same update that
changes its versions. Every later snapshot in LookupEnvironmentHistory carries the line until another
release replaces it, so when a deploy of the same release runs again (a retried task whose first
try already changed the environment) the configuration before the release is the newest history
entry *without* the line, older than all the entries with it. Without that, a rerun would see its
own versions as "previous" and a rollback would keep them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_cx.operators.create_versions import release_marker

if TYPE_CHECKING:
    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook

#: The API's limit on an environment description.
MAX_DESCRIPTION = 500
RELEASE_LINE_PREFIX = "[airflow-cx release: "


@dataclass(frozen=True)
class BeforeRelease:
    """The configuration an environment had before a release first changed it."""

    version_configs: list[str]
    #: The release created the environment: there was nothing before it.
    created: bool


def carries_release(description: str, release_id: str) -> bool:
    marker = release_marker(release_id)
    return any(line.strip() == marker for line in description.splitlines())


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


def before_release(hook: DialogflowCXHook, environment: Any, release_id: str) -> BeforeRelease | None:
    """What ``environment`` served before ``release_id`` changed it; ``None`` if the release has not.

    The release has changed it when its current description carries the release line. History
    entries are ordered newest first by ``update_time`` (the API's order, made explicit here).
    """
    from airflow_provider_cx.hooks.retry import CallKind

    if not carries_release(environment.description, release_id):
        return None
    client = hook.get_environments_client(environment.name)

    def whole_history() -> list[Any]:
        pages = client.lookup_environment_history(request={"name": environment.name, "page_size": 100}, retry=None)
        return list(pages)

    history = hook.call(whole_history, kind=CallKind.READ)
    history.sort(key=lambda entry: entry.update_time.timestamp() if entry.update_time else 0.0, reverse=True)
    for entry in history:
        if not carries_release(entry.description, release_id):
            return BeforeRelease([config.version for config in entry.version_configs], created=False)
    return BeforeRelease([], created=True)
