"""Per-method call counts and a record of who called (for benchmarks and fork-safety checks).

Each call records the peer address and a few metadata values a client sends: ``user-agent``,
``x-goog-api-client`` and :data:`CALLER_PID_METADATA`, which a client may set to its process id so
tests can prove calls came from a particular (e.g. forked) process. Nothing else from the metadata
is kept, so credentials never end up here.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

import grpc

CALLER_PID_METADATA = "x-cx-caller-pid"
_KEPT_METADATA = ("user-agent", "x-goog-api-client", CALLER_PID_METADATA)


class CallRecorder:
    def __init__(self, max_callers: int = 10_000) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.callers: deque[dict[str, Any]] = deque(maxlen=max_callers)

    def record(self, full_method: str, context: grpc.ServicerContext) -> None:
        metadata = {key: value for key, value in (context.invocation_metadata() or ()) if key in _KEPT_METADATA}
        entry = {"method": full_method, "peer": context.peer(), "time": time.time(), **metadata}
        with self._lock:
            self.counts[full_method] += 1
            self.callers.append(entry)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"counts": dict(self.counts), "callers": list(self.callers)}

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.callers.clear()
