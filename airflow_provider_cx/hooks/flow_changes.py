"""Which flows of an agent's draft differ from the flow versions an environment serves.

A release only needs new versions of the flows it changed. CX's own Versions.CompareVersions tells:
it returns the content of two versions of a flow (version id ``0`` is the draft), each the flow with
the agent data it uses (intents, entity types, webhooks, route groups), so a changed intent shows in
every flow that uses it. The content is compared without its time stamps
(:mod:`.version_content`), once per language of the agent, since training phrases and entities are
given in one language per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow_provider_cx.hooks.errors import CXResourceNotFoundError
from airflow_provider_cx.hooks.release_calls import draft_version
from airflow_provider_cx.hooks.version_content import same_content

if TYPE_CHECKING:
    from google.cloud.dialogflowcx_v3 import Agent

    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook


def flow_of_version(version: str) -> str:
    """``.../flows/F`` of ``.../flows/F/versions/N``."""
    return version.rsplit("/versions/", 1)[0]


def served_versions(hook: DialogflowCXHook, agent: str, environment: str) -> dict[str, str] | None:
    """``{flow resource name: version name}`` the environment serves, or ``None`` when it does not exist.

    :param environment: display name, id or resource name of an environment of ``agent``.
    """
    try:
        found = hook.resolve_environment(agent, environment)
    except CXResourceNotFoundError:
        return None
    return {flow_of_version(config.version): config.version for config in found.version_configs}


def agent_languages(agent: Agent) -> list[str]:
    """The agent's default language, then its other supported languages (each once)."""
    default = agent.default_language_code
    return [default, *(code for code in dict.fromkeys(agent.supported_language_codes) if code != default)]


def draft_differs(hook: DialogflowCXHook, flow: str, version: str, languages: Sequence[str]) -> bool:
    """Whether the draft of ``flow`` (with the agent data it uses) differs from ``version`` in any language.

    Stops at the first language that differs; ``languages`` empty compares in the agent's default.
    """
    for language in languages or [""]:
        response = hook.compare_versions(version, draft_version(flow), language_code=language)
        if not same_content(response):
            return True
    return False
