"""Stage profiles: what differs between dev, staging and prod, applied to an agent package.

    profile = load_profile("profiles/prod.json")
    overlay = apply_profile(package, profile, resolve=env_resolver(), on_secret=mask)
    overlay.package   # the package for prod
    overlay.changes   # what changed, secrets masked
    stored = apply_profile(package, profile, secret_markers=True)  # ${secret:conn:<id>}, no values
    resolve_secret_markers(stored.package, profile, env_resolver())  # the values, in memory only

Pure: no Airflow, no network. The stage-fit gate (``check_stage_fit``) checks the result.
"""

from __future__ import annotations

from airflow_provider_cx.package.profile.apply import Change, Overlay, ProfileMismatchError, apply_profile
from airflow_provider_cx.package.profile.markers import (
    MarkerSite,
    UnresolvedSecretError,
    find_secret_markers,
    require_no_secret_markers,
    resolve_secret_markers,
)
from airflow_provider_cx.package.profile.model import (
    ProfileError,
    SecretRef,
    StageProfile,
    ToolAuth,
    ToolSettings,
    UriRewrite,
    WebhookAuth,
    WebhookSettings,
    load_profile,
    parse_profile,
)
from airflow_provider_cx.package.profile.secrets import SecretNotFoundError, SecretResolver, env_resolver

__all__ = [
    "Change",
    "MarkerSite",
    "Overlay",
    "ProfileError",
    "ProfileMismatchError",
    "SecretNotFoundError",
    "SecretRef",
    "SecretResolver",
    "StageProfile",
    "ToolAuth",
    "ToolSettings",
    "UnresolvedSecretError",
    "UriRewrite",
    "WebhookAuth",
    "WebhookSettings",
    "apply_profile",
    "env_resolver",
    "find_secret_markers",
    "load_profile",
    "parse_profile",
    "require_no_secret_markers",
    "resolve_secret_markers",
]
