"""The emulator's BLOB export format: opaque to clients, restorable by the emulator only.

Layout: the magic ``CXEMU-BLOB``, a format version (2 bytes, big-endian), the SHA-256 of the
payload, then the payload (the agent as a deterministic JSON-package zip). Anything else handed to
a BLOB restore (a real Dialogflow BLOB, a truncated file, another version) is rejected by name.
"""

from __future__ import annotations

import hashlib
import struct

from airflow_provider_cx.emulator.errors import InvalidArgument
from airflow_provider_cx.package import AgentPackage, read_package, write_zip

MAGIC = b"CXEMU-BLOB"
VERSION = 1
_HEADER = struct.Struct(">H32s")


def encode_blob(package: AgentPackage) -> bytes:
    payload = write_zip(package)
    return MAGIC + _HEADER.pack(VERSION, hashlib.sha256(payload).digest()) + payload


def is_blob(content: bytes) -> bool:
    return content.startswith(MAGIC)


def decode_blob(content: bytes) -> AgentPackage:
    return read_package(blob_payload(content))


def blob_payload(content: bytes) -> bytes:
    """The checked payload of a BLOB (header and checksum verified; nothing parsed yet)."""
    if not is_blob(content):
        raise InvalidArgument("agent content is not a BLOB exported by this emulator (unknown header)")
    header = content[len(MAGIC) : len(MAGIC) + _HEADER.size]
    if len(header) < _HEADER.size:
        raise InvalidArgument("agent BLOB is truncated")
    version, digest = _HEADER.unpack(header)
    if version != VERSION:
        raise InvalidArgument(f"agent BLOB has format version {version}; this emulator reads version {VERSION}")
    payload = content[len(MAGIC) + _HEADER.size :]
    if hashlib.sha256(payload).digest() != digest:
        raise InvalidArgument("agent BLOB is corrupt (checksum mismatch)")
    return payload
