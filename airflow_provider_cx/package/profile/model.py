"""The stage profile document: what a package must look like in one stage, as typed, validated data.

A profile is JSON (see the README's "Stage profiles")::

    {
      "stage": "prod",
      "webhooks": {"Branch Locator": {"uri": "https://branches.acme.example/cx/v1/nearest",
                                      "timeout_seconds": 5,
                                      "request_headers": {"X-Api-Key": {"secret": "conn:branch_api"}}}},
      "tools": {"Accounts API": {"auth": {"type": "service_agent", "service_agent_token": "ID_TOKEN"}}},
      "uri_rewrites": [{"pattern": "-dev\\\\.", "replacement": "-prod."}],
      "data_stores": {"projects/111111111111/locations/global/collections/default_collection/dataStores/faq-dev":
                      "projects/222222222222/locations/global/collections/default_collection/dataStores/faq-prod"},
      "agent_settings": {"securitySettings": "projects/acme-prod/locations/global/securitySettings/s1"},
      "forbid": ["-dev\\\\.", "staging"],
      "project_number": "222222222222"
    }

Secret values are never written in a profile: a secret is ``{"secret": "conn:<conn_id>"}``,
``{"secret": "var:<name>"}`` or ``{"secret": "env:<NAME>"}``, resolved when the profile is applied.
:func:`parse_profile` rejects unknown keys and wrong values, naming each one by its JSON path
(``$.webhooks['Branch Locator'].timeout_seconds``), all of them at once.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRET_SCHEMES = ("conn", "var", "env")
SERVICE_AGENT_TOKENS = ("ID_TOKEN", "ACCESS_TOKEN")
# Top-level fields of agent.json (the CX Agent resource in the package) a profile may set.
AGENT_FIELDS = frozenset(
    {
        "advancedSettings",
        "answerFeedbackSettings",
        "avatarUri",
        "bigqueryExportSettings",
        "clientCertificateSettings",
        "description",
        "displayName",
        "enableLogging",
        "enableMultiLanguageTraining",
        "enableSpellCorrection",
        "enableStackdriverLogging",
        "genAppBuilderSettings",
        "gitIntegrationSettings",
        "locked",
        "personalizationSettings",
        "securitySettings",
        "speechToTextSettings",
        "textToSpeechSettings",
        "timeZone",
    }
)
_TOP_KEYS = (
    "stage",
    "description",
    "webhooks",
    "tools",
    "uri_rewrites",
    "data_stores",
    "agent_settings",
    "forbid",
    "project_number",
)


class ProfileError(ValueError):
    """A stage profile that cannot be used: unreadable, malformed, or not matching the package."""


@dataclass(frozen=True)
class SecretRef:
    """A reference to a secret (``conn:<conn_id>``, ``var:<name>`` or ``env:<NAME>``), never its value."""

    ref: str

    @property
    def scheme(self) -> str:
        return self.ref.partition(":")[0]

    @property
    def key(self) -> str:
        return self.ref.partition(":")[2]

    @property
    def marker(self) -> str:
        """What a stage package written to storage holds in place of the value: ``${secret:<ref>}``."""
        return f"${{secret:{self.ref}}}"


@dataclass(frozen=True)
class WebhookAuth:
    """How a webhook authenticates; setting it replaces whatever authentication the package had.

    ``type``: "none"; "basic" (``username`` + ``password`` secret); "basic_secret_version" (a Secret
    Manager version holding ``username:password``); "oauth" (``client_id``, ``client_secret`` secret,
    ``token_endpoint``, ``scopes``); "service_agent" (``token``: ID_TOKEN or ACCESS_TOKEN).
    """

    type: str
    username: str | None = None
    password: SecretRef | None = None
    secret_version: str | None = None
    client_id: str | None = None
    client_secret: SecretRef | None = None
    token_endpoint: str | None = None
    scopes: tuple[str, ...] = ()
    token: str | None = None


@dataclass(frozen=True)
class ToolAuth:
    """How an OpenAPI tool authenticates; replaces the tool's ``openApiSpec.authentication``.

    ``type``: "none"; "api_key" (``key_name``, ``api_key`` secret, ``request_location`` HEADER or
    QUERY_STRING); "bearer_token" (``token`` secret); "oauth" (as for webhooks); "service_agent"
    (``service_agent_token``: ID_TOKEN or ACCESS_TOKEN).
    """

    type: str
    key_name: str | None = None
    api_key: SecretRef | None = None
    request_location: str | None = None
    token: SecretRef | None = None
    client_id: str | None = None
    client_secret: SecretRef | None = None
    token_endpoint: str | None = None
    scopes: tuple[str, ...] = ()
    service_agent_token: str | None = None


@dataclass(frozen=True)
class WebhookSettings:
    """Fields of one webhook to set; ``None`` leaves a field as the package has it.

    ``request_headers`` replaces all the webhook's headers (a dev header must not reach prod).
    ``service_directory`` (a Service Directory service name) moves the web service behind it.
    """

    uri: str | None = None
    timeout_seconds: int | None = None
    service_directory: str | None = None
    request_headers: Mapping[str, str | SecretRef] | None = None
    auth: WebhookAuth | None = None
    disabled: bool | None = None


@dataclass(frozen=True)
class ToolSettings:
    """Fields of one OpenAPI tool to set: its authentication and its Service Directory service."""

    auth: ToolAuth | None = None
    service_directory: str | None = None


@dataclass(frozen=True)
class UriRewrite:
    """``re.sub(pattern, replacement, url)`` on every webhook URI and tool server URL."""

    pattern: str
    replacement: str

    def apply(self, url: str) -> str:
        return re.sub(self.pattern, self.replacement, url)


@dataclass(frozen=True)
class StageProfile:
    """What a package must look like in one stage; see the module docstring for the document."""

    stage: str = ""
    description: str = ""
    webhooks: Mapping[str, WebhookSettings] = field(default_factory=dict)
    tools: Mapping[str, ToolSettings] = field(default_factory=dict)
    uri_rewrites: tuple[UriRewrite, ...] = ()
    data_stores: Mapping[str, str] = field(default_factory=dict)
    agent_settings: Mapping[str, Any] = field(default_factory=dict)
    forbid: tuple[str, ...] = ()
    #: The stage project's number: resource names (data stores above all) name a project by number,
    #: so the stage-fit gate needs it to recognise the stage's own references.
    project_number: str = ""

    def secret_refs(self) -> list[SecretRef]:
        """Every secret the profile refers to, in document order."""
        refs: list[SecretRef] = []
        for hook in self.webhooks.values():
            refs += [v for v in (hook.request_headers or {}).values() if isinstance(v, SecretRef)]
            if hook.auth is not None:
                refs += [s for s in (hook.auth.password, hook.auth.client_secret) if s is not None]
        for tool in self.tools.values():
            if tool.auth is not None:
                refs += [s for s in (tool.auth.api_key, tool.auth.token, tool.auth.client_secret) if s is not None]
        return refs


def load_profile(path: str | os.PathLike[str]) -> StageProfile:
    """Read and validate a profile file (JSON)."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ProfileError(f"cannot read stage profile {file}: {err}") from err
    except ValueError as err:
        raise ProfileError(f"stage profile {file} is not valid JSON: {err}") from err
    try:
        return parse_profile(data)
    except ProfileError as err:
        raise ProfileError(f"stage profile {file}: {err}") from err


def parse_profile(data: Any) -> StageProfile:
    """Validate a profile document (parsed JSON); every problem is reported, each by its JSON path."""
    reader = _Reader()
    profile = reader.profile(data)
    if reader.errors:
        raise ProfileError("; ".join(reader.errors))
    assert profile is not None  # no errors means every part was read
    return profile


def child_path(path: str, key: str | int) -> str:
    """``$.a`` + ``b`` -> ``$.a.b``; names that are not identifiers are quoted: ``$.a['b c']``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"


class _Reader:
    """Reads a profile document, collecting one message per wrong key or value."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, path: str, problem: str) -> None:
        self.errors.append(f"{path}: {problem}")

    # --- shapes ---------------------------------------------------------------------------------
    def obj(self, value: Any, path: str, keys: tuple[str, ...]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.fail(path, f"expected an object, got {_kind(value)}")
            return None
        for key in value:
            if key not in keys:
                self.fail(child_path(path, key), f"unknown key; expected one of {', '.join(keys)}")
        return value

    def mapping(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"expected an object, got {_kind(value)}")
            return {}
        return value

    def string(self, value: Any, path: str, *, choices: tuple[str, ...] = ()) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, f"expected a non-empty string, got {_kind(value)}")
            return None
        if choices and value not in choices:
            self.fail(path, f"{value!r} is not one of {', '.join(choices)}")
            return None
        return value

    def regex(self, value: Any, path: str) -> str | None:
        text = self.string(value, path)
        if text is not None:
            try:
                re.compile(text)
            except re.error as err:
                self.fail(path, f"{text!r} is not a regular expression: {err}")
                return None
        return text

    def secret(self, value: Any, path: str) -> SecretRef | None:
        """``{"secret": "scheme:key"}``; a plain string here would be a secret written in the profile."""
        if isinstance(value, str):
            self.fail(path, 'secret values must not be written in a profile; use {"secret": "conn:<conn_id>"}')
            return None
        data = self.obj(value, path, ("secret",))
        if data is None:
            return None
        ref = self.string(data.get("secret"), child_path(path, "secret"))
        if ref is None:
            return None
        scheme, colon, key = ref.partition(":")
        if not colon or scheme not in SECRET_SCHEMES or not key:
            self.fail(child_path(path, "secret"), f"{ref!r} is not conn:<conn_id>, var:<name> or env:<NAME>")
            return None
        return SecretRef(ref)

    def strings(self, value: Any, path: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.fail(path, f"expected a list of strings, got {_kind(value)}")
            return ()
        return tuple(s for i, item in enumerate(value) if (s := self.string(item, child_path(path, i))) is not None)

    # --- the document ---------------------------------------------------------------------------
    def profile(self, value: Any) -> StageProfile | None:
        data = self.obj(value, "$", _TOP_KEYS)
        if data is None:
            return None
        text = {k: self.string(data[k], child_path("$", k)) or "" for k in ("stage", "description") if k in data}
        hooks = self.mapping(data.get("webhooks", {}), "$.webhooks")
        tools = self.mapping(data.get("tools", {}), "$.tools")
        stores = self.mapping(data.get("data_stores", {}), "$.data_stores")
        rewrites = data.get("uri_rewrites", [])
        if not isinstance(rewrites, list):
            self.fail("$.uri_rewrites", f"expected a list, got {_kind(rewrites)}")
            rewrites = []
        return StageProfile(
            stage=text.get("stage", ""),
            description=text.get("description", ""),
            webhooks={n: self.webhook(v, child_path("$.webhooks", n)) for n, v in hooks.items()},
            tools={n: self.tool(v, child_path("$.tools", n)) for n, v in tools.items()},
            uri_rewrites=tuple(
                r for i, item in enumerate(rewrites) if (r := self.rewrite(item, f"$.uri_rewrites[{i}]")) is not None
            ),
            data_stores=self.data_stores(stores),
            agent_settings=self.agent_settings(data.get("agent_settings", {})),
            project_number=self.project_number(data),
            forbid=tuple(
                p
                for i, item in enumerate(self.list_of(data.get("forbid", []), "$.forbid"))
                if (p := self.regex(item, f"$.forbid[{i}]")) is not None
            ),
        )

    def data_stores(self, stores: dict[str, Any]) -> dict[str, str]:
        mapping = {
            source: target
            for source, value in stores.items()
            if (target := self.string(value, child_path("$.data_stores", source))) is not None
        }
        for source, target in mapping.items():
            # A -> B with B -> C would map A to C only on a second run: applying twice must not differ.
            if target != source and target in mapping:
                self.fail(
                    child_path("$.data_stores", source), f"its target {target!r} is itself mapped; map to the end"
                )
        return mapping

    def project_number(self, data: dict[str, Any]) -> str:
        value = data.get("project_number", "")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value != "" and not (isinstance(value, str) and value.isdigit()):
            self.fail("$.project_number", f"expected the project's number (digits), got {value!r}")
            return ""
        return str(value)

    def list_of(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, f"expected a list, got {_kind(value)}")
            return []
        return value

    def webhook(self, value: Any, path: str) -> WebhookSettings:
        keys = ("uri", "timeout_seconds", "service_directory", "request_headers", "auth", "disabled")
        data = self.obj(value, path, keys) or {}
        if not data:
            self.fail(path, "sets nothing; give at least one of " + ", ".join(keys))
        timeout = data.get("timeout_seconds")
        if "timeout_seconds" in data and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0):
            self.fail(child_path(path, "timeout_seconds"), f"expected a positive integer, got {timeout!r}")
            timeout = None
        disabled = data.get("disabled")
        if "disabled" in data and not isinstance(disabled, bool):
            self.fail(child_path(path, "disabled"), f"expected true or false, got {disabled!r}")
            disabled = None
        headers = None
        if "request_headers" in data:
            headers = {
                name: item
                if isinstance(item, str)
                else self.secret(item, child_path(child_path(path, "request_headers"), name))
                for name, item in self.mapping(data["request_headers"], child_path(path, "request_headers")).items()
            }
        return WebhookSettings(
            uri=self.string(data["uri"], child_path(path, "uri")) if "uri" in data else None,
            timeout_seconds=timeout,
            service_directory=self.service(data, path),
            request_headers={k: v for k, v in headers.items() if v is not None} if headers is not None else None,
            auth=self.webhook_auth(data["auth"], child_path(path, "auth")) if "auth" in data else None,
            disabled=disabled,
        )

    def service(self, data: dict[str, Any], path: str) -> str | None:
        if "service_directory" not in data:
            return None
        where = child_path(path, "service_directory")
        name = self.string(data["service_directory"], where)
        if name is not None and not re.fullmatch(
            r"projects/[^/]+/locations/[^/]+/namespaces/[^/]+/services/[^/]+", name
        ):
            self.fail(where, f"{name!r} is not projects/P/locations/L/namespaces/N/services/S")
            return None
        return name

    def webhook_auth(self, value: Any, path: str) -> WebhookAuth | None:
        kinds: dict[str, tuple[str, ...]] = {
            "none": (),
            "basic": ("username", "password"),
            "basic_secret_version": ("secret_version",),
            "oauth": ("client_id", "client_secret", "token_endpoint", "scopes"),
            "service_agent": ("token",),
        }
        data, kind = self.typed(value, path, kinds)
        if data is None or kind is None:
            return None
        fields = self.auth_fields(data, path, kinds[kind], secrets=("password", "client_secret"))
        if kind == "service_agent":
            fields["token"] = self.string(data.get("token"), child_path(path, "token"), choices=SERVICE_AGENT_TOKENS)
        if kind == "basic_secret_version" and not re.fullmatch(
            r"projects/[^/]+/secrets/[^/]+/versions/[^/]+", str(fields.get("secret_version"))
        ):
            self.fail(child_path(path, "secret_version"), "expected projects/P/secrets/S/versions/V")
        return WebhookAuth(type=kind, **fields)

    def tool(self, value: Any, path: str) -> ToolSettings:
        data = self.obj(value, path, ("auth", "service_directory")) or {}
        if not data:
            self.fail(path, "sets nothing; give auth and/or service_directory")
        kinds: dict[str, tuple[str, ...]] = {
            "none": (),
            "api_key": ("key_name", "api_key", "request_location"),
            "bearer_token": ("token",),
            "oauth": ("client_id", "client_secret", "token_endpoint", "scopes"),
            "service_agent": ("service_agent_token",),
        }
        auth = None
        if "auth" in data:
            where = child_path(path, "auth")
            auth_data, kind = self.typed(data["auth"], where, kinds)
            if auth_data is not None and kind is not None:
                fields = self.auth_fields(auth_data, where, kinds[kind], secrets=("api_key", "token", "client_secret"))
                if kind == "api_key":
                    fields["request_location"] = self.string(
                        auth_data.get("request_location"),
                        child_path(where, "request_location"),
                        choices=("HEADER", "QUERY_STRING"),
                    )
                if kind == "service_agent":
                    fields["service_agent_token"] = self.string(
                        auth_data.get("service_agent_token"),
                        child_path(where, "service_agent_token"),
                        choices=SERVICE_AGENT_TOKENS,
                    )
                auth = ToolAuth(type=kind, **fields)
        return ToolSettings(auth=auth, service_directory=self.service(data, path))

    def typed(
        self, value: Any, path: str, kinds: dict[str, tuple[str, ...]]
    ) -> tuple[dict[str, Any] | None, str | None]:
        """An auth object: its ``type`` picks which other keys it may (and must) have."""
        if not isinstance(value, dict):
            self.fail(path, f"expected an object, got {_kind(value)}")
            return None, None
        kind = self.string(value.get("type"), child_path(path, "type"), choices=tuple(kinds))
        if kind is None:
            return None, None
        return self.obj(value, path, ("type", *kinds[kind])), kind

    def auth_fields(
        self, data: dict[str, Any], path: str, keys: tuple[str, ...], *, secrets: tuple[str, ...]
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for key in keys:
            where = child_path(path, key)
            if key == "scopes":
                fields[key] = self.strings(data.get(key, []), where)
            elif key not in data:
                self.fail(where, "is required")
            elif key in secrets:
                fields[key] = self.secret(data[key], where)
            else:
                fields[key] = self.string(data[key], where)
        return fields

    def rewrite(self, value: Any, path: str) -> UriRewrite | None:
        data = self.obj(value, path, ("pattern", "replacement"))
        if data is None:
            return None
        pattern = self.regex(data.get("pattern"), child_path(path, "pattern"))
        replacement = data.get("replacement")
        if not isinstance(replacement, str):
            self.fail(child_path(path, "replacement"), f"expected a string, got {_kind(replacement)}")
            return None
        return UriRewrite(pattern, replacement) if pattern is not None else None

    def agent_settings(self, value: Any) -> dict[str, Any]:
        data = self.mapping(value, "$.agent_settings")
        for key in data:
            if key.split(".", 1)[0] not in AGENT_FIELDS:
                self.fail(
                    child_path("$.agent_settings", key),
                    f"not an agent.json field a profile may set; known: {', '.join(sorted(AGENT_FIELDS))}",
                )
        return {k: v for k, v in data.items() if k.split(".", 1)[0] in AGENT_FIELDS}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), repr(value))
