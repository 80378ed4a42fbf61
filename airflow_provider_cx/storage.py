"""Where operators read packages from and write exports and reports to.

A location is an ``ObjectStoragePath``, a URI (``file://``, ``gs://``, any scheme Airflow's object
storage knows) or a local path. Local paths and ``file://`` use pathlib directly, so the common case
needs no fsspec backend. ``gs://`` is special: operators hand it to the CX API itself (``agent_uri``)
instead of moving bytes through the worker, so :func:`is_gcs` lets them choose; reading or writing
``gs://`` here needs an fsspec backend for it (not a dependency of this provider).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

Location = Union[str, os.PathLike, "ObjectStoragePath"]


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


def read_bytes(source: Location) -> bytes:
    """The content of ``source``; a missing file raises FileNotFoundError naming it."""
    if is_local(source):
        path = local_path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{uri_of(source)} does not exist or is not a file")
        return path.read_bytes()
    return _object_path(source).read_bytes()


def write_bytes(destination: Location, data: bytes) -> str:
    """Write ``data`` to ``destination`` (parent folders created; local writes are atomic); return its URI."""
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


def join(base: Location, *parts: str) -> Location:
    """``base / part / ...`` keeping the kind of location (path, URI string or ObjectStoragePath)."""
    if _is_object_storage_path(base) or isinstance(base, os.PathLike):
        return base.joinpath(*parts)  # type: ignore[union-attr]
    text = _text(base)
    if is_local(text) and not text.lower().startswith("file:"):
        return str(Path(text).joinpath(*parts))
    return "/".join([text.rstrip("/"), *(part.strip("/") for part in parts)])


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
