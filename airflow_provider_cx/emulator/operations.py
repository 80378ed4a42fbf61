"""Long-running operations: started by services, finished later on a background timer.

A service that answers with an operation validates the request first (so bad requests fail at once,
as on the real service) and hands :meth:`OperationManager.start` a ``work`` callable. After the
configured delay a single worker thread runs it and stores the response, or the error it raised,
in the operation. CancelOperation before then finishes the operation with CANCELLED and the work
never runs. Fault injection can make an operation fail instead of running its work.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2, struct_pb2
from google.rpc import status_pb2

from airflow_provider_cx.emulator.errors import NotFound, ServiceError
from airflow_provider_cx.emulator.names import operation_name

log = logging.getLogger(__name__)
Work = Callable[[], Any]


@dataclass
class _Pending:
    work: Work
    fail: tuple[grpc.StatusCode, str] | None = None


@dataclass
class OperationManager:
    """All operations by name; finishes pending ones ``delay`` seconds after they start."""

    delay: float = 0.5
    on_change: list[Callable[[operations_pb2.Operation], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._ops: dict[str, operations_pb2.Operation] = {}
        self._pending: dict[str, _Pending] = {}
        self._queue: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="cx-emulator-operations", daemon=True)
        self._thread.start()

    # --- starting and finishing -----------------------------------------------------------------
    def start(
        self,
        project: str,
        location: str,
        work: Work,
        fail: tuple[grpc.StatusCode, str] | None = None,
        metadata: struct_pb2.Struct | None = None,
    ) -> operations_pb2.Operation:
        """Register a new operation; ``work()`` returns its response message (None means Empty)."""
        op = operations_pb2.Operation(name=operation_name(project, location, str(uuid.uuid4())))
        op.metadata.Pack(metadata or struct_pb2.Struct())
        with self._lock:
            self._ops[op.name] = op
            self._pending[op.name] = _Pending(work, fail)
            heapq.heappush(self._queue, (time.monotonic() + self.delay, next(self._seq), op.name))
            self._lock.notify()
            snapshot = _copy(op)
        self._notify(snapshot)
        return snapshot

    def add(self, op: operations_pb2.Operation) -> None:
        """Insert a finished operation as it is (loading persisted state)."""
        with self._lock:
            self._ops[op.name] = op

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stopped and (not self._queue or self._queue[0][0] > time.monotonic()):
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._lock.wait(timeout)
                if self._stopped:
                    return
                _, _, name = heapq.heappop(self._queue)
                pending = self._pending.pop(name, None)
            if pending is not None:
                self._finish(name, pending)

    def _finish(self, name: str, pending: _Pending) -> None:
        response: Any = None
        error: status_pb2.Status | None = None
        if pending.fail is not None:
            error = status_pb2.Status(code=pending.fail[0].value[0], message=pending.fail[1])
        else:
            try:
                response = pending.work()
            except ServiceError as err:
                error = status_pb2.Status(code=err.code.value[0], message=err.message)
            except Exception as err:
                log.exception("emulator: operation %s failed", name)
                error = status_pb2.Status(
                    code=grpc.StatusCode.INTERNAL.value[0], message=f"{type(err).__name__}: {err}"
                )
        with self._lock:
            op = self._ops.get(name)
            if op is None or op.done:
                return
            op.done = True
            if error is not None:
                op.error.CopyFrom(error)
            else:
                packed = any_pb2.Any()
                packed.Pack(response if response is not None else empty_pb2.Empty())
                op.response.CopyFrom(packed)
            snapshot = _copy(op)
        self._notify(snapshot)

    def _notify(self, op: operations_pb2.Operation) -> None:
        for callback in self.on_change:
            callback(op)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify_all()
        self._thread.join(timeout=5)

    # --- queries --------------------------------------------------------------------------------
    def get(self, name: str) -> operations_pb2.Operation:
        with self._lock:
            op = self._ops.get(name)
            if op is None:
                raise NotFound(f"operation {name} not found")
            return _copy(op)

    def list(self, parent: str) -> list[operations_pb2.Operation]:
        prefix = parent.rstrip("/") + "/operations/"
        with self._lock:
            return [_copy(op) for name, op in self._ops.items() if name.startswith(prefix)]

    def all(self) -> list[operations_pb2.Operation]:
        with self._lock:
            return [_copy(op) for op in self._ops.values()]

    def cancel(self, name: str) -> None:
        with self._lock:
            op = self._ops.get(name)
            if op is None:
                raise NotFound(f"operation {name} not found")
            if op.done:
                return
            self._pending.pop(name, None)
            op.done = True
            op.error.CopyFrom(
                status_pb2.Status(code=grpc.StatusCode.CANCELLED.value[0], message=f"operation {name} was cancelled")
            )
            snapshot = _copy(op)
        self._notify(snapshot)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no operation is pending (tests and orderly shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.01)
        return False


def _copy(op: operations_pb2.Operation) -> operations_pb2.Operation:
    clone = operations_pb2.Operation()
    clone.CopyFrom(op)
    return clone
