"""The shape of the conversation graph: pages and flows no session can get to, or get out of.

Each flow is a graph whose nodes are its start page and its pages; an edge is any transition
(route, event handler, form reprompt handler, or a route of a route group the node uses). Flows
are reached from the agent's start flow (and from playbooks) through ``targetFlow`` transitions.
"""

from __future__ import annotations

from collections.abc import Iterator

from airflow_provider_cx.package.lint.context import LintContext
from airflow_provider_cx.package.lint.findings import INFO, WARNING
from airflow_provider_cx.package.lint.registry import Hit, rule


@rule("unused-page", WARNING)
def unused_page(ctx: LintContext) -> Iterator[Hit]:
    """No transition anywhere in its flow targets the page: it is a leftover or a placeholder.

    Such a page is also unreachable; it is reported here, not again as ``unreachable-page``.
    """
    for flow in ctx.package.flows:
        graph = ctx.graph(flow)
        for page in graph.pages:
            if page not in graph.referenced:
                yield page.hit("is unused: no route, event handler or route group in the flow targets it")


@rule("unreachable-page", WARNING)
def unreachable_page(ctx: LintContext) -> Iterator[Hit]:
    """Transitions target the page, but only from pages that cannot themselves be reached from the
    flow's start page, so no session ever gets there (typically an upstream route was deleted).

    Pages nothing targets at all are ``unused-page`` findings.
    """
    for flow in ctx.package.flows:
        graph = ctx.graph(flow)
        for page in graph.pages:
            if page in graph.referenced and page not in graph.reachable:
                yield page.hit("is unreachable from the start page of its flow")


@rule("dangling-page", INFO)
def dangling_page(ctx: LintContext) -> Iterator[Hit]:
    """A reachable page with no transition out of it (no route, handler or group with a target):
    a dead end unless flow-level routes or a webhook move the session on, which reviewers cannot see.
    """
    for flow in ctx.package.flows:
        graph = ctx.graph(flow)
        for page in graph.pages:
            if page in graph.reachable and not graph.has_exit[page]:
                yield page.hit("is a dead end: none of its routes or handlers leads anywhere")


@rule("unreachable-flow", WARNING)
def unreachable_flow(ctx: LintContext) -> Iterator[Hit]:
    """No session can enter the flow: neither the start flow nor any flow reachable from it (nor a
    playbook) transitions to it.
    """
    reachable = ctx.reachable_flows
    if reachable is None:
        return
    for flow in ctx.package.flows:
        if id(flow) not in reachable:
            owner = ctx.flow_owners(flow)[0]
            yield owner.hit("is unreachable: no flow reachable from the start flow transitions to it")
