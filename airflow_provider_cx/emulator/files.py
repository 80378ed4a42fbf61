"""Files the emulator writes in its data directory: atomic replacement and stale temp-file cleanup."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)
# mkstemp names of write_atomic: ".<target name>.<random>.tmp" beside the target.
TEMP_SUFFIX = ".tmp"


def write_atomic(path: Path, content: bytes) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temp_files(root: Path) -> list[Path]:
    """Delete what a killed writer left behind (``.<name>.<random>.tmp``) under ``root``; the paths removed.

    Call it only while holding the data directory's lock: then no writer of ours is running.
    Symlinks are not followed, so nothing outside ``root`` is touched.
    """
    removed = []
    for dirpath, _dirnames, filenames in os.walk(root, followlinks=False):
        for filename in filenames:
            if filename.startswith(".") and filename.endswith(TEMP_SUFFIX) and filename.count(".") >= 3:
                path = Path(dirpath) / filename
                if path.is_symlink() or not path.is_file():
                    continue
                path.unlink(missing_ok=True)
                removed.append(path)
    if removed:
        log.warning("cx emulator: removed %d stale temporary file(s) under %s", len(removed), root)
    return removed
