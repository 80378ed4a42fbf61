"""Cloud Storage for the emulator's ``gs://`` URIs: a Cloud Storage API endpoint, or a local folder.

With ``STORAGE_EMULATOR_HOST`` set (the convention of google-cloud-storage and gcsfs), ``gs://`` reads
and writes go through that Cloud Storage JSON API endpoint (:class:`ApiGcs`, google-cloud-storage from
the ``gcs`` extra): workers and the emulator then share objects only through the API, as they share
them through real Cloud Storage in production. Otherwise ``gs://bucket/path`` is the file
``<root>/bucket/path`` (:class:`LocalGcs`); the root is ``<data-dir>/gcs`` (or a temporary directory
when the emulator has no data dir), so an export to ``gs://b/agent.zip`` can be read back by a restore
from the same URI, and by tests that look at ``<data-dir>/gcs/b/agent.zip`` directly.

Either way every URI is checked first (:func:`split_object_uri`): object names with empty, ``.`` or
``..`` segments, a leading slash, NUL or control characters are refused as INVALID_ARGUMENT before
anything is read or written, so no URI can reach a file outside ``<root>/<bucket>/`` or reveal
whether one exists.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from airflow_provider_cx.emulator.errors import InvalidArgument, NotFound, ServiceError
from airflow_provider_cx.emulator.files import write_atomic

if TYPE_CHECKING:
    from google.cloud.storage import Bucket, Client
    from google.protobuf.message import Message

#: The environment variable google-cloud-storage and gcsfs read for an emulator endpoint.
STORAGE_EMULATOR_HOST_ENV = "STORAGE_EMULATOR_HOST"
GCS_EXTRA_HINT = "pip install 'airflow-provider-cx[gcs]'"


def deliver(gcs: GcsStore, content: bytes, uri: str, response: Message, uri_field: str, content_field: str) -> Message:
    """An export's bytes where its request asked: written to the ``gs://`` object ``uri`` (the response
    names it in ``uri_field``), or inline in ``content_field`` when no URI was given."""
    if uri:
        gcs.write(uri, content)
        setattr(response, uri_field, uri)
    else:
        setattr(response, content_field, content)
    return response


class GcsStore(Protocol):
    """What the services need from Cloud Storage: check a URI early, read and write whole objects."""

    def check(self, uri: str) -> tuple[str, str]: ...

    def exists(self, uri: str) -> bool: ...

    def read(self, uri: str) -> bytes: ...

    def write(self, uri: str, content: bytes) -> None: ...


def split_object_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/object`` -> ``(bucket, object)``; INVALID_ARGUMENT naming the URI for anything else.

    Refused: other schemes, an empty bucket or object, a folder (trailing slash), empty segments
    (``//``, which would make ``gs://b//etc/x`` an absolute path), ``.`` and ``..`` segments, NUL
    and other control characters (Cloud Storage refuses CR and LF in names too).
    """
    if not isinstance(uri, str) or not uri.startswith("gs://"):
        raise InvalidArgument(f"{uri!r} is not a Cloud Storage URI; expected gs://<bucket>/<object>")
    bucket, _, obj = uri[len("gs://") :].partition("/")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in uri):
        raise InvalidArgument(f"{uri!r} is not a valid object URI: control characters are not allowed")
    if not bucket or not obj or obj.endswith("/") or bucket in (".", ".."):
        raise InvalidArgument(f"{uri!r} is not a valid object URI; expected gs://<bucket>/<object>")
    segments = obj.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise InvalidArgument(f"{uri!r} is not a valid object URI: empty, '.' and '..' path segments are not allowed")
    return bucket, obj


class LocalGcs:
    """``gs://bucket/object`` as the file ``<root>/bucket/object``, confined to ``<root>/bucket/``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def check(self, uri: str) -> tuple[str, str]:
        self.path_of(uri)
        return split_object_uri(uri)

    def path_of(self, uri: str) -> Path:
        bucket, obj = split_object_uri(uri)
        bucket_dir = self.root / bucket
        path = bucket_dir.joinpath(*obj.split("/"))
        # The checks above keep the name inside the bucket folder; a symlink planted in the data dir
        # must not lead out of it either.
        if not path.resolve().is_relative_to(bucket_dir.resolve()):
            raise InvalidArgument(f"{uri!r} is not a valid object URI: it leads outside its bucket")
        return path

    def exists(self, uri: str) -> bool:
        return self.path_of(uri).is_file()

    def read(self, uri: str) -> bytes:
        path = self.path_of(uri)
        if not path.is_file():
            raise NotFound(f"{uri} does not exist")
        return path.read_bytes()

    def write(self, uri: str, content: bytes) -> None:
        write_atomic(self.path_of(uri), content)


class ApiGcs:
    """``gs://`` objects through a Cloud Storage API endpoint (a storage emulator), anonymously."""

    def __init__(self, endpoint: str) -> None:
        if importlib.util.find_spec("google.cloud.storage") is None:
            raise RuntimeError(
                f"{STORAGE_EMULATOR_HOST_ENV} is set, so the CX emulator keeps gs:// objects in that Cloud Storage "
                f"endpoint, which needs google-cloud-storage: {GCS_EXTRA_HINT}"
            )
        self.endpoint = endpoint if "://" in endpoint else f"http://{endpoint}"
        self._client: Client | None = None
        self._lock = threading.Lock()

    def check(self, uri: str) -> tuple[str, str]:
        return split_object_uri(uri)

    def exists(self, uri: str) -> bool:
        from google.api_core import exceptions

        bucket, obj = split_object_uri(uri)
        try:
            return bool(self._bucket(bucket).blob(obj).exists())
        except exceptions.GoogleAPICallError as error:
            raise self._unavailable(uri, error) from error

    def read(self, uri: str) -> bytes:
        from google.api_core import exceptions

        bucket, obj = split_object_uri(uri)
        try:
            return bytes(self._bucket(bucket).blob(obj).download_as_bytes())
        except exceptions.NotFound:
            raise NotFound(f"{uri} does not exist") from None
        except exceptions.GoogleAPICallError as error:
            raise self._unavailable(uri, error) from error

    def write(self, uri: str, content: bytes) -> None:
        from google.api_core import exceptions

        bucket, obj = split_object_uri(uri)
        try:
            self._bucket(bucket).blob(obj).upload_from_string(content, content_type="application/octet-stream")
        except exceptions.NotFound:
            raise NotFound(f"cannot write {uri}: bucket {bucket!r} does not exist") from None
        except exceptions.GoogleAPICallError as error:
            raise self._unavailable(uri, error) from error

    def _bucket(self, name: str) -> Bucket:
        return self._storage_client().bucket(name)

    def _storage_client(self) -> Client:
        with self._lock:
            if self._client is None:
                from google.auth.credentials import AnonymousCredentials
                from google.cloud.storage import Client

                self._client = Client(
                    project="cx-emulator",
                    credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                    client_options={"api_endpoint": self.endpoint},
                )
            return self._client

    def _unavailable(self, uri: str, error: Exception) -> ServiceError:
        import grpc

        return ServiceError(f"Cloud Storage at {self.endpoint} failed for {uri}: {error}", grpc.StatusCode.UNAVAILABLE)


def open_gcs(root: str | os.PathLike[str]) -> LocalGcs | ApiGcs:
    """The store for ``gs://`` URIs: the ``STORAGE_EMULATOR_HOST`` endpoint if set, else files under ``root``."""
    endpoint = os.environ.get(STORAGE_EMULATOR_HOST_ENV, "").strip()
    if endpoint and endpoint != "default":
        return ApiGcs(endpoint)
    return LocalGcs(root)
