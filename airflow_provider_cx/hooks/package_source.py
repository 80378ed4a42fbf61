"""Reading an agent package named by a task: a zip or a folder, locally or in object storage.

Whatever credentials the package's webhooks carry (header values, passwords, API keys) are handed
to Airflow's secrets masker as soon as the package is read, so no log line of the task shows them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_cx import storage
from airflow_provider_cx.hooks.errors import CXInvalidInputError

if TYPE_CHECKING:
    from airflow_provider_cx.package import AgentPackage


def load_package(
    source: storage.Location, what: str = "source", gcp_conn_id: str | None = None
) -> tuple[AgentPackage, str]:
    """The package at ``source`` (zip file, unzipped folder, or zip in object storage) and its URI.

    Anything that is not a readable package raises :class:`CXInvalidInputError` naming ``what``.
    Object storage is read with ``gcp_conn_id``'s credentials.
    """
    from airflow_provider_cx.package import PackageError, read_package

    try:
        uri = storage.uri_of(source)
        if storage.is_local(source) and storage.local_path(source).exists():  # the reader checks before reading
            package = read_package(storage.local_path(source))
        else:
            package = read_package(storage.read_bytes(source, gcp_conn_id=gcp_conn_id))
    except (storage.StorageLocationError, FileNotFoundError, PackageError) as error:
        raise CXInvalidInputError(f"{what}: {error}") from None
    mask_package_secrets(package)
    return package, uri


def mask_package_secrets(package: AgentPackage) -> None:
    """Register the package's webhook and tool credentials with Airflow's secrets masker."""
    from airflow.sdk.log import mask_secret

    from airflow_provider_cx.package.redact import package_secrets

    for secret in sorted(package_secrets(package)):
        mask_secret(secret)
