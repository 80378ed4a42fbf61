"""A Cloud Storage emulator (gcp-storage-emulator, a real JSON API server) for the gs:// tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_cx.demo.services import StorageEmulator

BUCKET = "cx-artifacts"


@pytest.fixture(scope="session")
def storage_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageEmulator]:
    with StorageEmulator(tmp_path_factory.mktemp("storage-emulator") / "data", buckets=[BUCKET]) as emulator:
        yield emulator


@pytest.fixture
def gcs_env(storage_emulator: StorageEmulator, monkeypatch: pytest.MonkeyPatch) -> StorageEmulator:
    """``STORAGE_EMULATOR_HOST`` pointing at the emulator, for this test only."""
    for key, value in storage_emulator.env.items():
        monkeypatch.setenv(key, value)
    return storage_emulator


def gcs_client(emulator: StorageEmulator):  # type: ignore[no-untyped-def]
    """A google-cloud-storage client for the emulator: a second, independent view of the objects."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": emulator.endpoint}
    )


def sample_zip(tmp_path: Path) -> bytes:
    from airflow_provider_cx.package import read_package, write_zip
    from airflow_provider_cx.sample_agent import sample_agent_path

    return write_zip(read_package(sample_agent_path()))
