"""Bounded access to the files of a package source: zip bytes, a zip file, a binary stream or a folder.

Packages come from outside, so nothing an archive says about itself is trusted: every entry is
inflated in chunks and every limit of :class:`ReadLimits` is enforced on the bytes actually
produced, so an entry whose header claims 1,000 bytes stops at the limit instead of allocating a
gigabyte. Input that does not start like a zip is refused from its first bytes, without reading the
rest. Duplicate entries (tools disagree on which copy counts), encrypted entries and compression
methods no agent export uses are refused before anything is inflated.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Protocol

from airflow_provider_cx.package.model import PackageError, PackageLimitError, UnsafePackageError

PackageSource = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
"""What a package can be read from: zip bytes, a path to a zip file or a folder, or a seekable binary stream."""

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or the end record of an empty archive
_CHUNK = 1 << 16
# Entries below this size are never refused for their ratio: small JSON files legitimately compress
# far better than large ones, and a small entry cannot be a bomb whatever its ratio.
_RATIO_FLOOR = 1 << 20
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_ENCRYPTED_FLAGS = 0x1 | 0x40  # traditional PKWARE and strong encryption
_IGNORED_NAMES = {".DS_Store", "Thumbs.db"}
# What zipfile and zlib raise on damaged or unsupported data; each becomes a PackageError.
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError, ValueError)


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what reading a package may cost; the defaults fit any real agent export with room to spare.

    Every limit is checked against what is actually read or inflated, never against sizes an archive
    declares. Real exports inflate about 2-6x overall and 20x for their best-compressed file.

    Attributes:
        max_total_bytes: bytes all files of the package may inflate to together (512 MiB).
        max_entry_bytes: bytes one file may inflate to (64 MiB).
        max_files: files in the package (100,000).
        max_compression_ratio: inflated to compressed bytes of one entry, and of the whole archive,
            checked once past 1 MiB (100:1).
        max_json_depth: nesting of arrays and objects in one JSON file (64).
    """

    max_total_bytes: int = 512 << 20
    max_entry_bytes: int = 64 << 20
    max_files: int = 100_000
    max_compression_ratio: int = 100
    max_json_depth: int = 64

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ReadLimits.{field.name} must be a positive integer, not {value!r}")


class PackageEntries(Protocol):
    """The files of a package source, listed from its index and read one at a time within the limits."""

    label: str
    names: list[str]

    def read(self, name: str) -> bytes: ...


@contextmanager
def open_entries(source: PackageSource, limits: ReadLimits) -> Iterator[PackageEntries]:
    """The entries of ``source``; raises :class:`PackageError` (or a subclass) naming the problem."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source) if not isinstance(source, bytes) else source
        _check_magic(data[:4], "<bytes>")
        with _ZipEntries.open(io.BytesIO(data), len(data), "<bytes>", limits) as entries:
            yield entries
        return
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir():
            yield _FolderEntries(path, limits)
            return
        if not path.is_file():
            raise PackageError(f"agent package not found: {path}")
        with path.open("rb") as stream:
            _check_magic(stream.read(4), str(path))
            with _ZipEntries.open(stream, path.stat().st_size, str(path), limits) as entries:
                yield entries
        return
    yield from _stream_entries(source, limits)


def safe_relpath(name: str, label: str) -> str | None:
    """The normalised relative path of an entry, None for OS litter, an error for paths that escape."""
    name = name.replace("\\", "/")
    # String operations rather than PurePosixPath: this runs once per entry of archives of 100k files.
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
        raise UnsafePackageError(f"{label}: unsafe path {name!r} escapes the package")
    if not parts or "__MACOSX" in parts or parts[-1] in _IGNORED_NAMES or parts[-1].startswith("._"):
        return None
    return "/".join(parts)


def _stream_entries(stream: IO[bytes], limits: ReadLimits) -> Iterator[PackageEntries]:
    label = str(getattr(stream, "name", "<stream>"))
    if not stream.seekable():
        raise PackageError(f"{label}: a package stream must be seekable (a zip is read from its end)")
    start = stream.tell()
    _check_magic(stream.read(4), label)
    size = stream.seek(0, os.SEEK_END) - start
    stream.seek(start)
    with _ZipEntries.open(stream, size, label, limits) as entries:
        yield entries


def _check_magic(head: bytes, label: str) -> None:
    if head not in ZIP_MAGIC:
        raise PackageError(f"{label} is not a zip archive: it starts with {head!r}, not a zip header")


class _Budget:
    """Bytes produced so far against the limits of one read; raises as soon as one is passed."""

    def __init__(self, limits: ReadLimits, label: str, archive_size: int | None = None) -> None:
        self.limits, self.label, self.total = limits, label, 0
        # Many small entries each under the per-entry ratio check must not add up to a bomb either.
        ratio = limits.max_compression_ratio
        self.total_cap = None if archive_size is None else max(_RATIO_FLOOR, archive_size * ratio)

    def add(self, name: str, produced: int, chunk: int, ratio_cap: int | None = None) -> None:
        self.total += chunk
        limits = self.limits
        if produced > limits.max_entry_bytes:
            raise PackageLimitError(
                f"{self.label}: {name} inflates past the per-file limit of {limits.max_entry_bytes} bytes "
                "(ReadLimits.max_entry_bytes)"
            )
        if self.total > limits.max_total_bytes:
            raise PackageLimitError(
                f"{self.label} inflates past {limits.max_total_bytes} bytes (ReadLimits.max_total_bytes); "
                "refusing to read it"
            )
        if ratio_cap is not None and produced > ratio_cap:
            raise PackageLimitError(
                f"{self.label}: {name} is compressed more than {limits.max_compression_ratio}:1 "
                f"(ReadLimits.max_compression_ratio), which looks like a zip bomb"
            )
        if self.total_cap is not None and self.total > self.total_cap:
            raise PackageLimitError(
                f"{self.label} inflates more than {limits.max_compression_ratio}:1 in all "
                f"(ReadLimits.max_compression_ratio), which looks like a zip bomb"
            )


class _ZipEntries:
    """A zip archive's entries, checked from the central directory and inflated chunk by chunk."""

    def __init__(self, archive: zipfile.ZipFile, size: int, label: str, limits: ReadLimits) -> None:
        self.label, self._archive, self._size, self._limits = label, archive, size, limits
        self._budget = _Budget(limits, label, size)
        self._infos: dict[str, zipfile.ZipInfo] = {}
        infos = [info for info in archive.infolist() if not info.is_dir()]
        if len(infos) > limits.max_files:
            raise PackageLimitError(
                f"{label} has {len(infos)} files; the limit is {limits.max_files} (ReadLimits.max_files)"
            )
        for info in infos:
            name = safe_relpath(info.filename, label)
            if name is None:
                continue
            if name in self._infos:
                raise UnsafePackageError(
                    f"{label}: entry {name!r} appears more than once; tools disagree on which copy is the package"
                )
            _check_entry(info, name, label)
            self._infos[name] = info
        self.names = list(self._infos)

    @classmethod
    @contextmanager
    def open(cls, stream: IO[bytes], size: int, label: str, limits: ReadLimits) -> Iterator[_ZipEntries]:
        try:
            archive = zipfile.ZipFile(stream)
        except _READ_ERRORS as err:
            raise PackageError(f"{label} is not a zip archive: {err}") from err
        with archive:
            yield cls(archive, size, label, limits)

    def read(self, name: str) -> bytes:
        info = self._infos[name]
        # The compressed bytes an entry can consume are bounded by the archive, whatever its header says.
        compressed = max(1, min(info.compress_size, self._size - info.header_offset))
        ratio_cap = max(_RATIO_FLOOR, compressed * self._limits.max_compression_ratio)
        out = io.BytesIO()
        try:
            with self._archive.open(info) as stream:
                while chunk := stream.read(_CHUNK):
                    self._budget.add(name, out.tell() + len(chunk), len(chunk), ratio_cap)
                    out.write(chunk)
        except PackageError:
            raise
        except _READ_ERRORS as err:
            raise PackageError(f"{self.label}: cannot read {info.filename}: {err}") from err
        return out.getvalue()


def _check_entry(info: zipfile.ZipInfo, name: str, label: str) -> None:
    if info.flag_bits & _ENCRYPTED_FLAGS:
        raise UnsafePackageError(f"{label}: entry {name!r} is encrypted; agent packages are never encrypted")
    if info.compress_type not in _METHODS:
        raise UnsafePackageError(
            f"{label}: entry {name!r} uses compression method {info.compress_type}; "
            "only stored (0) and deflate (8), what agent exports use, are read"
        )


class _FolderEntries:
    """The files under a folder (symlinks and OS litter skipped), each read up to the limits."""

    def __init__(self, root: Path, limits: ReadLimits) -> None:
        self.label, self._budget, self._limits = str(root), _Budget(limits, str(root)), limits
        self._paths: dict[str, Path] = {}
        for path in sorted(root.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            name = safe_relpath(path.relative_to(root).as_posix(), self.label)
            if name is None:
                continue
            if name in self._paths:
                raise UnsafePackageError(f"{self.label}: {name!r} appears more than once (a backslash in a file name)")
            self._paths[name] = path
            if len(self._paths) > limits.max_files:
                raise PackageLimitError(f"{self.label} has more than {limits.max_files} files (ReadLimits.max_files)")
        self.names = list(self._paths)

    def read(self, name: str) -> bytes:
        with self._paths[name].open("rb") as stream:
            content = stream.read(self._limits.max_entry_bytes + 1)
        self._budget.add(name, len(content), len(content))
        return content


__all__ = ["ZIP_MAGIC", "PackageEntries", "PackageSource", "ReadLimits", "open_entries", "safe_relpath"]
