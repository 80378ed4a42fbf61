"""Giving the receive buffers of a large GetOperation response back to the system before it is parsed.

An export's finished operation carries the whole package. While gRPC Python receives it, the
package exists three times: the core's receive buffer, a copy of each of its slices, and the joined
bytes. The first two are freed before the response is parsed, but the slice copies are many small
allocations in the C heap, and glibc keeps such freed memory mapped: free space at the top of the
heap below its (self-raising) trim threshold, and any free space below memory still in use. Measured
on a 50 MB export: 20 MB stayed resident, 60-70 MB when other allocations interleave (e.g. under
tracemalloc), and parsing then adds the message (and later the package bytes) on top: 3.25-3.4x the
package instead of the receive's 3x.

So the operations client's GetOperation deserializer calls glibc's ``malloc_trim(0)`` first when a
response is large: it returns every free page of the heap to the system (a few milliseconds), and the
response is then parsed into memory the receive has already given back. Everything else about the
call is the stock api_core ``OperationsClient``. Without glibc (musl, macOS) nothing is trimmed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable
from typing import Any

#: GetOperation, whose responses carry exports.
GET_OPERATION_METHOD = "/google.longrunning.Operations/GetOperation"
#: Responses at least this large (bytes) trim the heap before they are parsed.
LARGE_RESPONSE_BYTES = 4 << 20


class TrimmingOperationsChannel:
    """``channel`` for api_core's ``OperationsClient``: its GetOperation stub trims before parsing large responses.

    The client only asks a channel for stubs (``unary_unary``); everything else goes to ``channel``.
    """

    def __init__(self, channel: Any) -> None:
        self._channel = channel

    def unary_unary(
        self, method: str, request_serializer: Any = None, response_deserializer: Any = None, **kwargs: Any
    ) -> Any:
        if method == GET_OPERATION_METHOD and response_deserializer is not None:
            response_deserializer = trimming_first(response_deserializer)
        return self._channel.unary_unary(method, request_serializer, response_deserializer, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._channel, name)


def trimming_first(deserializer: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    """``deserializer``, preceded by :func:`release_free_heap` for responses of :data:`LARGE_RESPONSE_BYTES` or more."""

    def deserialize(data: bytes) -> Any:
        if len(data) >= LARGE_RESPONSE_BYTES:
            release_free_heap()
        return deserializer(data)

    return deserialize


def release_free_heap() -> bool:
    """Return the C heap's free pages to the system (glibc ``malloc_trim(0)``); whether that was possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim
