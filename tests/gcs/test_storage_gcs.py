"""storage.py with gs://: gcsfs against a real Cloud Storage API (the storage emulator), the hook's credentials."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from airflow_provider_cx import storage
from airflow_provider_cx.demo.services import StorageEmulator

from .conftest import BUCKET, gcs_client


@pytest.fixture(autouse=True)
def fresh_filesystems(monkeypatch: pytest.MonkeyPatch) -> None:
    # Filesystems are cached per connection and process; each test builds its own.
    monkeypatch.setattr(storage, "_filesystems", {})


def test_gs_objects_round_trip_through_the_storage_api_and_never_touch_local_disk(
    gcs_env: StorageEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"gs://{BUCKET}/releases/r1/report.md"
    assert storage.write_bytes(uri, b"# report\n") == uri
    assert storage.read_bytes(uri) == b"# report\n"
    # A second, independent client of the same API sees the object: it is in Cloud Storage, not a cache.
    assert gcs_client(gcs_env).bucket(BUCKET).blob("releases/r1/report.md").download_as_bytes() == b"# report\n"
    storage.write_bytes(storage.join(f"gs://{BUCKET}/releases", "r1", "report.md"), b"v2")
    assert storage.read_bytes(uri) == b"v2"
    assert list(tmp_path.iterdir()) == []


def test_a_missing_object_and_a_folder_uri_are_clear_errors(gcs_env: StorageEmulator) -> None:
    with pytest.raises(FileNotFoundError, match=rf"gs://{BUCKET}/nothing/here\.zip does not exist"):
        storage.read_bytes(f"gs://{BUCKET}/nothing/here.zip")
    with pytest.raises(storage.StorageLocationError, match="gs://<bucket>/<object>"):
        storage.write_bytes(f"gs://{BUCKET}/folder/", b"x")


def test_without_gcsfs_the_error_names_the_extra(gcs_env: StorageEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gcsfs", None)
    monkeypatch.setitem(sys.modules, "gcsfs.core", None)
    with pytest.raises(storage.StorageLocationError, match=r"pip install 'airflow-provider-cx\[gcs\]'"):
        storage.read_bytes(f"gs://{BUCKET}/a.zip")


def test_with_the_emulator_host_set_credentials_are_anonymous(gcs_env: StorageEmulator) -> None:
    # No connection is looked up (this one does not exist) and no token is sent: gcsfs's "anon" method.
    fs = storage.gcs_filesystem("a_connection_that_does_not_exist")
    assert (fs.credentials.method, fs.credentials.credentials) == ("anon", None)


def test_without_an_emulator_the_connection_credentials_and_project_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    keyfile = {
        "type": "service_account",
        "project_id": "key-project",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "cx-storage@key-project.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    extra = {"keyfile_dict": json.dumps(keyfile), "project": "conn-project"}
    monkeypatch.setenv(
        "AIRFLOW_CONN_GCS_STORAGE_TEST", json.dumps({"conn_type": "google_cloud_platform", "extra": extra})
    )
    fs = storage.gcs_filesystem("gcs_storage_test")
    assert fs.credentials.project == "conn-project"
    assert fs.credentials.credentials.service_account_email == keyfile["client_email"]
    assert storage.gcs_filesystem("gcs_storage_test") is fs  # one per connection and process


def test_an_explicit_connection_that_does_not_exist_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_cx.hooks.errors import CXConnectionNotFoundError

    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    with pytest.raises(CXConnectionNotFoundError, match="no_such_gcs_connection"):
        storage.gcs_filesystem("no_such_gcs_connection")


def test_gs_folders_are_listed_and_deleted_through_the_storage_api(gcs_env: StorageEmulator) -> None:
    base = f"gs://{BUCKET}/backups/prod/production"
    for run in ("20250101T020000", "20250102T020000"):
        storage.write_bytes(f"{base}/{run}/agent.zip", b"zip")
    storage.write_bytes(f"{base}/notes.txt", b"not a folder")

    assert storage.list_folders(base) == ["20250101T020000", "20250102T020000"]
    assert storage.list_folders(f"gs://{BUCKET}/backups/nothing") == []

    storage.delete_folder(f"{base}/20250101T020000")

    assert storage.list_folders(base + "/") == ["20250102T020000"]
    names = sorted(blob.name for blob in gcs_client(gcs_env).list_blobs(BUCKET, prefix="backups/prod/production/"))
    assert names == ["backups/prod/production/20250102T020000/agent.zip", "backups/prod/production/notes.txt"]
