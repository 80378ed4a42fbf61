"""Find an agent's environment, flow or test cases from what a DAG author wrote: a display name or a
resource name (the hook's ``resolve_*`` methods).

Each look-up is one paginated List call on the agent, matched by full resource name, by trailing id
(``.../environments/<id>`` given as just the id) or by display name. Anything not found raises
:class:`CXResourceNotFoundError` naming what does exist, so the fix is in the message; a display name
shared by several resources raises :class:`CXAmbiguousNameError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from airflow_provider_cx.hooks.errors import CXAmbiguousNameError, CXInvalidInputError, CXResourceNotFoundError

if TYPE_CHECKING:
    from google.cloud.dialogflowcx_v3 import Environment, Flow, TestCase

    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook


class _Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=_Named)

#: How many existing names an error message lists before it shortens the list.
_SHOWN = 20


def resolve_environment(hook: DialogflowCXHook, agent: str, environment: str) -> Environment:
    """The ``Environment`` of ``agent`` named ``environment`` (display name, id or resource name)."""
    return match_one("environment", agent, "environments", environment, hook.list_environments(agent))


def resolve_flow(hook: DialogflowCXHook, agent: str, flow: str) -> Flow:
    """The ``Flow`` of ``agent`` named ``flow`` (display name, id or resource name)."""
    return match_one("flow", agent, "flows", flow, hook.list_flows(agent))


def resolve_flows(hook: DialogflowCXHook, agent: str, flows: Sequence[str]) -> list[Flow]:
    """Several flows with one List call, in the order given; every unknown one is named in the error."""
    existing = hook.list_flows(agent)
    return match_many("flow", agent, "flows", flows, existing)


def resolve_test_cases(
    hook: DialogflowCXHook,
    agent: str,
    names: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
) -> list[TestCase]:
    """Test cases selected by name (display name, id or resource name) and/or tag; all when neither.

    Tags match with or without their leading ``#``. A selection that matches nothing is an error.
    """
    existing = hook.list_test_cases(agent)
    if not names and not tags:
        if not existing:
            raise CXResourceNotFoundError(f"agent {agent} has no test cases")
        return existing
    chosen: dict[str, TestCase] = {}
    if names:
        for case in match_many("test case", agent, "testCases", names, existing):
            chosen[case.name] = case
    if tags:
        wanted = {_tag(tag) for tag in tags}
        tagged = [case for case in existing if wanted & {_tag(tag) for tag in case.tags}]
        if not tagged:
            known = sorted({_tag(tag) for case in existing for tag in case.tags})
            raise CXResourceNotFoundError(
                f"no test case of agent {agent} has tag(s) {sorted(wanted)}; tags in use: {_shown(known)}"
            )
        for case in tagged:
            chosen[case.name] = case
    return list(chosen.values())


def match_one(kind: str, agent: str, collection: str, wanted: str, existing: Iterable[T]) -> T:
    """The one resource in ``existing`` that ``wanted`` names (see the module docstring)."""
    return match_many(kind, agent, collection, [wanted], existing)[0]


def match_many(kind: str, agent: str, collection: str, wanted: Sequence[str], existing: Iterable[T]) -> list[T]:
    candidates = list(existing)
    found: list[T] = []
    missing: list[str] = []
    for reference in wanted:
        matches = _matches(kind, agent, collection, reference, candidates)
        if not matches:
            missing.append(reference)
        elif len(matches) > 1:
            raise CXAmbiguousNameError(
                f"{kind} {reference!r} matches {len(matches)} {kind}s of agent {agent}: "
                f"{', '.join(m.name for m in matches)}; pass the resource name instead"
            )
        else:
            found.append(matches[0])
    if missing:
        names = sorted(getattr(resource, "display_name", "") or resource.name for resource in candidates)
        raise CXResourceNotFoundError(
            f"{kind} {', '.join(repr(m) for m in missing)} not found in agent {agent}; existing: {_shown(names)}"
        )
    return found


def _matches(kind: str, agent: str, collection: str, reference: str, existing: list[T]) -> list[T]:
    if not isinstance(reference, str) or not reference.strip():
        raise CXInvalidInputError(f"{kind} must be a non-empty display name or resource name, got {reference!r}")
    reference = reference.strip()
    if reference.startswith("projects/"):
        prefix = f"{agent}/{collection}/"
        if not reference.startswith(prefix) or "/" in reference[len(prefix) :]:
            raise CXInvalidInputError(f"{kind} {reference!r} is not a {kind} of agent {agent} (expected {prefix}<id>)")
        return [resource for resource in existing if resource.name == reference]
    by_name = [resource for resource in existing if getattr(resource, "display_name", None) == reference]
    if by_name:
        return by_name
    return [resource for resource in existing if resource.name.rsplit("/", 1)[-1] == reference]


def _tag(tag: str) -> str:
    return tag.strip().lstrip("#")


def _shown(names: Sequence[str]) -> str:
    if not names:
        return "(none)"
    quoted = ", ".join(repr(name) for name in names[:_SHOWN])
    return quoted + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
