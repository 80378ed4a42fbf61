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
_YAML_SERVERS = re.compile(r"^(?P<indent>[ \t]*)servers[ \t]*:[ \t]*(?P<inline>\[.*\])?[ \t]*(?:#.*)?$", re.MULTILINE)
_YAML_URL = re.compile(r"""(?:^|[\s{,-])["']?url["']?[ \t]*:[ \t]*["']?(?P<url>[^"'\s#,]+)""")
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
    if schema is None:
        return []
    parsed = _json(schema)
    if parsed is not None:
        return _json_servers(parsed)
    return [schema[start:end] for start, end in _yaml_server_spans(schema)]


def rewrite_tool_servers(tool: Resource, rewrite: Callable[[str], str]) -> None:
    """Replace each server URL of a tool's OpenAPI spec with ``rewrite(url)``, in place, in the text."""
    schema = _schema_text(tool)
    if schema is None:
        return
    parsed = _json(schema)
    spans = _yaml_server_spans(schema) if parsed is None else _json_server_spans(schema, parsed)
    if spans is None:
        # The URLs are not written plainly in the JSON text (escaped slashes...): rewrite the parsed spec.
        assert isinstance(parsed, dict)
        for server in parsed["servers"]:
            if isinstance(server, dict) and isinstance(server.get("url"), str):
                server["url"] = rewrite(server["url"])
        tool.data["openApiSpec"]["textSchema"] = json.dumps(parsed, indent=2, ensure_ascii=False)
        return
    out, last = [], 0
    for start, end in spans:
        out += [schema[last:start], rewrite(schema[start:end])]
        last = end
    tool.data["openApiSpec"]["textSchema"] = "".join(out) + schema[last:]


def _schema_text(tool: Resource) -> str | None:
    spec = tool.data.get("openApiSpec")
    schema = spec.get("textSchema") if isinstance(spec, dict) else None
    return schema if isinstance(schema, str) else None


def _json(schema: str) -> Any:
    """The spec parsed when it is JSON; None for YAML (or anything else)."""
    try:
        return json.loads(schema)
    except ValueError:
        return None


def _json_servers(parsed: Any) -> list[str]:
    servers = parsed.get("servers") if isinstance(parsed, dict) else None
    return [s["url"] for s in servers or [] if isinstance(s, dict) and isinstance(s.get("url"), str)]


def _json_server_spans(schema: str, parsed: Any) -> list[tuple[int, int]] | None:
    """Where each server URL is written in a JSON text; None when one is not written plainly."""
    spans: list[tuple[int, int]] = []
    for url in dict.fromkeys(_json_servers(parsed)):
        written = json.dumps(url, ensure_ascii=False)[1:-1]
        found = [m.span("url") for m in re.finditer(_JSON_URL + f'(?P<url>{re.escape(written)})(?=")', schema)]
        if not found or written != url:
            return None
        spans += found
    return sorted(spans)


def _yaml_server_spans(schema: str) -> list[tuple[int, int]]:
    """Where each ``url`` of a YAML ``servers`` block (block or flow style) is written."""
    spans: list[tuple[int, int]] = []
    for block in _YAML_SERVERS.finditer(schema):
        if block["inline"]:
            spans += _url_spans(schema, block.start("inline"), block.end("inline"))
            continue
        indent, end = len(block["indent"]), block.end()
        for line in re.finditer(r"^.*$", schema[end + 1 :], re.MULTILINE):
            text = line.group(0)
            if text.strip() and not text.lstrip().startswith("#"):
                depth = len(text) - len(text.lstrip())
                if depth < indent or (depth == indent and not text.lstrip().startswith("-")):
                    break
            spans += _url_spans(schema, end + 1 + line.start(), end + 1 + line.end())
    return spans


def _url_spans(schema: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    for match in _YAML_URL.finditer(schema, start, end):
        url_start, url_end = match.span("url")
        # In flow style the mapping's closing brace follows the URL; a templated URL keeps its braces.
        while schema[url_end - 1] in "}]" and schema.count("{", url_start, url_end) < schema.count(
            "}", url_start, url_end
        ):
            url_end -= 1
        spans.append((url_start, url_end))
    return spans
