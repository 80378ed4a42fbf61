"""What an environment served before a release, from the release line in its description and its history.

A deploy with a release id writes the line ``[airflow-cx release: <id>]`` (the same line
:class:`~airflow_provider_cx.operators.create_versions.CXCreateVersionsOperator` puts on versions;
see :mod:`.release_marks`) into the environment's description in the same update that
changes its versions. Every later snapshot in LookupEnvironmentHistory carries the line until another
release replaces it, so when a deploy of the same release runs again (a retried task whose first
try already changed the environment) the configuration before the release is the newest history
entry *without* the line, older than all the entries with it. Without that, a rerun would see its
own versions as "previous" and a rollback would keep them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_cx.hooks.release_marks import carries_release

if TYPE_CHECKING:
    from airflow_provider_cx.hooks.release_calls import ReleaseCalls


@dataclass(frozen=True)
class BeforeRelease:
    """The configuration an environment had before a release first changed it."""

    version_configs: list[str]
    #: The release created the environment: there was nothing before it.
    created: bool


def before_release(hook: ReleaseCalls, environment: Any, release_id: str) -> BeforeRelease | None:
    """What ``environment`` served before ``release_id`` changed it; ``None`` if the release has not.

    The release has changed it when its current description carries the release line. History
    entries are ordered newest first by ``update_time`` (the API's order, made explicit here).
    """
    if not carries_release(environment.description, release_id):
        return None
    history = hook.lookup_environment_history(environment.name)
    history.sort(key=_updated_at, reverse=True)
    for entry in history:
        if not carries_release(entry.description, release_id):
            return BeforeRelease([config.version for config in entry.version_configs], created=False)
    return BeforeRelease([], created=True)


def _updated_at(entry: Any) -> float:
    # proto-plus hands Timestamps out as datetimes (its stubs say Timestamp).
    return float(entry.update_time.timestamp()) if entry.update_time else 0.0
