"""Resolving a stage profile's secret references through Airflow, on a worker.

``conn:<conn_id>`` is the connection's password and ``var:<name>`` the Variable's value, read the
way any task reads them (the task's connection and variable lookups, so a secrets backend, the
metadata database and ``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*`` all work). ``env:<NAME>`` is refused
here: which variables a worker's process has depends on how that worker was started, so a profile
would pass on one worker and fail (or read something else) on another; a secret meant for workers
belongs in a connection or variable, which Airflow can already take from the environment.

Every value is handed to Airflow's secrets masker before it is returned, so no later log line,
rendered field or XCom of the task shows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_cx.package.profile import SecretRef, SecretResolver


def airflow_secret_resolver() -> SecretResolver:
    """A resolver for :func:`~airflow_provider_cx.package.profile.apply_profile` backed by Airflow."""
    from airflow.sdk.log import mask_secret

    from airflow_provider_cx.package.profile import SecretNotFoundError

    def resolve(ref: SecretRef) -> str:
        if ref.scheme == "conn":
            value = _connection_password(ref)
        elif ref.scheme == "var":
            value = _variable(ref)
        else:
            raise SecretNotFoundError(
                f"secret {ref.ref!r}: env: references are not resolved on Airflow workers; "
                f"use conn:<conn_id> (the connection's password) or var:<name> instead"
            )
        mask_secret(value)
        return value

    return resolve


def _connection_password(ref: SecretRef) -> str:
    from airflow.sdk import BaseHook

    from airflow_provider_cx.package.profile import SecretNotFoundError

    try:
        connection = BaseHook.get_connection(ref.key)
    except Exception as error:  # AirflowNotFoundException, or the secrets backend's own error
        raise SecretNotFoundError(
            f"secret {ref.ref!r}: Airflow connection {ref.key!r} is not defined ({type(error).__name__})"
        ) from None
    password = connection.password
    if not password:
        raise SecretNotFoundError(
            f"secret {ref.ref!r}: Airflow connection {ref.key!r} has no password; put the secret there"
        )
    return str(password)


def _variable(ref: SecretRef) -> str:
    from airflow.sdk import Variable

    from airflow_provider_cx.package.profile import SecretNotFoundError

    try:
        value = Variable.get(ref.key)
    except Exception as error:  # KeyError / AirflowNotFoundException, depending on where it is looked up
        raise SecretNotFoundError(
            f"secret {ref.ref!r}: Airflow variable {ref.key!r} is not defined ({type(error).__name__})"
        ) from None
    if value is None or str(value) == "":
        raise SecretNotFoundError(f"secret {ref.ref!r}: Airflow variable {ref.key!r} is empty")
    return str(value)
