"""Hostile zip archives written byte by byte: headers that lie, flags and methods a reader must refuse.

``zipfile`` refuses to write most of these, so :func:`raw_zip` writes the local headers, the central
directory and the end record itself from :class:`RawEntry` values whose every field the test chooses.
"""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

DEFLATE, STORED = 8, 0


@dataclass(frozen=True)
class RawEntry:
    """One entry: ``payload`` is written as is (already compressed); sizes and flags are as declared."""

    name: str
    payload: bytes
    method: int = DEFLATE
    crc: int = 0
    declared_size: int = 0
    flags: int = 0


def deflate(data: bytes) -> bytes:
    """A raw deflate stream (what a zip entry holds)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def deflate_repeated(block: bytes, times: int) -> tuple[bytes, int]:
    """``block * times`` deflated without holding it: the stream and its CRC-32."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts, crc = [], 0
    for _ in range(times):
        parts.append(compressor.compress(block))
        crc = zlib.crc32(block, crc)
    parts.append(compressor.flush())
    return b"".join(parts), crc


def entry(name: str, content: bytes, **overrides: Any) -> RawEntry:
    """An honest deflated entry for ``content``; ``overrides`` make it lie."""
    fields = {"crc": zlib.crc32(content), "declared_size": len(content), **overrides}
    return RawEntry(name, deflate(content), **fields)


def raw_zip(entries: Sequence[RawEntry]) -> bytes:
    """A zip archive holding ``entries`` exactly as declared (the central directory repeats the local headers)."""
    body, central = bytearray(), bytearray()
    for item in entries:
        name = item.name.encode()
        offset = len(body)
        sizes = (item.crc, len(item.payload), item.declared_size, len(name), 0)
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, item.flags, item.method, 0, 0x21, *sizes)
        body += name + item.payload
        central += struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, item.flags, item.method, 0, 0x21, *sizes, 0, 0, 0, 0, offset
        )
        central += name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(body), 0)
    return bytes(body + central + end)


AGENT = entry("agent.json", b'{"displayName": "hostile", "defaultLanguageCode": "en"}')


def peak_bytes(function: Callable[[], object]) -> tuple[int, BaseException | None]:
    """Peak Python memory while ``function`` runs, and what it raised (None if nothing)."""
    tracemalloc.start()
    try:
        function()
        raised = None
    except BaseException as err:  # the caller asserts on it
        raised = err
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, raised
