"""Google credentials from an Airflow connection, read the way the Google provider writes its extras.

An existing ``google_cloud_default`` connection works unchanged: the extras ``project``, ``key_path``,
``keyfile_dict``, ``credential_config_file``, ``scope``, ``impersonation_chain`` and
``quota_project_id`` are read under their plain names, under the legacy
``extra__google_cloud_platform__`` prefix, and under ``extra__dialogflow_cx__`` (our own connection
type). ``location``, ``emulator_host`` and the retry/polling extras (:mod:`.policy_settings`) are
ours. Empty strings count as unset, because the connection form saves untouched fields as ``""``.

Precedence: at most one key source (``key_path``, ``keyfile_dict``, ``credential_config_file``);
none means Application Default Credentials. An emulator host (extra ``emulator_host``, else the
``DIALOGFLOW_CX_EMULATOR_HOST`` environment variable) means anonymous credentials and no key at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_cx.hooks.errors import CXCredentialsError
from airflow_provider_cx.hooks.policy_settings import polling_overrides_from_extras, retry_overrides_from_extras

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
EMULATOR_HOST_ENV = "DIALOGFLOW_CX_EMULATOR_HOST"
EXTRA_PREFIXES = ("", "extra__google_cloud_platform__", "extra__dialogflow_cx__")


@dataclass(frozen=True)
class ConnectionSettings:
    """What the hook needs from a connection, parsed and validated once."""

    conn_id: str
    project_id: str | None = None
    key_path: str | None = None
    # Not in repr: the key must not reach a log line or a traceback through the settings object.
    keyfile_dict: dict[str, Any] | None = field(default=None, repr=False)
    credential_config_file: str | dict[str, Any] | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = (CLOUD_PLATFORM_SCOPE,)
    impersonation_chain: tuple[str, ...] = ()
    quota_project_id: str | None = None
    location: str | None = None
    emulator_host: str | None = None
    #: RetryPolicy / PollingPolicy fields the connection sets (see :mod:`.policy_settings`).
    retry_overrides: dict[str, Any] = field(default_factory=dict)
    polling_overrides: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_extras(cls, conn_id: str, extras: Mapping[str, Any]) -> ConnectionSettings:
        def get(name: str) -> Any:
            for prefix in EXTRA_PREFIXES:
                value = extras.get(prefix + name)
                if value not in (None, ""):
                    return value
            return None

        if get("key_secret_name"):
            raise CXCredentialsError(
                f"connection {conn_id!r}: key_secret_name (Secret Manager keys) is not supported; "
                "put the key in keyfile_dict or use key_path"
            )
        scope = get("scope")
        return cls(
            conn_id=conn_id,
            project_id=get("project"),
            key_path=get("key_path"),
            keyfile_dict=_parse_keyfile_dict(conn_id, get("keyfile_dict")),
            credential_config_file=get("credential_config_file"),
            scopes=tuple(_split(scope)) or (CLOUD_PLATFORM_SCOPE,),
            impersonation_chain=tuple(_split(get("impersonation_chain"))),
            quota_project_id=get("quota_project_id"),
            location=get("location"),
            emulator_host=get("emulator_host") or os.environ.get(EMULATOR_HOST_ENV) or None,
            retry_overrides=retry_overrides_from_extras(conn_id, get),
            polling_overrides=polling_overrides_from_extras(conn_id, get),
        )


def build_credentials(
    settings: ConnectionSettings, impersonation_chain: str | Sequence[str] | None = None
) -> tuple[Credentials, str | None]:
    """Credentials and project id for ``settings``; ``impersonation_chain`` overrides the connection's."""
    import google.auth.credentials

    if settings.emulator_host:
        return google.auth.credentials.AnonymousCredentials(), settings.project_id  # type: ignore[no-untyped-call]

    credentials, key_project = _base_credentials(settings)
    chain = tuple(_split(impersonation_chain)) if impersonation_chain else settings.impersonation_chain
    if chain:
        credentials = _impersonate(credentials, chain, settings.scopes)
        key_project = _project_of_service_account(chain[-1]) or key_project
    if settings.quota_project_id and hasattr(credentials, "with_quota_project"):
        credentials = credentials.with_quota_project(settings.quota_project_id)
    return credentials, settings.project_id or key_project


def _base_credentials(settings: ConnectionSettings) -> tuple[Credentials, str | None]:
    """Credentials from the one key source the connection names, else ADC.

    Keys are loaded with the loader for their declared type, never google.auth's generic loaders:
    those would accept any credential type from a connection and may call out to the network.
    """
    import google.auth
    from google.auth.exceptions import GoogleAuthError

    given = [
        name for name in ("key_path", "keyfile_dict", "credential_config_file") if getattr(settings, name) is not None
    ]
    if len(given) > 1:
        raise CXCredentialsError(f"connection {settings.conn_id!r} sets {' and '.join(given)}; set only one key source")
    scopes = list(settings.scopes)
    try:
        if settings.key_path is not None:
            return _service_account(settings.conn_id, "key_path", _read_key_path(settings), scopes)
        if settings.keyfile_dict is not None:
            return _service_account(settings.conn_id, "keyfile_dict", settings.keyfile_dict, scopes)
        if settings.credential_config_file is not None:
            return _external_account(settings.conn_id, _read_credential_config(settings), scopes), None
        return google.auth.default(scopes=scopes)
    except (GoogleAuthError, ValueError, KeyError) as error:
        source = given[0] if given else "Application Default Credentials"
        raise CXCredentialsError(
            f"connection {settings.conn_id!r}: cannot load credentials from {source}: {error}"
        ) from error


def _service_account(
    conn_id: str, field: str, info: dict[str, Any], scopes: list[str]
) -> tuple[Credentials, str | None]:
    from google.oauth2 import service_account

    if info.get("type") != "service_account":
        raise CXCredentialsError(
            f"connection {conn_id!r}: {field} must be a service-account key (type service_account), "
            f"got type {info.get('type')!r}; use credential_config_file for workload identity federation"
        )
    key = service_account.Credentials.from_service_account_info(info, scopes=scopes)  # type: ignore[no-untyped-call]
    return key, info.get("project_id")


def _external_account(conn_id: str, info: dict[str, Any], scopes: list[str]) -> Credentials:
    """Workload identity federation: the identity-pool, AWS or executable flavour of external_account."""
    if info.get("type") != "external_account":
        raise CXCredentialsError(
            f"connection {conn_id!r}: credential_config_file must be an external_account configuration, "
            f"got type {info.get('type')!r}"
        )
    from google.auth import aws, identity_pool, pluggable

    source = info.get("credential_source") or {}
    if str(source.get("environment_id", "")).startswith("aws"):
        flavour: Any = aws
    elif "executable" in source:
        flavour = pluggable
    else:
        flavour = identity_pool
    credentials: Credentials = flavour.Credentials.from_info(info, scopes=scopes)
    return credentials


def _read_key_path(settings: ConnectionSettings) -> dict[str, Any]:
    path = settings.key_path or ""
    if path.endswith(".p12"):
        raise CXCredentialsError(
            f"connection {settings.conn_id!r}: key_path {path!r} is a legacy P12 key; use a JSON key"
        )
    if not os.path.isfile(path):
        raise CXCredentialsError(f"connection {settings.conn_id!r}: key_path {path!r} is not a file")
    with open(path, encoding="utf-8") as key_file:
        return _masked(_loads(settings.conn_id, "key_path", key_file.read()))


def _read_credential_config(settings: ConnectionSettings) -> dict[str, Any]:
    """The configuration given as a dict, a JSON string, or a path to a JSON file."""
    config = settings.credential_config_file
    if isinstance(config, dict):
        return config
    text = str(config)
    if not text.lstrip().startswith("{"):
        if not os.path.isfile(text):
            raise CXCredentialsError(
                f"connection {settings.conn_id!r}: credential_config_file {text!r} is neither JSON nor a file"
            )
        with open(text, encoding="utf-8") as config_file:
            text = config_file.read()
    return _loads(settings.conn_id, "credential_config_file", text)


def _impersonate(source: Credentials, chain: tuple[str, ...], scopes: tuple[str, ...]) -> Credentials:
    from google.auth import impersonated_credentials

    return impersonated_credentials.Credentials(  # type: ignore[no-untyped-call]
        source_credentials=source,
        target_principal=chain[-1],
        delegates=list(chain[:-1]) or None,
        target_scopes=list(scopes),
    )


def _project_of_service_account(email: str) -> str | None:
    """``name@PROJECT.iam.gserviceaccount.com`` -> ``PROJECT`` (the project the impersonated SA lives in)."""
    _, _, domain = email.partition("@")
    project, _, rest = domain.partition(".")
    return project if rest == "iam.gserviceaccount.com" else None


def _parse_keyfile_dict(conn_id: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    keyfile = _loads(conn_id, "keyfile_dict", value) if isinstance(value, str) else value
    if not isinstance(keyfile, dict):
        raise CXCredentialsError(f"connection {conn_id!r}: keyfile_dict must be a JSON object")
    if isinstance(keyfile.get("private_key"), str):
        # Keys pasted into a one-line form field arrive with literal backslash-n sequences.
        keyfile = {**keyfile, "private_key": keyfile["private_key"].replace("\\n", "\n")}
    return _masked(keyfile)


def _masked(keyfile: dict[str, Any]) -> dict[str, Any]:
    """Register the key's secret fields (``private_key``, ``private_key_id``) with Airflow's secrets masker.

    Airflow masks a connection's extra only as one whole string; the key alone, e.g. in PEM form,
    would otherwise show in any log line that quoted it.
    """
    from airflow.sdk.log import mask_secret

    mask_secret(keyfile)
    return keyfile


def _loads(conn_id: str, field: str, text: str) -> dict[str, Any]:
    """Parse a JSON object; the error names the position only, as the text may be a private key."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise CXCredentialsError(
            f"connection {conn_id!r}: {field} is not valid JSON ({error.msg} at line {error.lineno})"
        ) from None
    if not isinstance(value, dict):
        raise CXCredentialsError(f"connection {conn_id!r}: {field} must be a JSON object")
    return value


def _split(value: str | Sequence[str] | None) -> list[str]:
    """A comma-separated string or a list, as the Google provider accepts for scopes and chains."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item and item.strip()]
