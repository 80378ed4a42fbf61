"""Keeping the credentials an agent package carries out of everything we print.

Webhooks (and playbook tools) hold credentials: request header values, basic-auth passwords, OAuth
client secrets, API keys and bearer tokens, and sometimes a key in the URI itself
(``?apikey=...``, ``https://user:password@host``). Lint messages, reports, diffs and logs say what
a webhook *is* — its name, host and path — never these values:

- :func:`redact_uri` is the URI to show: userinfo, query values and fragment replaced by ``***``,
  except template placeholders (``<YOUR-API-KEY>``, ``{{key}}``): they hold no secret, and a finding
  that complains about one must show it;
- :func:`package_secrets` lists the secret values a package holds, so a caller can register them
  with a log masker (the operators hand them to Airflow's secrets masker).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from airflow_provider_cx.package.model import AgentPackage

REDACTED = "***"
#: Field names (lower case) whose string values are credentials wherever they appear in a webhook or tool.
SECRET_FIELDS = frozenset({"password", "clientsecret", "apikey", "token", "bearertoken", "secret", "privatekey"})
_HEADER_FIELDS = frozenset({"requestheaders", "headers"})
_QUERY_VALUE = re.compile(r"=([^&;#]*)")
#: A value that is wholly a template placeholder, never filled in: shown, because it is no secret.
PLACEHOLDER = re.compile(r"<[A-Za-z][\w .-]*>|\{\{ *[A-Za-z][\w.-]* *\}\}")


def redact_uri(uri: str) -> str:
    """``uri`` with what may be a credential hidden: userinfo, every query value, the fragment.

    ``https://svc:pw@api.example/v1/hook?apikey=K&v=2`` → ``https://svc:***@api.example/v1/hook?apikey=***&v=***``.
    Text that does not parse as a URI is redacted from its first ``?`` or ``@`` on.
    """
    try:
        parts = urlsplit(uri)
        host = parts.netloc.rpartition("@")[2]
    except ValueError:
        return re.split(r"[?@#]", uri, maxsplit=1)[0] + (REDACTED if re.search(r"[?@#]", uri) else "")
    if "@" in parts.netloc:
        user, colon, password = parts.netloc.rpartition("@")[0].partition(":")
        host = f"{user}:{_masked(password)}@{host}" if colon else f"{_masked(user)}@{host}"
    if "=" in parts.query:
        query = _QUERY_VALUE.sub(lambda m: f"={_masked(m.group(1))}", parts.query)
    else:
        query = _masked(parts.query) if parts.query else ""
    fragment = _masked(parts.fragment) if parts.fragment else ""
    return urlunsplit((parts.scheme, host, parts.path, query, fragment))


def package_secrets(package: AgentPackage) -> set[str]:
    """Every credential value the package's webhooks and tools hold (header values, passwords, keys...).

    Placeholders that were never filled in are not credentials and are left out.
    """
    found: set[str] = set()
    for resource in (*package.webhooks, *package.resources("tools")):
        found.update(_secrets_in(resource.data))
    return {value for value in found if value.strip() and not is_placeholder(value)}


def is_placeholder(value: str) -> bool:
    """Whether ``value`` is wholly a template placeholder such as ``<YOUR-API-KEY>`` or ``{{key}}``."""
    return PLACEHOLDER.fullmatch(unquote(value).strip()) is not None


def _masked(value: str) -> str:
    return value if value and is_placeholder(value) else REDACTED


def _secrets_in(value: Any, key: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for name, item in value.items():
            lowered = str(name).lower()
            if lowered in _HEADER_FIELDS:
                yield from _header_values(item)
            elif lowered in SECRET_FIELDS and isinstance(item, str):
                yield item
            elif lowered == "uri" and isinstance(item, str):
                yield from _uri_secrets(item)
            else:
                yield from _secrets_in(item, lowered)
    elif isinstance(value, list):
        for item in value:
            yield from _secrets_in(item, key)


def _header_values(headers: Any) -> Iterator[str]:
    """Values of ``{"Name": "value"}`` (API form) or ``[{"key": ..., "value": ...}]`` (package form)."""
    if isinstance(headers, dict):
        yield from (str(value) for value in headers.values())
    elif isinstance(headers, list):
        yield from (str(entry.get("value", "")) for entry in headers if isinstance(entry, dict))


def _uri_secrets(uri: str) -> Iterator[str]:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return
    if parts.password:
        yield parts.password
    elif parts.username and "@" in parts.netloc:
        yield parts.username
    for pair in parts.query.split("&"):
        _, equals, value = pair.partition("=")
        if equals:
            yield value
    if parts.fragment:
        yield parts.fragment


__all__ = ["PLACEHOLDER", "REDACTED", "SECRET_FIELDS", "is_placeholder", "package_secrets", "redact_uri"]
