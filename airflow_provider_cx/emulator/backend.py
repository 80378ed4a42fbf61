"""What every service shares: the agent store, operations, faults, call records and offline GCS.

Services get the :class:`Backend` in their constructor. Extension points for services written
later live here too: :meth:`Backend.register_environment_resolver` lets the environments service
tell ExportAgent which package an environment serves.
"""

from __future__ import annotations

import contextvars
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from airflow_provider_cx.emulator.api_version import in_caller_version
from airflow_provider_cx.emulator.calls import CallRecorder
from airflow_provider_cx.emulator.change_history import ChangeHistory
from airflow_provider_cx.emulator.errors import NotFound
from airflow_provider_cx.emulator.faults import FaultInjector, FaultPlan
from airflow_provider_cx.emulator.gcs import open_gcs
from airflow_provider_cx.emulator.names import parse
from airflow_provider_cx.emulator.operations import OperationManager, Work
from airflow_provider_cx.emulator.store import AgentRecord, AgentStore
from airflow_provider_cx.package import AgentPackage

# (agent record, environment resource name) -> the package that environment serves (its flow versions).
EnvironmentResolver = Callable[[AgentRecord, str], AgentPackage]

current_method: contextvars.ContextVar[str] = contextvars.ContextVar("current_method", default="")


class Backend:
    def __init__(
        self,
        operation_delay: float = 0.5,
        faults: FaultPlan | None = None,
        gcs_root: str | Path | None = None,
        results_dir: str | Path | None = None,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if gcs_root is None or results_dir is None:
            # Without a data dir, gs:// objects and large operation results live here until close().
            self._tmp = tempfile.TemporaryDirectory(prefix="cx-emulator-")
            gcs_root = gcs_root if gcs_root is not None else Path(self._tmp.name) / "gcs"
            results_dir = results_dir if results_dir is not None else Path(self._tmp.name) / "operations"
        self.store = AgentStore()
        # Watches the store before persistence does, so each change's history is saved with it.
        self.changes = ChangeHistory(self.store)
        self.operations = OperationManager(operation_delay, results_dir=results_dir)
        self.faults = FaultInjector(faults)
        self.calls = CallRecorder()
        self.gcs = open_gcs(gcs_root)
        self._environment_resolver: EnvironmentResolver | None = None

    # --- per call -------------------------------------------------------------------------------
    def before_call(self, full_method: str, context: grpc.ServicerContext) -> None:
        current_method.set(full_method)
        self.calls.record(full_method, context)
        self.faults.before_call(full_method)

    def start_operation(self, project: str, location: str, work: Work, metadata: Any = None, *, key: str = "") -> Any:
        """Start a long-running operation for the current RPC (fault injection may make it fail).

        ``metadata`` is the method's metadata message (e.g. BatchRunTestCasesMetadata); default Struct.
        ``key`` is the agent the work changes: operations of one agent run in order, others in parallel.
        """
        fail = self.faults.operation_failure(current_method.get())
        work, metadata = in_caller_version(work, metadata)
        return self.operations.start(project, location, work, fail=fail, metadata=metadata, key=key)

    # --- environments -------------------------------------------------------------------------
    def register_environment_resolver(self, resolver: EnvironmentResolver) -> None:
        self._environment_resolver = resolver

    def resolve_environment(self, record: AgentRecord, environment: str) -> AgentPackage:
        """The package an environment serves; NOT_FOUND while no environments service is installed."""
        path = parse(environment, ("environments",), "environment")
        if path.agent_name != record.name:
            raise NotFound(f"environment {environment} does not belong to agent {record.name}")
        if self._environment_resolver is None:
            raise NotFound(f"environment {environment} not found")
        return self._environment_resolver(record, environment)

    def close(self) -> None:
        self.operations.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
