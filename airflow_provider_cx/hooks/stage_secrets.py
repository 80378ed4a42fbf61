"""A stage's profile read by a task, and a stage package's secrets put in just before it is sent.

A stage package in storage holds secret markers (``${secret:conn:<id>}``), never values (see
:mod:`airflow_provider_cx.package.profile.markers`). The restore reads it, resolves the markers
through Airflow with the stage profile that wrote them (each value registered with the secrets
masker first) and sends the result from memory; the values are never written anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_cx import storage
from airflow_provider_cx.hooks.errors import CXInvalidInputError

if TYPE_CHECKING:
    from airflow_provider_cx.package import AgentPackage
    from airflow_provider_cx.package.profile import StageProfile

#: What a task's ``profile`` / ``stage_profile`` argument may be: a file's location or the document.
ProfileSource = storage.Location | Mapping[str, Any]


def profile_label(profile: ProfileSource | None) -> str:
    """How errors name the profile: its URI, ``(inline)`` or ``(none)``."""
    if profile is None or isinstance(profile, Mapping):
        return "(inline)" if profile is not None else "(none)"
    return storage.uri_of(profile)


def read_stage_profile(profile: ProfileSource | None, read: Callable[[Any], bytes], what: str) -> StageProfile:
    """The profile parsed from the mapping, or read with ``read`` from its file (any storage location).

    ``None`` is the empty profile. Anything unreadable or invalid is a :class:`CXInvalidInputError`
    naming ``what`` (the argument).
    """
    from airflow_provider_cx.package.profile import ProfileError, parse_profile

    document: Any = {}
    if isinstance(profile, Mapping):
        document = dict(profile)
    elif profile is not None:
        try:
            document = json.loads(read(profile))
        except (FileNotFoundError, storage.StorageLocationError, UnicodeDecodeError, ValueError) as error:
            raise CXInvalidInputError(f"{what}: {error}") from None
    try:
        return parse_profile(document)
    except ProfileError as error:
        raise CXInvalidInputError(f"{what} {profile_label(profile)}: {error}") from None


def with_stage_secrets(content: bytes, uri: str, profile: StageProfile) -> bytes:
    """The zip to send for the stage package ``content``: its markers replaced by the secrets' values.

    Secrets are resolved through Airflow (``conn:`` / ``var:``) and masked before use. Raises
    :class:`CXInvalidInputError` when ``content`` is no package, the profile does not match it, a
    secret cannot be resolved, or a marker is left that the profile does not set.
    """
    from airflow.sdk.log import mask_secret

    from airflow_provider_cx.hooks.package_source import mask_package_secrets
    from airflow_provider_cx.hooks.profile_secrets import airflow_secret_resolver
    from airflow_provider_cx.package import PackageError, read_package, write_zip
    from airflow_provider_cx.package.profile import ProfileError, resolve_secret_markers

    try:
        package = read_package(content)
    except PackageError as error:
        raise CXInvalidInputError(
            f"source {uri} is not a readable agent package, so the stage profile's secrets cannot be put in: {error}"
        ) from None
    mask_package_secrets(package)
    try:
        resolved = resolve_secret_markers(package, profile, airflow_secret_resolver(), on_secret=mask_secret)
    except ProfileError as error:
        raise CXInvalidInputError(f"source {uri}: {error}") from None
    return write_zip(resolved)


def refuse_secret_markers(package: AgentPackage, uri: str) -> None:
    """Refuse a package with markers when no profile is there to resolve them."""
    from airflow_provider_cx.package.profile import UnresolvedSecretError, require_no_secret_markers

    try:
        require_no_secret_markers(package, f"source {uri}")
    except UnresolvedSecretError as error:
        raise CXInvalidInputError(f"{error} (pass stage_profile=)") from None
