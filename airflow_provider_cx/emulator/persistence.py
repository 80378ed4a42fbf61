"""``--data-dir``: the emulator's state on disk, so a restart keeps every agent and operation.

Layout::

    <data-dir>/agents/<project>/<location>/<agent id>.zip   one file per agent, rewritten on change:
        record.json                                          identity, display name, service extras
        package/…                                            the agent package (export layout)
        snapshots/<key>/…                                    packages services keep (flow versions…)
    <data-dir>/operations.json                               every operation (serialized protos)
    <data-dir>/gcs/<bucket>/<object>                          offline Cloud Storage (gs:// URIs)
    <data-dir>/.lock                                         held while an emulator uses the directory

Every file is written to a temporary name and renamed into place, so a crash leaves either the old
or the new version. Operations still pending when the emulator stopped come back finished with
ABORTED: their work died with the process, and clients must see that rather than wait forever.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import threading
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import grpc
from google.longrunning import operations_pb2
from google.rpc import status_pb2

from airflow_provider_cx.emulator.gcs import write_atomic
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import AgentPackage, package_files, parse_files

if TYPE_CHECKING:
    from airflow_provider_cx.emulator.backend import Backend

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
        self._ops_lock = threading.Lock()
        self._backend: Backend | None = None

    @property
    def agents_dir(self) -> Path:
        return self.root / "agents"

    @property
    def operations_file(self) -> Path:
        return self.root / "operations.json"

    # --- wiring -----------------------------------------------------------------------------------
    def attach(self, backend: Backend) -> None:
        """Load the saved state into ``backend`` and save every later change."""
        self._backend = backend
        for path in sorted(self.agents_dir.glob("*/*/*.zip")):
            backend.store.add(load_agent(path.read_bytes(), str(path)))
        aborted = False
        for op in self._load_operations():
            if not op.done:
                op.done = True
                op.error.CopyFrom(
                    status_pb2.Status(
                        code=grpc.StatusCode.ABORTED.value[0],
                        message=f"operation {op.name} was interrupted by an emulator restart; start it again",
                    )
                )
                aborted = True
            backend.operations.add(op)
        if aborted:
            self._save_operations()
        backend.store.on_change(self._agent_changed)
        backend.operations.on_change.append(lambda _op: self._save_operations())

    def close(self) -> None:
        if not self._lock_file.closed:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

    # --- agents -----------------------------------------------------------------------------------
    def _agent_path(self, name: str) -> Path:
        parts = name.split("/")  # projects/P/locations/L/agents/A
        return self.agents_dir / parts[1] / parts[3] / f"{parts[5]}.zip"

    def _agent_changed(self, record: AgentRecord | None, name: str) -> None:
        path = self._agent_path(name)
        if record is None:
            path.unlink(missing_ok=True)
        else:
            write_atomic(path, dump_agent(record))

    # --- operations ---------------------------------------------------------------------------------
    def _save_operations(self) -> None:
        if self._backend is None:
            return
        with self._ops_lock:
            ops = self._backend.operations.all()
            data = {
                "version": FORMAT_VERSION,
                "operations": [base64.b64encode(op.SerializeToString()).decode() for op in ops],
            }
            write_atomic(self.operations_file, json.dumps(data).encode())

    def _load_operations(self) -> list[operations_pb2.Operation]:
        if not self.operations_file.is_file():
            return []
        data = json.loads(self.operations_file.read_text())
        _check_version(data, str(self.operations_file))
        return [operations_pb2.Operation.FromString(base64.b64decode(item)) for item in data["operations"]]


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
