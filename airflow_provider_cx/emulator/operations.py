"""Long-running operations: started by services, finished later by a pool of workers.

A service that answers with an operation validates the request first (so bad requests fail at once,
as on the real service) and hands :meth:`OperationManager.start` a ``work`` callable and a ``key``
(the agent it changes). ``work()`` returns the response message, or :class:`Finished` with the
response and the operation's final metadata. After the configured delay a worker runs it and stores the response, or
the error it raised, in the operation. Operations with different keys run concurrently; those
with the same key run one at a time, in the order they started, so two restores of one agent
never interleave. CancelOperation before the work starts finishes the operation with CANCELLED
and the work never runs. Fault injection can make an operation fail instead of running its work.

Finished operations keep only what GetOperation returns. A response larger than
:data:`LARGE_RESULT_BYTES` (an ExportAgent's ``agent_content``) is kept once, in a file of its
own under ``results_dir``, and read back per GetOperation; at most ``max_finished`` finished
operations are kept, the oldest dropped first together with their result files.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2, struct_pb2
from google.rpc import status_pb2

from airflow_provider_cx.emulator.errors import InvalidArgument, NotFound, status_of
from airflow_provider_cx.emulator.files import write_atomic
from airflow_provider_cx.emulator.names import operation_name

log = logging.getLogger(__name__)
Work = Callable[[], Any]
#: The longest operation delay accepted (seconds): long enough for any test, short enough to wait on.
MAX_DELAY_SECONDS = 3600.0
#: Responses larger than this live in a result file instead of memory.
LARGE_RESULT_BYTES = 1 << 20
DEFAULT_MAX_FINISHED = 1000
DEFAULT_WORKERS = 8
# The longest the scheduler sleeps at once, so no timeout handed to the OS can overflow.
_MAX_WAIT = 60.0
# Operation ids are uuid4 strings this module makes; only those ever name a file.
_OPERATION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def check_delay(seconds: object) -> float:
    """``seconds`` as a delay, or INVALID_ARGUMENT: a finite number between 0 and MAX_DELAY_SECONDS."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise InvalidArgument(f"operation delay must be a number of seconds, got {seconds!r}")
    value = float(seconds)
    if not math.isfinite(value) or not 0 <= value <= MAX_DELAY_SECONDS:
        raise InvalidArgument(f"operation delay must be between 0 and {MAX_DELAY_SECONDS:g} seconds, got {seconds!r}")
    return value


def operation_id(name: str) -> str | None:
    """The id of an operation name this emulator made (a uuid4), else None."""
    ident = name.rsplit("/", 1)[-1]
    return ident if _OPERATION_ID.match(ident) else None


@dataclass(frozen=True)
class Finished:
    """What ``work()`` returns when the operation's metadata is only known at the end (import errors…)."""

    response: Any
    metadata: Any


@dataclass
class _Pending:
    work: Work
    key: str
    fail: tuple[grpc.StatusCode, str] | None = None


class OperationManager:
    """All operations by name; runs each one's work ``delay`` seconds after it starts."""

    def __init__(
        self,
        delay: float = 0.5,
        *,
        results_dir: str | Path | None = None,
        max_finished: int = DEFAULT_MAX_FINISHED,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self._delay = check_delay(delay)
        self.results_dir = Path(results_dir) if results_dir is not None else None
        self.max_finished = max_finished
        self.on_change: list[Callable[[str], None]] = []
        self.on_drop: list[Callable[[str], None]] = []
        self._lock = threading.Condition()
        self._ops: dict[str, operations_pb2.Operation] = {}
        self._spilled: set[str] = set()  # done operations whose response lives in a result file
        self._finished: deque[str] = deque()  # finish order, for dropping the oldest
        self._pending: dict[str, _Pending] = {}
        self._queue: list[tuple[float, int, str]] = []
        self._ready: set[str] = set()
        self._lanes: dict[str, deque[str]] = {}  # key -> its operations in start order
        self._running: set[str] = set()  # keys whose head operation is running
        self._seq = itertools.count()
        self._stopped = False
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cx-emulator-operation")
        self._thread = threading.Thread(target=self._schedule, name="cx-emulator-operations", daemon=True)
        self._thread.start()

    @property
    def delay(self) -> float:
        return self._delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self._delay = check_delay(seconds)

    # --- starting -----------------------------------------------------------------------------------
    def start(
        self,
        project: str,
        location: str,
        work: Work,
        fail: tuple[grpc.StatusCode, str] | None = None,
        metadata: Any = None,
        key: str = "",
    ) -> operations_pb2.Operation:
        """Register a new operation; ``work()`` returns its response message (None means Empty)."""
        op = operations_pb2.Operation(name=operation_name(project, location, str(uuid.uuid4())))
        op.metadata.Pack(metadata or struct_pb2.Struct())
        with self._lock:
            self._ops[op.name] = op
            self._pending[op.name] = _Pending(work, key, fail)
            self._lanes.setdefault(key, deque()).append(op.name)
            heapq.heappush(self._queue, (time.monotonic() + self._delay, next(self._seq), op.name))
            self._lock.notify()
            snapshot = _copy(op)
        self._notify(op.name)
        return snapshot

    def add(self, op: operations_pb2.Operation, *, spilled: bool = False) -> None:
        """Insert a finished operation as it is (loading persisted state); ``spilled``: its response is in a file."""
        with self._lock:
            self._ops[op.name] = op
            if spilled:
                self._spilled.add(op.name)
            if op.done:
                self._finished.append(op.name)
        self._drop_oldest()

    # --- running ------------------------------------------------------------------------------------
    def _schedule(self) -> None:
        """Move operations whose delay passed to their key's lane; never dies on a bad operation."""
        while True:
            try:
                with self._lock:
                    while not self._stopped and (not self._queue or self._queue[0][0] > time.monotonic()):
                        wait = self._queue[0][0] - time.monotonic() if self._queue else _MAX_WAIT
                        self._lock.wait(min(max(wait, 0.0), _MAX_WAIT))
                    if self._stopped:
                        return
                    _, _, name = heapq.heappop(self._queue)
                    pending = self._pending.get(name)
                    if pending is not None:
                        self._ready.add(name)
                        self._dispatch(pending.key)
            except Exception:  # pragma: no cover - a bug here must not stop every later operation
                log.exception("emulator: the operation scheduler hit an error and goes on")

    def _dispatch(self, key: str) -> None:
        """Start the head of ``key``'s lane if it is due and nothing of that key runs. Holds the lock."""
        if key in self._running or self._stopped:
            return
        lane = self._lanes.get(key)
        while lane and lane[0] not in self._pending:  # cancelled meanwhile
            lane.popleft()
        if not lane:
            self._lanes.pop(key, None)
            return
        head = lane[0]
        if head not in self._ready:
            return
        self._ready.discard(head)
        pending = self._pending.pop(head)
        self._running.add(key)
        self._executor.submit(self._execute, head, pending)

    def _execute(self, name: str, pending: _Pending) -> None:
        try:
            self._finish(name, pending)
        except Exception:  # pragma: no cover - _finish catches the work's errors; this is a last resort
            log.exception("emulator: finishing operation %s failed", name)
        finally:
            with self._lock:
                self._running.discard(pending.key)
                lane = self._lanes.get(pending.key)
                if lane and lane[0] == name:
                    lane.popleft()
                self._dispatch(pending.key)
                self._lock.notify_all()

    def _finish(self, name: str, pending: _Pending) -> None:
        response: Any = None
        error: status_pb2.Status | None = None
        if pending.fail is not None:
            error = status_pb2.Status(code=pending.fail[0].value[0], message=pending.fail[1])
        else:
            try:
                response = pending.work()
            except Exception as err:
                refused = status_of(err)
                if refused is None:
                    log.exception("emulator: operation %s failed", name)
                    refused = grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}"
                error = status_pb2.Status(code=refused[0].value[0], message=refused[1])
        metadata: Any = None
        if isinstance(response, Finished):
            response, metadata = response.response, response.metadata
        packed: any_pb2.Any | None = None
        spill = False
        if error is None:
            packed = any_pb2.Any()
            packed.Pack(response if response is not None else empty_pb2.Empty())
            del response
            spill = self._spill(name, packed)
        with self._lock:
            op = self._ops.get(name)
            if op is None or op.done:
                return
            op.done = True
            if metadata is not None:
                op.metadata.Pack(metadata)
            if error is not None:
                op.error.CopyFrom(error)
            elif spill:
                self._spilled.add(name)
            elif packed is not None:
                op.response.CopyFrom(packed)
            self._finished.append(name)
        self._notify(name)
        self._drop_oldest()

    def _spill(self, name: str, packed: any_pb2.Any) -> bool:
        """Write a large response to its result file; True if it now lives there."""
        ident = operation_id(name)
        if self.results_dir is None or ident is None or packed.ByteSize() <= LARGE_RESULT_BYTES:
            return False
        write_atomic(self.results_dir / f"{ident}.result", packed.SerializeToString())
        return True

    def result_path(self, name: str) -> Path | None:
        ident = operation_id(name)
        return self.results_dir / f"{ident}.result" if self.results_dir is not None and ident else None

    def _drop_oldest(self) -> None:
        dropped = []
        with self._lock:
            while len(self._finished) > self.max_finished:
                name = self._finished.popleft()
                self._ops.pop(name, None)
                if name in self._spilled:
                    self._spilled.discard(name)
                    path = self.result_path(name)
                    if path is not None:
                        path.unlink(missing_ok=True)
                dropped.append(name)
        for name in dropped:
            for callback in self.on_drop:
                callback(name)

    def _notify(self, name: str) -> None:
        for callback in self.on_change:
            callback(name)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify_all()
        self._thread.join(timeout=5)
        self._executor.shutdown(wait=True, cancel_futures=True)

    # --- queries ------------------------------------------------------------------------------------
    def stored(self, name: str) -> operations_pb2.Operation | None:
        """The operation as kept in memory (a spilled response left out); None once dropped."""
        with self._lock:
            op = self._ops.get(name)
            return _copy(op) if op is not None else None

    def is_spilled(self, name: str) -> bool:
        with self._lock:
            return name in self._spilled

    def get(self, name: str) -> operations_pb2.Operation:
        with self._lock:
            op = self._ops.get(name)
            if op is None:
                raise NotFound(f"operation {name} not found")
            snapshot = _copy(op)
            spilled = name in self._spilled
        if spilled:
            self._load_result(snapshot)
        return snapshot

    def _load_result(self, op: operations_pb2.Operation) -> None:
        path = self.result_path(op.name)
        try:
            op.response.ParseFromString(path.read_bytes() if path is not None else b"")
        except OSError as err:
            raise NotFound(f"the result of operation {op.name} is gone ({err})") from err

    def list(self, parent: str) -> list[operations_pb2.Operation]:
        prefix = parent.rstrip("/") + "/operations/"
        with self._lock:
            names = [name for name in self._ops if name.startswith(prefix)]
        found = []
        for name in names:
            try:
                found.append(self.get(name))
            except NotFound:  # dropped meanwhile
                continue
        return found

    def cancel(self, name: str) -> None:
        with self._lock:
            op = self._ops.get(name)
            if op is None:
                raise NotFound(f"operation {name} not found")
            if op.done:
                return
            if self._pending.pop(name, None) is None:
                return  # already running: it finishes as it will
            self._ready.discard(name)
            op.done = True
            op.error.CopyFrom(
                status_pb2.Status(code=grpc.StatusCode.CANCELLED.value[0], message=f"operation {name} was cancelled")
            )
            self._finished.append(name)
        self._notify(name)
        self._drop_oldest()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no operation is pending or running (tests and orderly shutdown)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.05))
        return True


def _copy(op: operations_pb2.Operation) -> operations_pb2.Operation:
    clone = operations_pb2.Operation()
    clone.CopyFrom(op)
    return clone
