"""Applying a stage profile to a package: a new package, and the list of what changed.

The source package is never modified. The result differs from it only where the profile says, so
every other file stays JSON-equal, and applying the same profile to the result changes nothing
(a rewrite that would change its own output is refused). The change list is computed by comparing
the two packages file by file, so it cannot miss a change; secret values in it are masked.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_cx.package.endpoints import rewrite_tool_servers, tool_server_urls, web_service
from airflow_provider_cx.package.io import package_files
from airflow_provider_cx.package.model import AgentPackage, Resource
from airflow_provider_cx.package.profile.model import (
    ProfileError,
    SecretRef,
    StageProfile,
    ToolAuth,
    WebhookAuth,
    WebhookSettings,
    child_path,
)
from airflow_provider_cx.package.profile.secrets import SecretResolver
from airflow_provider_cx.package.redact import REDACTED, SECRET_FIELDS, package_secrets, redact_uri

_HEADER_SEGMENTS = frozenset({"requestheaders", "headers"})
_WEBHOOK_AUTH_FIELDS = ("username", "password", "secretVersionForUsernamePassword", "oauthConfig", "serviceAgentAuth")
_MISSING = object()
# Shorter "secrets" would mask ordinary words in the change list; Airflow's masker skips them too.
_MIN_SECRET_LENGTH = 4


class ProfileMismatchError(ProfileError):
    """The profile names webhooks, tools or data stores the package does not have."""


@dataclass(frozen=True)
class Change:
    """One field the overlay changed, with secret values masked (``***``)."""

    path: str
    resource: str
    field: str
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.before} -> {self.after}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Overlay:
    """The package a profile produced and the changes it made."""

    package: AgentPackage
    changes: tuple[Change, ...]
    stage: str = ""

    def describe(self) -> str:
        """The change list as text: a count, then one change a line."""
        head = f"stage profile {self.stage!r}: " if self.stage else "stage profile: "
        lines = [f"{head}{len(self.changes)} change(s)"] + [f"- {change}" for change in self.changes]
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        """The change list as a Markdown table, for release notes (values are already masked)."""
        title = f"### Stage profile {self.stage}" if self.stage else "### Stage profile"
        if not self.changes:
            return f"{title}\n\nNo changes.\n"
        rows = [f"| `{c.path}` | `{c.field}` | {_cell(c.before)} | {_cell(c.after)} |" for c in self.changes]
        head = ["| file | field | before | after |", "| --- | --- | --- | --- |"]
        return "\n".join([title, "", *head, *rows]) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for XCom and reports): the stage and the masked changes."""
        return {"stage": self.stage, "changes": [change.to_dict() for change in self.changes]}


def _cell(value: str) -> str:
    return "`" + value.replace("|", "\\|").replace("`", "'") + "`"


def apply_profile(
    package: AgentPackage,
    profile: StageProfile,
    *,
    resolve: SecretResolver | None = None,
    on_secret: Callable[[str], None] | None = None,
    secret_markers: bool = False,
) -> Overlay:
    """Apply ``profile`` to a copy of ``package``.

    ``resolve`` turns the profile's secret references into values (needed only when it has some);
    ``on_secret`` is called with each value before it is used, so a caller can register it with a
    log masker. With ``secret_markers`` the package gets each secret's marker
    (``${secret:conn:<id>}``, see :mod:`~airflow_provider_cx.package.profile.markers`) instead of its
    value, for a package that is stored; ``resolve``, when given, still resolves every secret, so a
    reference that cannot be resolved fails now rather than at the restore.
    Raises :class:`ProfileMismatchError` when the profile names what the package lacks.
    """
    problems = list(_mismatches(package, profile))
    if problems:
        raise ProfileMismatchError("the profile does not match the package: " + "; ".join(problems))
    if secret_markers and resolve is None:
        resolved: dict[SecretRef, str] = {}
    else:
        resolved = _resolve_secrets(profile, resolve, on_secret)
    secrets = {ref: ref.marker for ref in profile.secret_refs()} if secret_markers else resolved
    result = package.copy()
    _rewrite_endpoints(result, profile)
    _map_data_stores(result, profile.data_stores)
    for name, settings in profile.webhooks.items():
        webhook = result.webhook(name)
        assert webhook is not None  # checked by _mismatches
        _set_webhook(webhook.data, settings, secrets)
    for name, tool_settings in profile.tools.items():
        tool = result.find("tools", name)
        assert tool is not None
        spec = tool.data["openApiSpec"]
        if tool_settings.auth is not None:
            _set_tool_auth(spec, tool_settings.auth, secrets)
        if tool_settings.service_directory is not None:
            spec["serviceDirectoryConfig"] = {"service": tool_settings.service_directory}
    _set_agent_fields(result.agent, profile.agent_settings)
    hidden = {*resolved.values(), *package_secrets(package), *package_secrets(result)}
    return Overlay(result, tuple(_changes(package, result, hidden)), profile.stage)


# --- checks ---------------------------------------------------------------------------------------
def _mismatches(package: AgentPackage, profile: StageProfile) -> Iterator[str]:
    """Every name the profile uses that the package does not have (a typo must not pass silently)."""
    hooks = sorted(w.display_name for w in package.webhooks)
    for name in profile.webhooks:
        if package.webhook(name) is None:
            yield f"webhook {name!r} is not in the package (it has: {', '.join(hooks) or 'no webhooks'})"
    tools = sorted(t.display_name for t in package.resources("tools"))
    for name in profile.tools:
        tool = package.find("tools", name)
        if tool is None:
            yield f"tool {name!r} is not in the package (it has: {', '.join(tools) or 'no tools'})"
        elif not isinstance(tool.data.get("openApiSpec"), dict):
            yield f"tool {name!r} is not an OpenAPI tool, so it has no authentication or service to set"
    named = set(_data_store_names(package))
    for source, target in profile.data_stores.items():
        # The target counts too: a package the profile was already applied to names only targets.
        if source not in named and target not in named:
            yield f"data store {source!r} is not named anywhere in the package"
    for key in profile.agent_settings:
        node: Any = package.agent
        for part in key.split(".")[:-1]:
            node = node.get(part, {}) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            yield f"agent setting {key!r}: agent.json has a value that is not an object on the way"


def _resolve_secrets(
    profile: StageProfile, resolve: SecretResolver | None, on_secret: Callable[[str], None] | None
) -> dict[SecretRef, str]:
    refs = profile.secret_refs()
    if refs and resolve is None:
        raise ProfileError(
            f"the profile refers to secrets ({', '.join(r.ref for r in refs)}) but no resolver was given"
        )
    values: dict[SecretRef, str] = {}
    for ref in refs:
        if ref in values:
            continue
        assert resolve is not None
        try:
            value = resolve(ref)
        except ProfileError:
            raise
        except Exception as err:  # the resolver is the caller's; name the reference, keep its reason
            raise ProfileError(f"cannot resolve secret {ref.ref!r}: {err}") from err
        if not isinstance(value, str) or not value:
            raise ProfileError(f"secret {ref.ref!r} resolved to an empty value")
        if on_secret is not None:
            on_secret(value)
        values[ref] = value
    return values


# --- rewriting ------------------------------------------------------------------------------------
def _rewrite_endpoints(package: AgentPackage, profile: StageProfile) -> None:
    if not profile.uri_rewrites:
        return

    def rewrite(url: str) -> str:
        new = _rewrite_once(profile, url)
        again = _rewrite_once(profile, new)
        if again != new:
            raise ProfileError(
                f"uri_rewrites are not idempotent: they turn {redact_uri(url)!r} into {redact_uri(new)!r} and then "
                f"into {redact_uri(again)!r}; anchor the patterns so a rewritten URL no longer matches"
            )
        return new

    for webhook in package.webhooks:
        service = web_service(webhook.data)
        if service is not None and isinstance(service.get("uri"), str):
            service["uri"] = rewrite(service["uri"])
    for tool in package.resources("tools"):
        if tool_server_urls(tool):
            rewrite_tool_servers(tool, rewrite)


def _rewrite_once(profile: StageProfile, url: str) -> str:
    for index, rule in enumerate(profile.uri_rewrites):
        try:
            url = rule.apply(url)
        except (re.error, IndexError) as err:
            raise ProfileError(
                f"$.uri_rewrites[{index}].replacement: {rule.replacement!r} cannot be used: {err}"
            ) from err
    return url


def _documents(package: AgentPackage) -> Iterator[Any]:
    """Every parsed JSON document of the package (agent.json, resources, their parts, unknown files)."""
    yield package.agent
    for _, res in package.iter_resources():
        yield res.data
        yield from (part for part in res.parts.values() if isinstance(part, dict | list))
    yield from (doc for doc in package.other_files.values() if isinstance(doc, dict | list))


def _data_store_names(package: AgentPackage) -> Iterator[str]:
    for doc in _documents(package):
        yield from _data_store_strings(doc, False)


def _data_store_strings(node: Any, inside: bool) -> Iterator[str]:
    """Strings under a key naming data stores (``dataStore``, ``dataStoreConnections``, ``dataStores``...)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _data_store_strings(value, inside or "datastore" in str(key).lower())
    elif isinstance(node, list):
        for item in node:
            yield from _data_store_strings(item, inside)
    elif inside and isinstance(node, str):
        yield node


def _map_data_stores(package: AgentPackage, mapping: Mapping[str, str]) -> None:
    if mapping:
        for doc in _documents(package):
            _replace_data_stores(doc, mapping, False)


def _replace_data_stores(node: Any, mapping: Mapping[str, str], inside: bool) -> None:
    items: Iterable[tuple[Any, Any]] = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        below = inside or (isinstance(node, dict) and "datastore" in str(key).lower())
        if isinstance(value, str):
            if below and value in mapping:
                node[key] = mapping[value]
        elif isinstance(value, dict | list):
            _replace_data_stores(value, mapping, below)


# --- setting fields -------------------------------------------------------------------------------
def _set_webhook(data: dict[str, Any], settings: WebhookSettings, secrets: Mapping[SecretRef, str]) -> None:
    if settings.service_directory is not None:
        directory = data.get("serviceDirectory")
        if not isinstance(directory, dict):
            directory = {"genericWebService": data.pop("genericWebService", {})}
            data["serviceDirectory"] = directory
        directory["service"] = settings.service_directory
    service = web_service(data)
    if service is None:
        service = data["genericWebService"] = {}
    if settings.uri is not None:
        service["uri"] = settings.uri
    if settings.timeout_seconds is not None:
        data["timeout"] = {"seconds": settings.timeout_seconds}
    if settings.disabled is not None:
        if settings.disabled:
            data["disabled"] = True
        else:
            data.pop("disabled", None)
    if settings.request_headers is not None:
        service.pop("secretVersionsForRequestHeaders", None)
        headers = [{"key": k, "value": _value(v, secrets)} for k, v in settings.request_headers.items()]
        if headers:
            service["requestHeaders"] = headers
        else:
            service.pop("requestHeaders", None)
    if settings.auth is not None:
        _set_webhook_auth(service, settings.auth, secrets)


def _set_webhook_auth(service: dict[str, Any], auth: WebhookAuth, secrets: Mapping[SecretRef, str]) -> None:
    for key in _WEBHOOK_AUTH_FIELDS:
        service.pop(key, None)
    if auth.type == "basic":
        service["username"] = auth.username
        service["password"] = _value(auth.password, secrets)
    elif auth.type == "basic_secret_version":
        service["secretVersionForUsernamePassword"] = auth.secret_version
    elif auth.type == "oauth":
        service["oauthConfig"] = _oauth(auth.client_id, auth.client_secret, auth.token_endpoint, auth.scopes, secrets)
    elif auth.type == "service_agent":
        service["serviceAgentAuth"] = auth.token


def _set_tool_auth(spec: dict[str, Any], auth: ToolAuth, secrets: Mapping[SecretRef, str]) -> None:
    if auth.type == "none":
        spec.pop("authentication", None)
    elif auth.type == "api_key":
        config = {"keyName": auth.key_name, "apiKey": _value(auth.api_key, secrets)}
        spec["authentication"] = {"apiKeyConfig": {**config, "requestLocation": auth.request_location}}
    elif auth.type == "bearer_token":
        spec["authentication"] = {"bearerTokenConfig": {"token": _value(auth.token, secrets)}}
    elif auth.type == "oauth":
        oauth = _oauth(auth.client_id, auth.client_secret, auth.token_endpoint, auth.scopes, secrets)
        spec["authentication"] = {"oauthConfig": {"oauthGrantType": "CLIENT_CREDENTIAL", **oauth}}
    elif auth.type == "service_agent":
        spec["authentication"] = {"serviceAgentAuthConfig": {"serviceAgentAuth": auth.service_agent_token}}


def _oauth(
    client_id: str | None,
    secret: SecretRef | None,
    endpoint: str | None,
    scopes: tuple[str, ...],
    secrets: Mapping[SecretRef, str],
) -> dict[str, Any]:
    config: dict[str, Any] = {"clientId": client_id, "clientSecret": _value(secret, secrets), "tokenEndpoint": endpoint}
    if scopes:
        config["scopes"] = list(scopes)
    return config


def _value(value: str | SecretRef | None, secrets: Mapping[SecretRef, str]) -> str:
    return secrets[value] if isinstance(value, SecretRef) else str(value)


def _set_agent_fields(agent: dict[str, Any], settings: Mapping[str, Any]) -> None:
    for key, value in settings.items():
        *parents, last = key.split(".")
        node = agent
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = copy.deepcopy(value)


# --- the change list ------------------------------------------------------------------------------
def _changes(before: AgentPackage, after: AgentPackage, hidden: set[str]) -> Iterator[Change]:
    old, new = package_files(before), package_files(after)
    labels = {path: f"{res.collection.rstrip('s')} {res.display_name!r}" for path, res in after.iter_resources()}
    scrub = sorted((s for s in hidden if len(s) >= _MIN_SECRET_LENGTH), key=len, reverse=True)
    for path in sorted(set(old) | set(new)):
        if old.get(path) == new.get(path):
            continue
        label = "agent" if path == "agent.json" else labels.get(path, path)
        previous = json.loads(old[path]) if path in old else _MISSING
        current = json.loads(new[path]) if path in new else _MISSING
        for field, was, now in _leaf_diff(previous, current, ""):
            yield Change(path, label, field or "(file)", _show(field, was, scrub), _show(field, now, scrub))


def _leaf_diff(before: Any, after: Any, field: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(k for k in after if k not in before)]:
            yield from _leaf_diff(before.get(key, _MISSING), after.get(key, _MISSING), _join(field, key))
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (was, now) in enumerate(zip(before, after, strict=True)):
            yield from _leaf_diff(was, now, f"{field}[{index}]")
    elif before != after:
        yield field, before, after


def _join(field: str, key: str) -> str:
    if field:
        return child_path(field, key)
    return key if key.isidentifier() else f"[{key!r}]"


def _show(field: str, value: Any, scrub: list[str]) -> str:
    if value is _MISSING:
        return "(unset)"
    segments = [s.split("[", 1)[0].lower() for s in field.replace("['", ".").split(".")]
    if SECRET_FIELDS & set(segments):
        return REDACTED
    if _HEADER_SEGMENTS & set(segments):
        # Header names say what changed; their values may be credentials.
        if segments[-1] == "key":
            return json.dumps(value, ensure_ascii=False) if _safe(value, scrub) else REDACTED
        return json.dumps(_mask_headers(value)) if isinstance(value, dict | list) else REDACTED
    if segments and segments[-1] == "textschema" and isinstance(value, str):
        # A whole OpenAPI spec says nothing at a glance; its servers are what a profile changes.
        spec = Resource("tools", "", {"openApiSpec": {"textSchema": value}})
        value = {"servers": [redact_uri(url) for url in tool_server_urls(spec)]}
    text = redact_uri(value) if segments and segments[-1] in ("uri", "url") and isinstance(value, str) else value
    rendered = json.dumps(_mask(text), ensure_ascii=False, sort_keys=False)
    for secret in scrub:
        rendered = rendered.replace(secret, REDACTED)
    return rendered


def _mask(value: Any) -> Any:
    """A JSON value with what may be a credential replaced (for values set as a whole, e.g. oauthConfig)."""
    if isinstance(value, dict):
        masked: dict[str, Any] = {}
        for key, item in value.items():
            lowered = str(key).lower()
            if lowered in SECRET_FIELDS:
                masked[key] = REDACTED
            elif lowered in _HEADER_SEGMENTS:
                masked[key] = _mask_headers(item)
            elif lowered in ("uri", "url") and isinstance(item, str):
                masked[key] = redact_uri(item)
            else:
                masked[key] = _mask(item)
        return masked
    if isinstance(value, list):
        return [_mask(item) for item in value]
    return value


def _mask_headers(headers: Any) -> Any:
    """Headers with every value masked: ``[{"key", "value"}]`` (package form) or ``{name: value}``."""
    if isinstance(headers, list):
        return [{**h, "value": REDACTED} if isinstance(h, dict) and "value" in h else REDACTED for h in headers]
    if isinstance(headers, dict):
        return dict.fromkeys(headers, REDACTED)
    return REDACTED


def _safe(value: Any, scrub: list[str]) -> bool:
    return not any(secret in str(value) for secret in scrub)
