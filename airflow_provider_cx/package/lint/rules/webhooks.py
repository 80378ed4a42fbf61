"""Webhooks that cannot be called safely: plain HTTP, unusable URIs, or nobody calling them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from airflow_provider_cx.package.lint.context import LintContext, as_dict, as_str
from airflow_provider_cx.package.lint.findings import ERROR, INFO, WARNING
from airflow_provider_cx.package.lint.registry import Hit, rule
from airflow_provider_cx.package.model import Resource
from airflow_provider_cx.package.redact import redact_uri

_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")
_PLACEHOLDER = re.compile(r"<[^<>]*>|\{\{[^{}]*\}\}")


def webhook_uri(webhook: Resource) -> str | None:
    """The URI a webhook calls (generic web service, or one behind Service Directory)."""
    if webhook.data.get("disabled"):
        return None
    service = as_dict(webhook.data.get("genericWebService")) or as_dict(
        as_dict(webhook.data.get("serviceDirectory")).get("genericWebService")
    )
    return as_str(service.get("uri")) if "uri" in service else None


@rule("webhook-not-https", WARNING)
def webhook_not_https(ctx: LintContext) -> Iterator[Hit]:
    """A webhook URI is not ``https``: Dialogflow CX only calls HTTPS endpoints, and the session data
    it sends must not travel in clear text.
    """
    for webhook in ctx.package.webhooks:
        uri = webhook_uri(webhook)
        if uri and urlsplit(uri.strip()).scheme.lower() != "https":
            yield ctx.hit(webhook, "webhook", f"calls {redact_uri(uri)!r}, which is not an https URI")


@rule("webhook-invalid-uri", ERROR)
def webhook_invalid_uri(ctx: LintContext) -> Iterator[Hit]:
    """A webhook URI cannot be called: it is empty, has no valid host, or still holds a template
    placeholder such as ``<YOUR-API-KEY>`` that was never filled in.
    """
    for webhook in ctx.package.webhooks:
        uri = webhook_uri(webhook)
        if uri is None:
            continue
        problem = _uri_problem(uri)
        if problem:
            yield ctx.hit(webhook, "webhook", f"has an unusable URI {redact_uri(uri)!r}: {problem}")


def _uri_problem(uri: str) -> str | None:
    if not uri.strip():
        return "it is empty"
    placeholder = _PLACEHOLDER.search(uri)
    if placeholder:
        return f"it contains the placeholder {placeholder.group(0)!r}"
    try:
        parts = urlsplit(uri.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as err:
        return str(err)
    if parts.scheme.lower() not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not http(s)"
    if not _HOST.match(host) and not host.startswith("["):
        return f"{host!r} is not a valid host name"
    return None


@rule("unused-webhook", INFO)
def unused_webhook(ctx: LintContext) -> Iterator[Hit]:
    """No fulfillment, playbook or tool calls the webhook: it is dead configuration (and possibly a
    stale credential in the export).
    """
    for webhook in ctx.package.webhooks:
        if id(webhook) not in ctx.used_webhooks:
            yield ctx.hit(webhook, "webhook", "is not called by any fulfillment")
