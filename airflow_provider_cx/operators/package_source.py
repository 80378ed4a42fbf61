"""Reading an agent package named by a task: a zip or a folder, locally or in object storage."""

from __future__ import annotations

from airflow_provider_cx import storage
from airflow_provider_cx.operators.errors import CXInvalidInputError
from airflow_provider_cx.package import AgentPackage, PackageError, read_package


def load_package(source: storage.Location, what: str = "source") -> tuple[AgentPackage, str]:
    """The package at ``source`` (zip file, unzipped folder, or zip in object storage) and its URI.

    Anything that is not a readable package raises :class:`CXInvalidInputError` naming ``what``.
    """
    try:
        uri = storage.uri_of(source)
        if storage.is_local(source) and storage.local_path(source).is_dir():
            return read_package(storage.local_path(source)), uri
        return read_package(storage.read_bytes(source)), uri
    except (storage.StorageLocationError, FileNotFoundError, PackageError) as error:
        raise CXInvalidInputError(f"{what}: {error}") from None
