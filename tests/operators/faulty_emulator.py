"""Emulators that fail the way a flaky network does, and retry settings that keep such tests fast.

- :func:`fast_retries` makes every hook created afterwards retry with millisecond backoff (and more
  attempts, so a 30% fault rate cannot exhaust them by chance).
- :func:`lossy_emulator` starts an emulator whose CreateVersion / CreateEnvironment *apply* the
  request and then answer UNAVAILABLE, as when a response is lost on the way back: the case the
  emulator's ordinary fault injection (which fails calls before they run) cannot produce.
- :data:`CHAOS` is the fault plan of issue 8: 30% UNAVAILABLE / RESOURCE_EXHAUSTED on every RPC.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.cloud.dialogflowcx_v3.types import environment as env_types
from google.cloud.dialogflowcx_v3.types import version as version_types
from google.longrunning import operations_pb2

from airflow_provider_cx.emulator.errors import ServiceError
from airflow_provider_cx.emulator.rpc import rpc
from airflow_provider_cx.emulator.server import EmulatorServer
from airflow_provider_cx.emulator.services.environments import EnvironmentsService
from airflow_provider_cx.emulator.services.versions import VersionsService
from airflow_provider_cx.hooks.retry import RetryPolicy

FAST_RETRIES = RetryPolicy(
    max_attempts=12, initial_delay=0.005, max_delay=0.02, jitter=0.005, deadline=60, attempt_timeout=10
)
CHAOS: dict[str, Any] = {
    "seed": 8,
    "methods": {"*": {"error_rate": 0.3, "codes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"], "latency_ms": 2}},
}


def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hooks built from now on (by operators and triggers) use :data:`FAST_RETRIES`."""
    monkeypatch.setattr("airflow_provider_cx.hooks.hook_base.DEFAULT_POLICY", FAST_RETRIES)


class _LosesResponses:
    """How many more responses of each create method to drop."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.remaining = dict(counts)
        self.lost: list[str] = []

    def maybe_lose(self, method: str, operation: Any) -> Any:
        if self.remaining.get(method, 0) > 0:
            self.remaining[method] -= 1
            self.lost.append(operation.name)
            raise ServiceError(f"{method} applied, then the response was lost", grpc.StatusCode.UNAVAILABLE)
        return operation


def lossy_emulator(lose: dict[str, int], operation_delay: float = 0.3) -> tuple[EmulatorServer, _LosesResponses]:
    """A started emulator that drops the first responses of CreateVersion/CreateEnvironment, e.g.
    ``lose={"CreateVersion": 2}``, after applying the request."""
    budget = _LosesResponses(lose)

    class LossyVersions(VersionsService):
        @rpc(version_types.CreateVersionRequest, operations_pb2.Operation)
        def create_version(self, request: Any, context: grpc.ServicerContext) -> Any:
            return budget.maybe_lose("CreateVersion", super().create_version(request, context))

    class LossyEnvironments(EnvironmentsService):
        @rpc(env_types.CreateEnvironmentRequest, operations_pb2.Operation)
        def create_environment(self, request: Any, context: grpc.ServicerContext) -> Any:
            return budget.maybe_lose("CreateEnvironment", super().create_environment(request, context))

    server = EmulatorServer(operation_delay=operation_delay)
    replacements = {VersionsService: LossyVersions, EnvironmentsService: LossyEnvironments}
    server.service_classes = [replacements.get(cls, cls) for cls in server.service_classes]
    return server.start(), budget
