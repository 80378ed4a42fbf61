"""Where a package calls out: webhook URIs and the server URLs of OpenAPI tools.

Both the stage profile (which rewrites them) and the stage-fit lint (which checks them against a
stage's forbidden hosts) need the same list, so it is found in one place.

A tool's OpenAPI spec is a text (``openApiSpec.textSchema``) in JSON or YAML. Its ``servers`` URLs
are read from the text and replaced *in* the text, so the rest of a spec (comments, layout, key
order) is kept byte for byte: a profile changes the host, not the author's spec.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_cx.package.model import AgentPackage, Resource

# A YAML `servers:` block: the key line, then every line indented deeper or a list item at its indent.
_YAML_SERVERS = re.compile(r"^(?P<indent>[ \t]*)servers[ \t]*:[ \t]*(?:#.*)?$", re.MULTILINE)
_YAML_URL = re.compile(r"""(?P<lead>(?:^|[\s{,-])["']?url["']?[ \t]*:[ \t]*)(?P<quote>["']?)(?P<url>[^"'\s#,}]+)""")
_JSON_URL = r"""(?P<lead>"url"\s*:\s*")"""


@dataclass(frozen=True)
class Endpoint:
    """One outbound URL of a package: ``field`` is its place inside the resource's JSON."""

    resource: Resource
    kind: str  # "webhook" or "tool"
    field: str
    url: str


def web_service(webhook: dict[str, Any]) -> dict[str, Any] | None:
    """The generic web service a webhook calls, directly or behind Service Directory."""
    direct = webhook.get("genericWebService")
    if isinstance(direct, dict):
        return direct
    directory = webhook.get("serviceDirectory")
    if isinstance(directory, dict) and isinstance(directory.get("genericWebService"), dict):
        service: dict[str, Any] = directory["genericWebService"]
        return service
    return None


def package_endpoints(package: AgentPackage) -> Iterator[Endpoint]:
    """Every webhook URI (disabled webhooks too) and every tool server URL of the package."""
    for webhook in package.webhooks:
        service = web_service(webhook.data)
        if service is not None and isinstance(service.get("uri"), str):
            where = "genericWebService" if "genericWebService" in webhook.data else "serviceDirectory.genericWebService"
            yield Endpoint(webhook, "webhook", f"{where}.uri", service["uri"])
    for tool in package.resources("tools"):
        for url in tool_server_urls(tool):
            yield Endpoint(tool, "tool", "openApiSpec.textSchema servers", url)


def tool_server_urls(tool: Resource) -> list[str]:
    """The ``servers[].url`` values of a tool's OpenAPI spec (empty for other kinds of tool)."""
    schema = _schema_text(tool)
    return [match["url"] for match in _server_url_matches(schema)] if schema is not None else []


def rewrite_tool_servers(tool: Resource, rewrite: Callable[[str], str]) -> None:
    """Replace each server URL of a tool's OpenAPI spec with ``rewrite(url)``, in place, in the text."""
    schema = _schema_text(tool)
    if schema is None:
        return
    out, last = [], 0
    for match in _server_url_matches(schema):
        out += [schema[last : match.start("url")], rewrite(match["url"])]
        last = match.end("url")
    tool.data["openApiSpec"]["textSchema"] = "".join(out) + schema[last:]


def _schema_text(tool: Resource) -> str | None:
    spec = tool.data.get("openApiSpec")
    schema = spec.get("textSchema") if isinstance(spec, dict) else None
    return schema if isinstance(schema, str) else None


def _server_url_matches(schema: str) -> list[re.Match[str]]:
    """Matches (group ``url``) of the server URLs in a JSON or YAML OpenAPI text, in text order."""
    try:
        parsed = json.loads(schema)
    except ValueError:
        return _yaml_server_urls(schema)
    servers = parsed.get("servers") if isinstance(parsed, dict) else None
    wanted = [s["url"] for s in servers or [] if isinstance(s, dict) and isinstance(s.get("url"), str)]
    # A JSON spec names each server as "url": "<value>"; other "url" keys (e.g. externalDocs) are skipped.
    found: list[re.Match[str]] = []
    for url in dict.fromkeys(wanted):
        found += re.finditer(_JSON_URL + f'(?P<url>{re.escape(json.dumps(url)[1:-1])})(?=")', schema)
    return sorted(found, key=lambda m: m.start())


def _yaml_server_urls(schema: str) -> list[re.Match[str]]:
    found: list[re.Match[str]] = []
    for block in _YAML_SERVERS.finditer(schema):
        indent, end = len(block["indent"]), block.end()
        for line in re.finditer(r"^.*$", schema[end + 1 :], re.MULTILINE):
            text = line.group(0)
            if text.strip() and not text.lstrip().startswith("#"):
                depth = len(text) - len(text.lstrip())
                if depth < indent or (depth == indent and not text.lstrip().startswith("-")):
                    break
            found += _YAML_URL.finditer(schema, end + 1 + line.start(), end + 1 + line.end())
    return found
