"""The ``dialogflow_cx`` connection form, defined once for both ways Airflow reads it.

Airflow >= 3.2 reads the declarative ``conn-fields`` / ``ui-field-behaviour`` from provider info
without importing the hook; earlier 3.x releases call the hook's classic
``get_connection_form_widgets()`` / ``get_ui_field_behaviour()``. Both are built from
:data:`FIELDS`, so they cannot drift apart. Field names are the Google provider's extras (an existing
Google Cloud connection's extras work unchanged) plus ``location``, ``emulator_host`` and the retry
and polling limits.

This module imports nothing of ours or Airflow's: Airflow calls ``get_provider_info()`` while it is
itself being imported, so anything reaching back into ``airflow`` from here would be circular.
"""

from __future__ import annotations

from typing import Any, NamedTuple

# Same values as in .credentials (a test keeps them equal); not imported, see the docstring.
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
EMULATOR_HOST_ENV = "DIALOGFLOW_CX_EMULATOR_HOST"


class FormField(NamedTuple):
    label: str
    description: str
    placeholder: str = ""
    secret: bool = False


FIELDS: dict[str, FormField] = {
    "project": FormField("Project Id", "Default Google Cloud project for agent names.", "my-project"),
    "location": FormField("Location", "Default CX location when a call names no agent (global if empty).", "global"),
    "key_path": FormField(
        "Keyfile Path", "Path to a service-account JSON key on the workers.", "/keys/cx-deployer.json"
    ),
    "keyfile_dict": FormField("Keyfile JSON", "Service-account JSON key contents.", secret=True),
    "credential_config_file": FormField(
        "Credential Configuration File",
        "Workload identity federation config: a path or its JSON.",
    ),
    "scope": FormField("Scopes (comma separated)", "OAuth scopes; default cloud-platform.", CLOUD_PLATFORM_SCOPE),
    "impersonation_chain": FormField(
        "Impersonation Chain",
        "Service account(s) to impersonate, comma separated; the last one makes the calls.",
        "deployer@my-project.iam.gserviceaccount.com",
    ),
    "quota_project_id": FormField("Quota Project Id", "Project billed for API quota.", "my-project"),
    "emulator_host": FormField(
        "Emulator Host",
        f"host:port of a CX emulator: plaintext, anonymous. Falls back to ${EMULATOR_HOST_ENV}.",
        "localhost:8086",
    ),
    # Retry and polling limits (see hooks/policy_settings.py); empty keeps the provider's default.
    "retry_max_attempts": FormField(
        "Retry: Max Attempts",
        "Attempts per API call on transient errors (UNAVAILABLE, RESOURCE_EXHAUSTED, ...). Default 10.",
        "10",
    ),
    "retry_initial_delay": FormField("Retry: Initial Backoff (s)", "Pause before the first retry. Default 1.", "1"),
    "retry_max_delay": FormField(
        "Retry: Max Backoff (s)", "Cap on the doubling pause between retries. Default 30.", "30"
    ),
    "retry_deadline": FormField(
        "Retry: Deadline (s)", "No retry starts after this many seconds of one call. Default 300.", "300"
    ),
    "retry_attempt_timeout": FormField(
        "Retry: Attempt Timeout (s)", "Timeout of each attempt of an API call. Default 180.", "180"
    ),
    "poll_interval": FormField(
        "Operation Poll Interval (s)",
        "Longest pause between status checks of a long-running operation; operators' poll_interval wins. Default 10.",
        "10",
    ),
    "operation_timeout": FormField(
        "Operation Timeout (s)",
        "How long to wait for one long-running operation; operators' operation_timeout wins. Default 3600.",
        "3600",
    ),
}
HIDDEN_STANDARD_FIELDS = ["host", "port", "login", "password", "schema", "extra"]


def provider_conn_fields() -> dict[str, Any]:
    """``conn-fields`` for provider info."""
    fields: dict[str, Any] = {}
    for name, field in FIELDS.items():
        schema: dict[str, Any] = {"type": ["string", "null"]}
        if field.secret:
            schema["format"] = "password"
        fields[name] = {"label": field.label, "description": field.description, "schema": schema}
    return fields


def provider_ui_field_behaviour() -> dict[str, Any]:
    """``ui-field-behaviour`` for provider info (kebab-case keys)."""
    return {
        "hidden-fields": list(HIDDEN_STANDARD_FIELDS),
        "relabeling": {},
        "placeholders": {name: field.placeholder for name, field in FIELDS.items() if field.placeholder},
    }


def classic_form_widgets() -> dict[str, Any]:
    """wtforms fields for Airflow releases that still build the form from the hook."""
    from wtforms import PasswordField, StringField

    return {
        name: (PasswordField if field.secret else StringField)(field.label, description=field.description)
        for name, field in FIELDS.items()
    }


def classic_ui_field_behaviour() -> dict[str, Any]:
    """``get_ui_field_behaviour()`` shape (snake_case keys)."""
    behaviour = provider_ui_field_behaviour()
    return {
        "hidden_fields": behaviour["hidden-fields"],
        "relabeling": behaviour["relabeling"],
        "placeholders": behaviour["placeholders"],
    }
