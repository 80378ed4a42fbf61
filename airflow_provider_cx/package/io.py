"""Reading and writing agent packages: zips (bytes or files) and folders.

Reading is defensive because packages come from outside: paths that escape the package (zip-slip),
archives that inflate past a limit (zip bombs), files that are not JSON, and packages without an
``agent.json`` are each a :class:`PackageError` that names the problem. Writing is deterministic
(sorted paths, fixed timestamps), so the same agent always exports to the same bytes and sha256.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from airflow_provider_cx.package.model import (
    AGENT_FILE,
    FILE_COLLECTIONS,
    FOLDER_COLLECTIONS,
    JSON,
    AgentPackage,
    Flow,
    PackageError,
    Resource,
    flow_route_group_path,
    page_path,
    resource_path,
)

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_IGNORED_NAMES = {".DS_Store", "Thumbs.db"}


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what a package may inflate to; defaults fit any real agent with room to spare."""

    max_total_bytes: int = 1 << 30
    max_files: int = 100_000
    max_compression_ratio: int = 200


def read_package(source: str | os.PathLike[str] | bytes, limits: ReadLimits | None = None) -> AgentPackage:
    """Read a package from zip bytes, a zip file or a folder (possibly nested under one top folder)."""
    limits = limits or ReadLimits()
    if isinstance(source, bytes | bytearray):
        raw = _zip_files(bytes(source), limits, "<bytes>")
    else:
        path = Path(source)
        if path.is_dir():
            raw = _folder_files(path, limits)
        elif path.is_file():
            raw = _zip_files(path.read_bytes(), limits, str(path))
        else:
            raise PackageError(f"agent package not found: {path}")
    return parse_files(raw)


def scan_package(
    data: bytes, limits: ReadLimits | None = None, *, keep: Collection[str] = ("webhooks", "tools")
) -> AgentPackage:
    """Check zip bytes as :func:`read_package` does, holding one file at a time; model only ``keep``.

    Every check of a full read runs (paths, zip-bomb limits, agent.json, each JSON file parses), but
    only ``agent.json`` and the files of the ``keep`` collections are kept and modelled, so checking a
    large package before handing its bytes on costs about one file of memory, not the whole model.
    """
    limits = limits or ReadLimits()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            listed = [info.filename for info in archive.infolist() if not info.is_dir()]
    except zipfile.BadZipFile as err:
        raise PackageError(f"<bytes> is not a zip archive: {err}") from err
    safe = [name for name in (_safe_relpath(name, "<bytes>") for name in listed) if name is not None]
    root = _package_root(dict.fromkeys(safe, b""))
    kept: dict[str, bytes] = {}
    for path, content in _zip_members(data, limits, "<bytes>"):
        if not path.startswith(root):
            continue
        rel = path[len(root) :]
        if rel.endswith(".json"):
            _parse_json(rel, content)
        if rel == AGENT_FILE or rel.split("/", 1)[0] in keep:
            kept[path] = content
    return parse_files(kept)


def parse_files(raw: dict[str, bytes]) -> AgentPackage:
    """Build the model from ``{relative posix path: bytes}``, locating the package root by agent.json."""
    root = _package_root(raw)
    files: dict[str, JSON] = {}
    for path, content in raw.items():
        if not path.startswith(root):
            continue
        rel = path[len(root) :]
        files[rel] = _parse_json(rel, content) if rel.endswith(".json") else content
    return _build(files)


def package_files(package: AgentPackage) -> dict[str, bytes]:
    """Every file of the package as bytes, by path: the inverse of :func:`parse_files`."""
    files: dict[str, JSON] = dict(package.other_files)
    files[AGENT_FILE] = package.agent
    for path, res in package.iter_resources():
        files[path] = res.data
        folder = path.rsplit("/", 1)[0]
        if res.collection in FOLDER_COLLECTIONS and not _is_flow_child(path):
            for rel, value in res.parts.items():
                files[f"{folder}/{rel}"] = value
    return {path: _dump(value) for path, value in sorted(files.items())}


def write_zip(package: AgentPackage) -> bytes:
    """The package as a zip archive, byte-for-byte reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, content in package_files(package).items():
            info = zipfile.ZipInfo(path, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def write_folder(package: AgentPackage, destination: str | os.PathLike[str]) -> Path:
    """Write the package as a folder tree (the layout of an unzipped export)."""
    dest = Path(destination)
    for path, content in package_files(package).items():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return dest


# --- reading helpers ------------------------------------------------------------------------------
def _zip_files(data: bytes, limits: ReadLimits, label: str) -> dict[str, bytes]:
    return dict(_zip_members(data, limits, label))


def _zip_members(data: bytes, limits: ReadLimits, label: str) -> Iterator[tuple[str, bytes]]:
    """``(safe relative path, content)`` of each file, one at a time, after the archive-wide checks."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise PackageError(f"{label} is not a zip archive: {err}") from err
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        if len(infos) > limits.max_files:
            raise PackageError(f"{label} has {len(infos)} files; the limit is {limits.max_files}")
        total = 0
        for info in infos:
            name = _safe_relpath(info.filename, label)
            if name is None:
                continue
            total += info.file_size
            if total > limits.max_total_bytes:
                raise PackageError(f"{label} inflates past {limits.max_total_bytes} bytes; refusing to read it")
            if info.compress_size and info.file_size / info.compress_size > limits.max_compression_ratio:
                raise PackageError(
                    f"{label}: {info.filename} is compressed {info.file_size // info.compress_size}:1, "
                    "which looks like a zip bomb"
                )
            try:
                content = archive.read(info)
            except (zipfile.BadZipFile, OSError, EOFError) as err:
                raise PackageError(f"{label}: cannot read {info.filename}: {err}") from err
            yield name, content


def _folder_files(root: Path, limits: ReadLimits) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        rel = _safe_relpath(path.relative_to(root).as_posix(), str(root))
        if rel is None:
            continue
        total += path.stat().st_size
        if total > limits.max_total_bytes or len(files) >= limits.max_files:
            raise PackageError(f"{root} is larger than the package limits allow")
        files[rel] = path.read_bytes()
    return files


def _safe_relpath(name: str, label: str) -> str | None:
    """The normalised relative path of an archive member, None for OS litter, an error for escapes."""
    name = name.replace("\\", "/")
    pure = PurePosixPath(name)
    if name.startswith("/") or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise PackageError(f"{label}: unsafe path {name!r} escapes the package")
    if "__MACOSX" in pure.parts or pure.name in _IGNORED_NAMES or pure.name.startswith("._"):
        return None
    return pure.as_posix()


def _package_root(raw: dict[str, bytes]) -> str:
    candidates = sorted((p for p in raw if PurePosixPath(p).name == AGENT_FILE), key=lambda p: p.count("/"))
    if not candidates:
        raise PackageError("not a Dialogflow CX agent package: no agent.json found")
    return candidates[0][: -len(AGENT_FILE)]


def _parse_json(path: str, content: bytes) -> JSON:
    try:
        return json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PackageError(f"{path} is not valid JSON: {err}") from err


def _build(files: dict[str, JSON]) -> AgentPackage:
    agent = files.pop(AGENT_FILE)
    if not isinstance(agent, dict):
        raise PackageError("agent.json must hold a JSON object")
    package = AgentPackage(agent=agent)
    for collection in FOLDER_COLLECTIONS:
        for stem, main, parts in _take_folder_resources(files, collection):
            if collection == "flows":
                package.resources(collection).append(_build_flow(stem, main, parts))
            else:
                package.resources(collection).append(Resource(collection, stem, main, parts))
    for collection in FILE_COLLECTIONS:
        for path in sorted(p for p in files if _is_single_file(p, collection)):
            data = files.pop(path)
            if isinstance(data, dict):
                stem = path[len(collection) + 1 : -len(".json")]
                package.resources(collection).append(Resource(collection, stem, data))
            else:
                files[path] = data
    package.other_files = files
    return package


def _take_folder_resources(files: dict[str, JSON], collection: str):
    """Pop ``<collection>/<stem>/<stem>.json`` and the files beside it out of ``files``."""
    stems = sorted(
        {
            p.split("/")[1]
            for p in files
            if p.startswith(collection + "/")
            and p.count("/") == 2
            and p.split("/")[2] == p.split("/")[1] + ".json"
            and isinstance(files[p], dict)
        }
    )
    for stem in stems:
        folder = f"{collection}/{stem}/"
        main = files.pop(f"{folder}{stem}.json")
        parts = {p[len(folder) :]: files.pop(p) for p in sorted(files) if p.startswith(folder)}
        yield stem, main, parts


def _build_flow(stem: str, main: dict[str, JSON], parts: dict[str, JSON]) -> Flow:
    flow = Flow("flows", stem, main)
    for rel, value in parts.items():
        sub, _, name = rel.partition("/")
        is_child = sub in ("pages", "transitionRouteGroups") and "/" not in name and name.endswith(".json")
        if is_child and isinstance(value, dict):
            child = Resource(sub, name[: -len(".json")], value)
            (flow.pages if sub == "pages" else flow.route_groups).append(child)
            continue
        flow.parts[rel] = value
    return flow


def _is_single_file(path: str, collection: str) -> bool:
    return path.startswith(collection + "/") and path.count("/") == 1 and path.endswith(".json")


def _is_flow_child(path: str) -> bool:
    parts = path.split("/")
    return parts[0] == "flows" and len(parts) == 4 and parts[2] in ("pages", "transitionRouteGroups")


def _dump(value: JSON) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


__all__ = [
    "ReadLimits",
    "flow_route_group_path",
    "package_files",
    "page_path",
    "parse_files",
    "read_package",
    "resource_path",
    "scan_package",
    "write_folder",
    "write_zip",
]
