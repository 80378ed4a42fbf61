"""Resolving a profile's secret references to values, outside Airflow.

The operators resolve ``conn:`` and ``var:`` through Airflow (connections, variables, a secrets
backend); the CLI has no Airflow, so :func:`env_resolver` reads the same references from the
environment the way Airflow itself does: ``AIRFLOW_CONN_<ID>`` and ``AIRFLOW_VAR_<NAME>``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from urllib.parse import unquote, urlsplit

from airflow_provider_cx.package.profile.model import ProfileError, SecretRef

#: Turns a reference into the secret value; raises when it cannot.
SecretResolver = Callable[[SecretRef], str]


class SecretNotFoundError(ProfileError):
    """A secret reference of a profile resolves to nothing."""


def env_resolver(environ: Mapping[str, str] | None = None) -> SecretResolver:
    """A resolver over environment variables.

    ``env:NAME`` is ``$NAME``; ``var:name`` is ``$AIRFLOW_VAR_NAME``; ``conn:id`` is the password of
    ``$AIRFLOW_CONN_ID`` (a connection URI, or Airflow's JSON form with a ``password`` key).
    """
    env = os.environ if environ is None else environ

    def resolve(ref: SecretRef) -> str:
        variable = {"env": ref.key, "var": f"AIRFLOW_VAR_{ref.key.upper()}"}.get(
            ref.scheme, f"AIRFLOW_CONN_{ref.key.upper()}"
        )
        raw = env.get(variable)
        if not raw:
            raise SecretNotFoundError(f"secret {ref.ref!r}: environment variable {variable} is not set")
        return _connection_password(ref, raw) if ref.scheme == "conn" else raw

    return resolve


def _connection_password(ref: SecretRef, raw: str) -> str:
    if raw.lstrip().startswith("{"):
        try:
            password = json.loads(raw).get("password")
        except (ValueError, AttributeError):
            password = None
    else:
        password = urlsplit(raw).password
        password = unquote(password) if password else None
    if not isinstance(password, str) or not password:
        raise SecretNotFoundError(f"secret {ref.ref!r}: connection {ref.key!r} has no password")
    return password
