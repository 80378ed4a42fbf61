"""Storage locations: local paths, file:// URIs, ObjectStoragePath, gs:// detection."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_cx import storage


def test_local_path_file_uri_and_object_storage_path_are_the_same_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.zip"
    uri = storage.write_bytes(str(target), b"one")
    assert uri == target.as_uri()
    assert storage.read_bytes(target.as_uri()) == b"one"
    assert storage.read_bytes(ObjectStoragePath(target.as_uri())) == b"one"
    storage.write_bytes(ObjectStoragePath(target.as_uri()), b"two")
    assert target.read_bytes() == b"two"
    assert storage.uri_of(ObjectStoragePath(target.as_uri())) == target.as_uri()


def test_gcs_is_recognised_and_validated() -> None:
    assert storage.is_gcs("gs://bucket/agent.zip")
    assert not storage.is_gcs("/tmp/agent.zip")
    assert not storage.is_gcs("file:///tmp/agent.zip")
    assert storage.uri_of("gs://bucket/dir/agent.zip") == "gs://bucket/dir/agent.zip"
    with pytest.raises(storage.StorageLocationError, match="gs://<bucket>/<object>"):
        storage.uri_of("gs://bucket/")


def test_join_keeps_the_kind_of_location(tmp_path: Path) -> None:
    assert storage.join("gs://b/release", "report.md") == "gs://b/release/report.md"
    assert storage.join(str(tmp_path), "r.md") == str(tmp_path / "r.md")
    assert storage.join(tmp_path.as_uri(), "r.md") == tmp_path.as_uri() + "/r.md"
    assert isinstance(storage.join(ObjectStoragePath(tmp_path.as_uri()), "r.md"), ObjectStoragePath)


def test_missing_source_and_empty_location_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.zip"):
        storage.read_bytes(tmp_path / "missing.zip")
    with pytest.raises(storage.StorageLocationError, match="location is required"):
        storage.uri_of("  ")
    with pytest.raises(storage.StorageLocationError, match="local file"):
        storage.local_path("file://remote-host/x.zip")


def test_folders_are_listed_by_name_and_deleted_with_their_content(tmp_path: Path) -> None:
    base = tmp_path / "backups"
    for name in ("20250102", "20250101"):
        (base / name / "sub").mkdir(parents=True)
        (base / name / "agent.zip").write_bytes(b"zip")
    (base / "stray.txt").write_text("not a folder")

    assert storage.list_folders(base.as_uri()) == ["20250101", "20250102"]
    assert storage.list_folders(str(base)) == ["20250101", "20250102"]
    assert storage.list_folders(tmp_path / "missing") == []

    storage.delete_folder(storage.join(base.as_uri(), "20250101"))

    assert storage.list_folders(base) == ["20250102"]
    assert (base / "stray.txt").exists()


def test_a_bucket_is_not_a_folder_to_list_or_delete() -> None:
    with pytest.raises(storage.StorageLocationError, match="gs://<bucket>/<folder>"):
        storage.delete_folder("gs://bucket-only/")
    with pytest.raises(storage.StorageLocationError, match="gs://<bucket>/<folder>"):
        storage.list_folders("gs://bucket-only")
