"""``--data-dir``: the emulator's state on disk, so a restart keeps every agent and operation.

Layout::

    <data-dir>/agents/<project>/<location>/<agent id>.zip   one file per agent, rewritten on change:
        record.json                                          identity, display name, service extras
        package/…                                            the agent package (export layout)
        snapshots/<key>/…                                    packages services keep (flow versions…)
    <data-dir>/operations/<operation id>.op                  one operation (serialized proto), written
                                                             when it starts and when it finishes
    <data-dir>/operations/<operation id>.result              a large response, written once
    <data-dir>/gcs/<bucket>/<object>                          offline Cloud Storage (gs:// URIs)
    <data-dir>/.lock                                         held while an emulator uses the directory

Every file is written to a temporary name and renamed into place, so a crash leaves either the old
or the new version; temporary files a killed emulator left behind are removed at start. Paths are
made only from validated ids (never from a name as given), and an agent file is loaded only if
its record names the agent its path says. Operations still pending when the emulator stopped come
back finished with ABORTED: their work died with the process, and clients must see that rather
than wait forever.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import logging
import os
import threading
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import grpc
from google.longrunning import operations_pb2
from google.protobuf.message import DecodeError
from google.rpc import status_pb2

from airflow_provider_cx.emulator.files import remove_stale_temp_files, write_atomic
from airflow_provider_cx.emulator.names import agent_name, name_problem
from airflow_provider_cx.emulator.operations import operation_id
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import AgentPackage, PackageError, package_files, parse_files

if TYPE_CHECKING:
    from airflow_provider_cx.emulator.backend import Backend

log = logging.getLogger(__name__)
FORMAT_VERSION = 1


class DataDirError(RuntimeError):
    """The data directory is unusable (locked by another emulator, or written by a newer one)."""


class DataDir:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_file = (self.root / ".lock").open("w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            self._lock_file.close()
            raise DataDirError(f"{self.root} is in use by another emulator") from err
        # Holding the lock, no writer of ours runs here: any temporary file is a dead one.
        remove_stale_temp_files(self.root)
        self._ops_lock = threading.Lock()
        self._backend: Backend | None = None

    @property
    def agents_dir(self) -> Path:
        return self.root / "agents"

    @property
    def operations_dir(self) -> Path:
        return self.root / "operations"

    @property
    def legacy_operations_file(self) -> Path:
        """Where format 1 kept every operation in one file; read once and replaced by per-operation files."""
        return self.root / "operations.json"

    # --- wiring -----------------------------------------------------------------------------------
    def attach(self, backend: Backend) -> None:
        """Load the saved state into ``backend`` and save every later change."""
        self._backend = backend
        for path in sorted(self.agents_dir.glob("*/*/*.zip")):
            record = self._load_agent_file(path)
            if record is not None:
                backend.store.add(record)
        # Attached before loading: operations past the retention limit are dropped, files and all.
        backend.operations.on_drop.append(self._operation_dropped)
        for op, spilled in self._load_operations():
            if not op.done:
                op.done = True
                op.error.CopyFrom(
                    status_pb2.Status(
                        code=grpc.StatusCode.ABORTED.value[0],
                        message=f"operation {op.name} was interrupted by an emulator restart; start it again",
                    )
                )
                self._write_operation(op)
            backend.operations.add(op, spilled=spilled)
        backend.store.on_change(self._agent_changed)
        backend.operations.on_change.append(self._operation_changed)

    def close(self) -> None:
        if not self._lock_file.closed:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

    # --- agents -----------------------------------------------------------------------------------
    def agent_path(self, project: str, location: str, agent_id: str) -> Path:
        """The file of an agent, from its validated ids; refuses anything that could leave agents/."""
        name = agent_name(project, location, agent_id)
        problem = name_problem(name)
        if problem is not None or len(name.split("/")) != 6:
            raise DataDirError(f"refusing to persist agent {name!r}: its name {problem or 'has extra segments'}")
        path = self.agents_dir / project / location / f"{agent_id}.zip"
        if not path.resolve().is_relative_to(self.agents_dir.resolve()):
            raise DataDirError(f"refusing to persist agent {name!r} outside {self.agents_dir}")
        return path

    def _path_of_name(self, name: str) -> Path:
        parts = name.split("/")  # projects/P/locations/L/agents/A
        if len(parts) != 6 or parts[0::2] != ["projects", "locations", "agents"]:
            raise DataDirError(f"refusing to persist {name!r}: not an agent name")
        return self.agent_path(parts[1], parts[3], parts[5])

    def _agent_changed(self, record: AgentRecord | None, name: str) -> None:
        if record is None:
            self._path_of_name(name).unlink(missing_ok=True)
        else:
            write_atomic(self.agent_path(record.project, record.location, record.agent_id), dump_agent(record))

    def _load_agent_file(self, path: Path) -> AgentRecord | None:
        """The agent saved in ``path``, or None (logged) if the file is not one of ours or lies about its name.

        One unreadable file must not keep the emulator from starting with every other agent.
        """
        try:
            record = load_agent(path.read_bytes(), str(path))
            expected = self.agent_path(record.project, record.location, record.agent_id)
        except DataDirError as err:
            if "format" in str(err):
                raise
            log.warning("cx emulator: skipping %s: %s", path, err)
            return None
        except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError, PackageError, RecursionError) as err:
            log.warning("cx emulator: skipping %s: not an agent this emulator saved (%s)", path, err)
            return None
        if expected != path:
            log.warning("cx emulator: skipping %s: it holds agent %s, which belongs elsewhere", path, record.name)
            return None
        return record

    # --- operations ---------------------------------------------------------------------------------
    def _operation_file(self, name: str) -> Path | None:
        ident = operation_id(name)
        return self.operations_dir / f"{ident}.op" if ident is not None else None

    def _write_operation(self, op: operations_pb2.Operation) -> None:
        path = self._operation_file(op.name)
        if path is not None:
            write_atomic(path, op.SerializeToString())

    def _operation_changed(self, name: str) -> None:
        if self._backend is None:
            return
        with self._ops_lock:
            # Write what the operation is now (states only move forward), not what the caller saw.
            op = self._backend.operations.stored(name)
            if op is not None:
                self._write_operation(op)

    def _operation_dropped(self, name: str) -> None:
        path = self._operation_file(name)
        if path is not None:
            with self._ops_lock:
                path.unlink(missing_ok=True)

    def _load_operations(self) -> list[tuple[operations_pb2.Operation, bool]]:
        """(operation, its response is in a result file) for every saved operation, oldest first."""
        self._migrate_legacy_operations()
        loaded = []
        for path in sorted(self.operations_dir.glob("*.op"), key=lambda p: (p.stat().st_mtime, p.name)):
            try:
                op = operations_pb2.Operation.FromString(path.read_bytes())
            except (OSError, DecodeError) as err:
                log.warning("cx emulator: skipping operation file %s: %s", path, err)
                continue
            if self._operation_file(op.name) != path:
                log.warning("cx emulator: skipping operation file %s: it holds %s", path, op.name)
                continue
            spilled = op.done and op.WhichOneof("result") is None and path.with_suffix(".result").is_file()
            loaded.append((op, spilled))
        return loaded

    def _migrate_legacy_operations(self) -> None:
        legacy = self.legacy_operations_file
        if not legacy.is_file():
            return
        data = json.loads(legacy.read_text())
        _check_version(data, str(legacy))
        for item in data["operations"]:
            self._write_operation(operations_pb2.Operation.FromString(base64.b64decode(item)))
        legacy.unlink()


def dump_agent(record: AgentRecord) -> bytes:
    """One agent as a zip: record.json, package/…, snapshots/<key>/…"""
    meta = {
        "version": FORMAT_VERSION,
        "project": record.project,
        "location": record.location,
        "agent_id": record.agent_id,
        "display_name": record.display_name,
        "create_time": record.create_time,
        "extras": record.extras,
        "snapshots": sorted(record.snapshots),
    }
    files = {"record.json": json.dumps(meta, indent=1, sort_keys=True).encode()}
    files.update({f"package/{p}": b for p, b in package_files(record.package).items()})
    for key, snapshot in record.snapshots.items():
        files.update({f"snapshots/{quote(key, safe='')}/{p}": b for p, b in package_files(snapshot).items()})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, content in sorted(files.items()):
            archive.writestr(path, content)
    return buffer.getvalue()


def load_agent(content: bytes, label: str) -> AgentRecord:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        files = {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
    meta = json.loads(files.pop("record.json"))
    _check_version(meta, label)
    package = _package_under(files, "package/")
    snapshots = {key: _package_under(files, f"snapshots/{quote(key, safe='')}/") for key in meta["snapshots"]}
    return AgentRecord(
        project=meta["project"],
        location=meta["location"],
        agent_id=meta["agent_id"],
        display_name=meta["display_name"],
        package=package,
        create_time=meta["create_time"],
        extras=meta["extras"],
        snapshots=snapshots,
    )


def _package_under(files: dict[str, bytes], prefix: str) -> AgentPackage:
    return parse_files({p[len(prefix) :]: b for p, b in files.items() if p.startswith(prefix)})


def _check_version(data: dict[str, Any], label: str) -> None:
    if data.get("version") != FORMAT_VERSION:
        raise DataDirError(f"{label} was written in format {data.get('version')}; this emulator reads {FORMAT_VERSION}")
