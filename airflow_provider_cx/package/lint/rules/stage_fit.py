"""Stage fit: a package must not reach into another stage's project, location or hosts.

These rules run only when the configuration names a ``target_agent`` (the agent the package is
about to be restored into) or ``forbid`` patterns (usually a stage profile's). A reference to a
data store, security settings, Service Directory service, engine, BigQuery table, secret... of
another project means prod would use dev's backend; that is an ERROR, before anything changes.

Not reported: ``agent.json``'s ``projectNumber`` (where the export came from; a restore ignores
it), references to the package's own resources by full name (e.g. a generator
``projects/P/locations/L/agents/A/generators/<id>`` whose id is in the package: a restore points
them at the target agent), and a test case's ``lastTestResult`` (a record of a past run in the
source agent, not something the restored agent uses).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_cx.package.endpoints import package_endpoints
from airflow_provider_cx.package.lint.context import LintContext
from airflow_provider_cx.package.lint.findings import ERROR
from airflow_provider_cx.package.lint.registry import Hit, rule
from airflow_provider_cx.package.model import Flow, Resource
from airflow_provider_cx.package.redact import redact_uri

STAGE_FIT_RULES = ("foreign-reference", "forbidden-endpoint")

# A full resource name, optionally in its "//service.googleapis.com/" form.
_REFERENCE = re.compile(r"^(?://[a-z0-9.-]+/)?projects/(?P<project>[^/\s]+)(?:/locations/(?P<location>[^/\s]+))?/\S+$")
_AGENT_CHILD = re.compile(r"/agents/[^/]+/(?P<rest>\S+)$")
# Output-only records of the source agent: they name its resources but configure nothing.
_RECORDS = frozenset({"lastTestResult"})
# Cloud Run's deterministic URL names the project by number: https://<service>-<number>.<region>.run.app
_CLOUD_RUN = re.compile(r"^https?://[a-z0-9-]+-(?P<number>\d{6,})\.[a-z0-9-]+\.run\.app(?:[/:?#]|$)", re.IGNORECASE)
_COLLECTION_TYPES = {
    "flows": "flow",
    "pages": "page",
    "intents": "intent",
    "entityTypes": "entityType",
    "webhooks": "webhook",
    "testCases": "testCase",
    "transitionRouteGroups": "transitionRouteGroup",
}
# Locations that serve a target location although their id differs: Service Directory has no
# "global" region, and a global agent reaches private services registered in us-central1.
_SERVES = {("global", "us-central1")}


@dataclass(frozen=True)
class _Target:
    projects: frozenset[str]
    location: str

    @classmethod
    def of(cls, ctx: LintContext) -> _Target | None:
        name = ctx.config.target_agent
        if not name:
            return None
        parts = name.split("/")
        return cls(frozenset({parts[1], *ctx.config.target_project_aliases}), parts[3])


@rule("foreign-reference", ERROR)
def foreign_reference(ctx: LintContext) -> Iterator[Hit]:
    """The package names a resource of another project or location than the target agent.

    Data stores, security settings, Service Directory services, Gen App Builder engines, BigQuery
    tables, secrets, knowledge bases... of dev's project would make staging or prod use dev's
    backends and data. Set the stage profile's ``data_stores`` / ``agent_settings`` / ``webhooks``
    for the stage, or declare the project's number in ``target_project_aliases``.
    """
    target = _Target.of(ctx)
    if target is None:
        return
    own_ids = {res.id for _, res in ctx.package.iter_resources() if res.id}
    for path, resource_type, names, flow, document in _documents(ctx):
        for field, value in _strings(document, ""):
            problem = _foreign(value, target, own_ids)
            if problem:
                message = f"{path}: {field} names {redact_uri(value)!r}, {problem}"
                yield Hit(message, path, resource_type, names, flow)


@rule("forbidden-endpoint", ERROR)
def forbidden_endpoint(ctx: LintContext) -> Iterator[Hit]:
    """A webhook URI or tool server URL matches a host the stage forbids (``forbid``).

    A stage profile lists the other stages' hosts; a URL still pointing there after the overlay
    would send this stage's conversations to another stage's backend.
    """
    patterns = [re.compile(p) for p in ctx.config.forbid]
    for endpoint in package_endpoints(ctx.package):
        for pattern in patterns:
            if pattern.search(endpoint.url):
                res = endpoint.resource
                yield ctx.hit(
                    res,
                    endpoint.kind,
                    f"calls {redact_uri(endpoint.url)!r} ({endpoint.field}), which matches the forbidden "
                    f"pattern {pattern.pattern!r}",
                )
                break


def _foreign(value: str, target: _Target, own_ids: set[str]) -> str | None:
    run = _CLOUD_RUN.match(value)
    if run is not None:
        numbers = {p for p in target.projects if p.isdigit()}
        if numbers and run["number"] not in numbers:
            return f"a Cloud Run service of project number {run['number']}, not of the target's project"
        return None
    match = _REFERENCE.match(value)
    if match is None:
        return None
    child = _AGENT_CHILD.search(value)
    if child is not None and own_ids.intersection(child["rest"].split("/")):
        return None
    if match["project"] not in target.projects:
        ours = ", ".join(sorted(target.projects))
        return f"which lives in project {match['project']!r}, not in the target's ({ours})"
    location = match["location"]
    if location is not None and location != target.location and (target.location, location) not in _SERVES:
        return f"which lives in location {location!r}, not in the target's {target.location!r}"
    return None


def _documents(ctx: LintContext) -> Iterator[tuple[str, str, tuple[str, ...], str | None, Any]]:
    """(path, resource type, names, flow, JSON) of every document a reference may hide in."""
    agent = {k: v for k, v in ctx.package.agent.items() if k != "projectNumber"}
    yield "agent.json", "agent", (ctx.package.display_name,), None, agent
    flows = {id(page): flow for flow in ctx.package.flows for page in (*flow.pages, *flow.route_groups)}
    for path, res in ctx.package.iter_resources():
        flow: Flow | None = flows.get(id(res))
        kind = _COLLECTION_TYPES.get(res.collection, res.collection.rstrip("s"))
        yield path, kind, (res.display_name,), flow.display_name if flow else None, _with_parts(res)
    for path, doc in sorted(ctx.package.other_files.items()):
        if isinstance(doc, dict | list):
            yield path, "agent", (path,), None, doc


def _with_parts(res: Resource) -> dict[str, Any]:
    return {"": res.data, **{k: v for k, v in res.parts.items() if isinstance(v, dict | list)}}


def _strings(node: Any, field: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _RECORDS:
                continue
            yield from _strings(value, f"{field}.{key}" if field and key else field or str(key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _strings(item, f"{field}[{index}]")
    elif isinstance(node, str):
        yield field, node
