"""Where operators read packages from and write exports and reports to.

A location is an ``ObjectStoragePath``, a URI (``file://``, ``gs://``, any scheme Airflow's object
storage knows) or a local path. Local paths and ``file://`` use pathlib directly, so the common case
needs no fsspec backend. ``gs://`` is special twice over: operators hand it to the CX API itself
(``agent_uri``) instead of moving bytes through the worker, so :func:`is_gcs` lets them choose; and
when bytes do move (lint, diff, reports, summaries) they go through gcsfs from the optional ``gcs``
extra, built with the same Airflow connection and credentials as the CX hook, so it works with or
without apache-airflow-providers-google. With ``STORAGE_EMULATOR_HOST`` set (the convention of
google-cloud-storage and gcsfs) the objects live in that Cloud Storage emulator, reached anonymously.
An ``ObjectStoragePath`` keeps the filesystem (and connection) it was made with.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath
    from fsspec import AbstractFileSystem

Location = Union[str, "os.PathLike[str]", "ObjectStoragePath"]

#: The environment variable google-cloud-storage and gcsfs read for a Cloud Storage emulator endpoint.
STORAGE_EMULATOR_HOST_ENV = "STORAGE_EMULATOR_HOST"
GCS_EXTRA_HINT = "pip install 'airflow-provider-cx[gcs]'"
#: The connection the CX hook uses when none is given.
DEFAULT_CONN_ID = "google_cloud_default"


class StorageLocationError(ValueError):
    """A source or destination that is not a usable path or URI."""


def _text(location: Location) -> str:
    if location is None or (isinstance(location, str) and not location.strip()):
        raise StorageLocationError(
            "a storage location is required: give a local path, file://, gs:// URI or ObjectStoragePath"
        )
    if isinstance(location, str):
        return location.strip()
    return str(location)


def scheme_of(location: Location) -> str:
    """``"file"`` for local paths and ``file://``; otherwise the URI scheme (``gs``, ``s3``, ...)."""
    if _is_object_storage_path(location):
        return location.protocol or "file"  # type: ignore[union-attr]
    if isinstance(location, os.PathLike):
        return "file"
    text = _text(location)
    parsed = urlparse(text)
    # "C:\..." parses with a one-letter scheme; treat it as a path.
    return parsed.scheme.lower() if len(parsed.scheme) > 1 else "file"


def is_gcs(location: Location) -> bool:
    """Whether ``location`` is in Cloud Storage (``gs://``), which the CX API can read and write itself."""
    return scheme_of(location) == "gs"


def is_local(location: Location) -> bool:
    return scheme_of(location) == "file"


def uri_of(location: Location) -> str:
    """A canonical URI string: ``file:///abs/path`` for local files, the URI itself otherwise."""
    if is_local(location):
        return local_path(location).as_uri()
    if _is_object_storage_path(location):
        return str(location)
    text = _text(location)
    if is_gcs(text):
        check_gcs_uri(text)
    return text


def local_path(location: Location) -> Path:
    """The absolute local path of a local path, ``file://`` URI or file ObjectStoragePath."""
    if _is_object_storage_path(location):
        return Path(location.path).absolute()  # type: ignore[union-attr]
    if isinstance(location, os.PathLike):
        return Path(location).absolute()
    text = _text(location)
    if text.lower().startswith("file:"):
        parsed = urlparse(text)
        if parsed.netloc not in ("", "localhost"):
            raise StorageLocationError(f"{text!r}: file:// URIs must name a local file (file:///path)")
        return Path(unquote(parsed.path)).absolute()
    return Path(text).expanduser().absolute()


def check_gcs_uri(uri: str) -> str:
    """Return ``uri`` if it names an object (``gs://bucket/object``), else raise."""
    parsed = urlparse(uri)
    if parsed.scheme != "gs" or not parsed.netloc or not parsed.path.strip("/") or uri.endswith("/"):
        raise StorageLocationError(f"{uri!r} is not a Cloud Storage object URI; expected gs://<bucket>/<object>")
    return uri


def read_bytes(source: Location, gcp_conn_id: str | None = None) -> bytes:
    """The content of ``source``; a missing file raises FileNotFoundError naming it.

    ``gcp_conn_id`` is the connection whose credentials read ``gs://`` strings (default: the CX
    hook's default connection, else Application Default Credentials).
    """
    if is_local(source):
        path = local_path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{uri_of(source)} does not exist or is not a file")
        return path.read_bytes()
    if isinstance(source, str) and is_gcs(source):
        uri = check_gcs_uri(_text(source))
        try:
            return bytes(gcs_filesystem(gcp_conn_id).cat_file(uri))
        except FileNotFoundError:
            raise FileNotFoundError(f"{uri} does not exist or is not an object") from None
    return _object_path(source).read_bytes()


def write_bytes(destination: Location, data: bytes, gcp_conn_id: str | None = None) -> str:
    """Write ``data`` to ``destination`` (parent folders created; local writes are atomic); return its URI.

    ``gcp_conn_id`` as for :func:`read_bytes`. A Cloud Storage object is replaced whole by one upload,
    so readers never see half of it either.
    """
    if isinstance(destination, str) and is_gcs(destination):
        uri = check_gcs_uri(_text(destination))
        gcs_filesystem(gcp_conn_id).pipe_file(uri, data)
        return uri
    if is_local(destination):
        path = local_path(destination)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
        partial.write_bytes(data)
        os.replace(partial, path)
        return path.as_uri()
    target = _object_path(destination)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return str(target)


def list_folders(base: Location, gcp_conn_id: str | None = None) -> list[str]:
    """Names of the folders directly inside ``base``, sorted; ``[]`` when ``base`` does not exist.

    ``gcp_conn_id`` as for :func:`read_bytes`: ``gs://`` folders are listed with that connection's
    credentials (Cloud Storage has no folders: a name is a prefix some object lies under).
    """
    if isinstance(base, str) and is_gcs(base):
        prefix = _gcs_folder(_text(base))
        fs = gcs_filesystem(gcp_conn_id)
        if not fs.exists(prefix):
            return []
        entries = fs.ls(prefix, detail=True, refresh=True)
        return sorted(entry["name"].rstrip("/").rsplit("/", 1)[-1] for entry in entries if entry["type"] == "directory")
    if is_local(base):
        path = local_path(base)
        return sorted(child.name for child in path.iterdir() if child.is_dir()) if path.is_dir() else []
    folder = _object_path(base)
    return sorted(child.name for child in folder.iterdir() if child.is_dir()) if folder.exists() else []


def delete_folder(location: Location, gcp_conn_id: str | None = None) -> None:
    """Delete the folder ``location`` and everything in it (``gcp_conn_id`` as for :func:`read_bytes`)."""
    if isinstance(location, str) and is_gcs(location):
        folder = _gcs_folder(_text(location))  # checked before any credentials are looked up
        gcs_filesystem(gcp_conn_id).rm(folder, recursive=True)
    elif is_local(location):
        shutil.rmtree(local_path(location))
    else:
        _object_path(location).rmdir(recursive=True)


def _gcs_folder(uri: str) -> str:
    """``gs://bucket/prefix`` without a trailing slash; a bare bucket is refused (too much to act on)."""
    parsed = urlparse(uri)
    if parsed.scheme != "gs" or not parsed.netloc or not parsed.path.strip("/"):
        raise StorageLocationError(f"{uri!r} is not a Cloud Storage folder; expected gs://<bucket>/<folder>")
    return uri.rstrip("/")


def join(base: Location, *parts: str) -> Location:
    """``base / part / ...`` keeping the kind of location (path, URI string or ObjectStoragePath)."""
    if _is_object_storage_path(base) or isinstance(base, os.PathLike):
        return base.joinpath(*parts)  # type: ignore[union-attr]
    text = _text(base)
    if is_local(text) and not text.lower().startswith("file:"):
        return str(Path(text).joinpath(*parts))
    return "/".join([text.rstrip("/"), *(part.strip("/") for part in parts)])


def gcs_filesystem(gcp_conn_id: str | None = None) -> AbstractFileSystem:
    """A gcsfs filesystem with the credentials and project of Airflow connection ``gcp_conn_id``.

    The credentials are the CX hook's (same connection extras, impersonation and key handling);
    ``None`` means the hook's default connection, or Application Default Credentials when that
    connection does not exist. With ``STORAGE_EMULATOR_HOST`` set, gcsfs talks to that endpoint and
    the credentials are anonymous, as the emulator expects. One filesystem per connection and process:
    gcsfs runs an event loop and HTTP session that must not cross a fork (Celery and the task runner
    fork task processes).
    """
    emulator = os.environ.get(STORAGE_EMULATOR_HOST_ENV, "").strip()
    key = (gcp_conn_id, emulator, os.getpid())
    with _filesystems_lock:
        if key not in _filesystems:
            _filesystems[key] = _new_gcs_filesystem(gcp_conn_id, emulator)
        return _filesystems[key]


_filesystems: dict[tuple[str | None, str, int], AbstractFileSystem] = {}
_filesystems_lock = threading.Lock()


def _new_gcs_filesystem(gcp_conn_id: str | None, emulator: str) -> AbstractFileSystem:
    try:
        # The JSON API filesystem itself: gcsfs.GCSFileSystem may be its experimental subclass, which
        # probes a gRPC control plane that storage emulators do not serve (zonal buckets, unused here).
        from gcsfs.core import GCSFileSystem
    except ImportError as error:
        raise StorageLocationError(f"gs:// locations need gcsfs, in the gcs extra: {GCS_EXTRA_HINT}") from error
    if emulator and emulator != "default":
        # No connection lookup: the emulator takes any project and no credentials.
        return GCSFileSystem(token="anon", project="cx-local")
    credentials, project = _credentials_of(gcp_conn_id)
    return GCSFileSystem(token=credentials, project=project) if credentials else GCSFileSystem(project=project)


def _credentials_of(gcp_conn_id: str | None) -> tuple[Any, str | None]:
    """The CX hook's credentials and project for the connection; ``(None, None)`` means ADC (default only)."""
    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
    from airflow_provider_cx.hooks.errors import CXConnectionNotFoundError

    hook = DialogflowCXHook(gcp_conn_id=gcp_conn_id or DEFAULT_CONN_ID)
    try:
        return hook.get_credentials(), hook.project_id
    except CXConnectionNotFoundError:
        if gcp_conn_id is not None:
            raise
        return None, None


def _object_path(location: Location) -> ObjectStoragePath:
    if _is_object_storage_path(location):
        return location  # type: ignore[return-value]
    from airflow.sdk import ObjectStoragePath

    uri = _text(location)
    try:
        return ObjectStoragePath(uri)
    except Exception as error:  # fsspec raises ValueError/ImportError for unknown or uninstalled schemes
        raise StorageLocationError(
            f"cannot open {uri!r}: {error}; install the fsspec backend for {scheme_of(uri)}:// or use a local path"
        ) from error


def _is_object_storage_path(value: Any) -> bool:
    # Without importing airflow.sdk.io eagerly: ObjectStoragePath is a UPath subclass with .protocol.
    return type(value).__name__ == "ObjectStoragePath" and hasattr(value, "protocol")
