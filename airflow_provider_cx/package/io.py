"""Reading and writing agent packages: zips (bytes, files or streams) and folders.

Reading is defensive because packages come from outside. The bounded access to the archive lives in
:mod:`~airflow_provider_cx.package.archive` (limits on what is actually inflated, paths that escape,
duplicate, encrypted or oddly compressed entries) and JSON nesting is bounded by
:mod:`~airflow_provider_cx.package.json_input`; this module turns the files into the model in one
pass, so reading is linear in files and bytes. Every refusal is a :class:`PackageError` naming the
problem. Writing is deterministic (sorted paths, fixed timestamps), so the same agent always exports
to the same bytes and sha256.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Collection, Iterator
from pathlib import Path, PurePosixPath

from airflow_provider_cx.package.archive import PackageEntries, PackageSource, ReadLimits, open_entries
from airflow_provider_cx.package.json_input import parse_json
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


def read_package(source: PackageSource, limits: ReadLimits | None = None) -> AgentPackage:
    """Read a package from zip bytes, a zip file, a seekable binary stream or a folder.

    The package may be nested under one top folder. ``limits`` bound what reading may cost (see
    :class:`ReadLimits`); anything unreadable or past a limit is a :class:`PackageError`.
    """
    limits = limits or ReadLimits()
    with open_entries(source, limits) as entries:
        files = dict(_read_files(entries, limits))
    return _build(files)


def scan_package(
    data: PackageSource, limits: ReadLimits | None = None, *, keep: Collection[str] = ("webhooks", "tools")
) -> AgentPackage:
    """Check a package as :func:`read_package` does, holding one file at a time; model only ``keep``.

    Every check of a full read runs (paths, limits, agent.json, each JSON file parses), but only
    ``agent.json`` and the files of the ``keep`` collections are kept and modelled, so checking a
    large package before handing its bytes on costs about one file of memory, not the whole model.
    """
    limits = limits or ReadLimits()
    with open_entries(data, limits) as entries:
        files = {rel: value for rel, value in _read_files(entries, limits) if _kept(rel, keep)}
    return _build(files)


def parse_files(raw: dict[str, bytes], limits: ReadLimits | None = None) -> AgentPackage:
    """Build the model from ``{relative posix path: bytes}``, locating the package root by agent.json."""
    limits = limits or ReadLimits()
    root = _package_root(raw)
    files: dict[str, JSON] = {}
    for path, content in raw.items():
        if path.startswith(root):
            rel = path[len(root) :]
            files[rel] = parse_json(rel, content, limits.max_json_depth) if rel.endswith(".json") else content
    return _build(files)


def agent_sources(path: str | os.PathLike[str]) -> list[Path]:
    """The agent packages at ``path``: itself, unless it is a folder that holds several of them.

    A folder with an ``agent.json`` of its own, or with a single package somewhere below, is one
    package. Otherwise each outermost folder holding an ``agent.json`` and each ``.zip`` directly
    inside is one, so a folder of exports is never silently read as just one of them.
    """
    root = Path(path)
    if not root.is_dir() or (root / AGENT_FILE).is_file():
        return [root]
    folders = {p.parent for p in root.rglob(AGENT_FILE) if p.is_file() and not p.is_symlink()}
    outermost = [f for f in folders if not any(other in f.parents for other in folders)]
    zips = [p for p in root.iterdir() if p.suffix.lower() == ".zip" and p.is_file() and not p.is_symlink()]
    found = sorted([*outermost, *zips])
    return found if len(found) > 1 else [root]


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
def _read_files(entries: PackageEntries, limits: ReadLimits) -> Iterator[tuple[str, JSON]]:
    """``(path relative to the package root, parsed JSON or bytes)`` of each file, one at a time."""
    root = _package_root(entries.names)
    for name in entries.names:
        if name.startswith(root):
            rel = name[len(root) :]
            content = entries.read(name)
            yield rel, parse_json(rel, content, limits.max_json_depth) if rel.endswith(".json") else content


def _kept(rel: str, keep: Collection[str]) -> bool:
    return rel == AGENT_FILE or rel.split("/", 1)[0] in keep


def _package_root(paths: Collection[str]) -> str:
    """The folder holding the shallowest agent.json (the first listed, among equals)."""
    candidates = [p for p in paths if PurePosixPath(p).name == AGENT_FILE]
    if not candidates:
        raise PackageError("not a Dialogflow CX agent package: no agent.json found")
    return min(candidates, key=lambda p: p.count("/"))[: -len(AGENT_FILE)]


def _build(files: dict[str, JSON]) -> AgentPackage:
    agent = files.pop(AGENT_FILE)
    if not isinstance(agent, dict):
        raise PackageError("agent.json must hold a JSON object")
    package = AgentPackage(agent=agent)
    folders = _folders(files)
    for collection in FOLDER_COLLECTIONS:
        for stem, main, parts in _take_folder_resources(files, collection, folders.get(collection, {})):
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


def _folders(files: dict[str, JSON]) -> dict[str, dict[str, dict[str, str]]]:
    """``{collection: {stem: {path inside the folder: path}}}`` for files under ``<collection>/<stem>/``.

    One pass over all files, so building the model stays linear in the file count.
    """
    folders: dict[str, dict[str, dict[str, str]]] = {}
    for path in files:
        parts = path.split("/", 2)
        if len(parts) == 3 and parts[0] in FOLDER_COLLECTIONS:
            folders.setdefault(parts[0], {}).setdefault(parts[1], {})[parts[2]] = path
    return folders


def _take_folder_resources(
    files: dict[str, JSON], collection: str, folders: dict[str, dict[str, str]]
) -> Iterator[tuple[str, dict[str, JSON], dict[str, JSON]]]:
    """Pop ``<collection>/<stem>/<stem>.json`` and the files beside it out of ``files``."""
    for stem in sorted(folders):
        inside = folders[stem]
        main_path = inside.get(f"{stem}.json")
        if main_path is None or not isinstance(files[main_path], dict):
            continue
        main = files.pop(main_path)
        yield stem, main, {rel: files.pop(inside[rel]) for rel in sorted(inside) if inside[rel] != main_path}


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
    "PackageSource",
    "ReadLimits",
    "agent_sources",
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
