"""References that point nowhere: a route to a page, flow, intent or group that does not exist.

CX resolves these by display name when a package is restored; a dangling one fails the restore or,
worse, turns into a conversation that silently goes nowhere. All of them are ERRORs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from airflow_provider_cx.package.lint.context import (
    LintContext,
    as_dict,
    as_list,
    as_str,
    is_system_entity,
    symbolic_target,
)
from airflow_provider_cx.package.lint.findings import ERROR
from airflow_provider_cx.package.lint.registry import Hit, rule
from airflow_provider_cx.package.model import FILE_COLLECTIONS, FOLDER_COLLECTIONS, Resource

_TYPE_OF_COLLECTION = {
    "flows": "flow",
    "intents": "intent",
    "entityTypes": "entityType",
    "webhooks": "webhook",
    "testCases": "testCase",
    "transitionRouteGroups": "transitionRouteGroup",
}


@rule("route-to-missing-page", ERROR)
def route_to_missing_page(ctx: LintContext) -> Iterator[Hit]:
    """A route, event handler or reprompt handler targets a page its flow does not have.

    Symbolic targets (End Flow, End Session, Start Page, Previous Page, Current Page, End Flow With
    Failure / Human Escalation / Cancellation) are not pages and never fire this rule.
    """
    for owner in ctx.owners:
        for transition in ctx.transitions(owner):
            name = transition.target_page
            if not name or symbolic_target(name):
                continue
            if owner.flow is not None:
                if ctx.page(owner.flow, name) is None:
                    where = f"flow {owner.flow_name!r}"
                    yield owner.hit(f"routes to page {name!r} ({transition.describe()}), which {where} does not have")
            elif not any(ctx.page(flow, name) for flow in ctx.package.flows):
                yield owner.hit(f"routes to page {name!r} ({transition.describe()}), which no flow has")


@rule("route-to-missing-flow", ERROR)
def route_to_missing_flow(ctx: LintContext) -> Iterator[Hit]:
    """A transition targets a flow the agent does not have."""
    for owner in ctx.owners:
        for transition in ctx.transitions(owner):
            name = transition.target_flow
            if name and ctx.flow(name) is None:
                yield owner.hit(f"routes to flow {name!r} ({transition.describe()}), which does not exist")


@rule("route-to-missing-playbook", ERROR)
def route_to_missing_playbook(ctx: LintContext) -> Iterator[Hit]:
    """A transition targets a playbook the agent does not have."""
    for owner in ctx.owners:
        for transition in ctx.transitions(owner):
            name = transition.target_playbook
            if name and ctx.package.find("playbooks", name) is None:
                yield owner.hit(f"routes to playbook {name!r} ({transition.describe()}), which does not exist")


@rule("missing-intent", ERROR)
def missing_intent(ctx: LintContext) -> Iterator[Hit]:
    """A route is triggered by an intent the agent does not have, so it can never match."""
    for owner in ctx.owners:
        for name, _ in ctx.intent_refs(owner):
            if ctx.intent(name) is None:
                yield owner.hit(f"has a route on intent {name!r}, which does not exist", name)


@rule("missing-route-group", ERROR)
def missing_route_group(ctx: LintContext) -> Iterator[Hit]:
    """A flow or page uses a transition route group that does not exist (in the flow or the agent)."""
    for owner in ctx.owners:
        for name, group in ctx.route_group_refs(owner):
            if group is None:
                yield owner.hit(f"uses route group {name!r}, which does not exist", name)


@rule("missing-webhook", ERROR)
def missing_webhook(ctx: LintContext) -> Iterator[Hit]:
    """A fulfillment calls a webhook the agent does not have; the call fails at run time."""
    for owner in ctx.owners:
        for name in sorted(set(ctx.webhook_refs(owner))):
            if ctx.webhook(name) is None:
                yield owner.hit(f"calls webhook {name!r}, which does not exist", name)


@rule("missing-entity-type", ERROR)
def missing_entity_type(ctx: LintContext) -> Iterator[Hit]:
    """A form or intent parameter uses a custom entity type the agent does not have."""
    for owner in ctx.owners:
        if owner.kind != "page":
            continue
        for param in as_list(as_dict(owner.data.get("form")).get("parameters")):
            entity = as_str(as_dict(param).get("entityType"))
            if entity and not is_system_entity(entity) and ctx.entity_type(entity.lstrip("@")) is None:
                name = as_str(as_dict(param).get("displayName"))
                yield owner.hit(f"has form parameter {name!r} of entity type {entity!r}, which does not exist")
    for intent in ctx.package.intents:
        for param in as_list(intent.data.get("parameters")):
            entity = as_str(as_dict(param).get("entityType"))
            if entity and not is_system_entity(entity) and ctx.entity_type(entity.lstrip("@")) is None:
                name = as_str(as_dict(param).get("id"))
                yield ctx.hit(
                    intent, "intent", f"has parameter {name!r} of entity type {entity!r}, which does not exist"
                )


@rule("missing-start-flow", ERROR)
def missing_start_flow(ctx: LintContext) -> Iterator[Hit]:
    """agent.json names a start flow the package does not contain: sessions would have nowhere to begin."""
    name = as_str(ctx.package.agent.get("startFlow"))
    if name and ctx.flow(name) is None:
        yield Hit(f"agent.json: start flow {name!r} does not exist", "agent.json", "agent", (name,), None)


@rule("missing-resource-file", ERROR)
def missing_resource_file(ctx: LintContext) -> Iterator[Hit]:
    """A resource folder lacks its main JSON file (e.g. ``intents/x/x.json``), often after a bad merge.

    The files beside it (training phrases, entities, pages) belong to nothing and are dropped, or fail
    the import.
    """
    orphans: dict[tuple[str, str], list[str]] = {}
    for path in ctx.package.other_files:
        parts = path.split("/")
        if parts[0] in FOLDER_COLLECTIONS and len(parts) >= 3:
            orphans.setdefault((parts[0], parts[1]), []).append(path)
    for (collection, stem), paths in sorted(orphans.items()):
        main = f"{collection}/{stem}/{stem}.json"
        if any(res.stem == stem for res in ctx.package.resources(collection)):
            continue  # the resource exists; these are extra files it carries
        resource_type = _TYPE_OF_COLLECTION.get(collection, "agent")
        yield Hit(
            f"{main}: missing; {len(paths)} file(s) of {collection} folder {stem!r} belong to no resource "
            f"({', '.join(sorted(paths)[:3])}{'…' if len(paths) > 3 else ''})",
            main,
            resource_type,
            (stem,),
            None,
        )


@rule("duplicate-display-name", ERROR)
def duplicate_display_name(ctx: LintContext) -> Iterator[Hit]:
    """Two resources of one kind share a display name; references by name become ambiguous.

    CX requires display names to be unique per agent (per flow for pages and flow route groups).
    """
    groups: list[tuple[str, str | None, list[Resource]]] = [
        (_TYPE_OF_COLLECTION[c], None, ctx.package.resources(c))
        for c in (*FILE_COLLECTIONS, "flows", "intents", "entityTypes", "transitionRouteGroups")
    ]
    for flow in ctx.package.flows:
        groups.append(("page", flow.display_name, flow.pages))
        groups.append(("transitionRouteGroup", flow.display_name, flow.route_groups))
    for resource_type, flow_name, resources in groups:
        counts = Counter(res.display_name for res in resources)
        for res in resources:
            if counts[res.display_name] > 1:
                path = ctx.path(res)
                where = f" in flow {flow_name!r}" if flow_name else ""
                yield Hit(
                    f"{path}: {counts[res.display_name]} resources of type {resource_type}{where} "
                    f"are named {res.display_name!r}",
                    path,
                    resource_type,
                    (res.display_name,),
                    flow_name,
                )
