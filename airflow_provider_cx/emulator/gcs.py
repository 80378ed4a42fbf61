"""Offline Cloud Storage: ``gs://bucket/path`` is the file ``<root>/bucket/path``.

The root is ``<data-dir>/gcs`` (or a temporary directory when the emulator has no data dir), so an
export to ``gs://b/agent.zip`` can be read back by a restore from the same URI, and by tests that
look at ``<data-dir>/gcs/b/agent.zip`` directly.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath

from airflow_provider_cx.emulator.errors import InvalidArgument, NotFound


class LocalGcs:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_of(self, uri: str) -> Path:
        if not uri.startswith("gs://"):
            raise InvalidArgument(f"{uri!r} is not a Cloud Storage URI; expected gs://<bucket>/<object>")
        bucket, _, obj = uri[len("gs://") :].partition("/")
        parts = PurePosixPath(obj).parts
        if not bucket or not obj or obj.endswith("/") or ".." in parts or bucket in (".", ".."):
            raise InvalidArgument(f"{uri!r} is not a valid object URI; expected gs://<bucket>/<object>")
        return self.root / bucket / Path(*parts)

    def read(self, uri: str) -> bytes:
        path = self.path_of(uri)
        if not path.is_file():
            raise NotFound(f"{uri} does not exist (looked for {path})")
        return path.read_bytes()

    def write(self, uri: str, content: bytes) -> None:
        write_atomic(self.path_of(uri), content)


def write_atomic(path: Path, content: bytes) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
