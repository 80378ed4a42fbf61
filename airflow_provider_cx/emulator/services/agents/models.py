"""Agents as the emulator keeps them: the behaviour behind the Agents service.

An agent is an :class:`AgentRecord` holding its package (see ``store.py``). This module decides
what creating, updating, exporting and restoring an agent does: display names are unique per
location, restore content is an emulator BLOB or a JSON-package zip, KEEP refuses agent settings
the emulator cannot hold and FALLBACK drops them. Turning requests into calls here and answers
into protos is :mod:`.responses`' job.
"""

from __future__ import annotations

import copy
import zipfile
import zlib
from pathlib import PurePosixPath
from typing import Any

from google.cloud.dialogflowcx_v3.types import agent as agent_types
from google.protobuf import json_format

from airflow_provider_cx.emulator import validation
from airflow_provider_cx.emulator.backend import Backend
from airflow_provider_cx.emulator.blob import blob_payload, encode_blob, is_blob
from airflow_provider_cx.emulator.convert import References, durations_to_proto, merge_update, normalise
from airflow_provider_cx.emulator.defaults import new_agent_package
from airflow_provider_cx.emulator.errors import AlreadyExists, InvalidArgument
from airflow_provider_cx.emulator.store import AgentRecord, AgentStore
from airflow_provider_cx.package import AgentPackage, PackageError, ReadLimits, read_package, write_zip
from airflow_provider_cx.package.archive import open_entries
from airflow_provider_cx.package.json_input import parse_json

JSON = Any
# The Agent message is the schema of agent.json: which settings exist and which values they take.
Agent = agent_types.Agent.pb()
RestoreOption = agent_types.RestoreAgentRequest.RestoreOption
_ZIP_MAGIC = b"PK\x03\x04"
_SERVER_SET = ("name", "displayName", "startFlow")
# agent.json holds settings, never content: a few MB is far past any real one.
MAX_AGENT_JSON_BYTES = 8 << 20


def create(store: AgentStore, project: str, location: str, display_name: str, settings: dict[str, JSON]) -> AgentRecord:
    """A new agent with the default start flow and intents; ALREADY_EXISTS if the name is taken."""
    settings = {k: v for k, v in settings.items() if k not in _SERVER_SET}
    with store.lock:
        if any(r.display_name == display_name for r in store.list(project, location)):
            raise AlreadyExists(
                f"an agent named {display_name!r} already exists in projects/{project}/locations/{location}"
            )
        return store.create(project, location, display_name, new_agent_package(settings))


def update(store: AgentStore, record: AgentRecord, new: dict[str, JSON], paths: list[list[str]] | None) -> None:
    """Merge ``new`` (package form, display name included) into the agent's settings; hold ``store.write``."""
    refs = References(record)
    raw = {**record.package.agent, "displayName": record.display_name}
    norm = normalise(dict(raw), Agent, refs, None)
    norm["displayName"] = record.display_name
    merged = merge_update(raw, norm, new, Agent.DESCRIPTOR, paths)
    display_name = merged.get("displayName") or ""
    if not display_name.strip():
        raise InvalidArgument(f"agent {record.name}: display_name must not be empty")
    if display_name != record.display_name and any(
        r.display_name == display_name for r in store.list(record.project, record.location) if r is not record
    ):
        raise AlreadyExists(f"an agent named {display_name!r} already exists")
    if "displayName" not in record.package.agent:
        merged.pop("displayName", None)
    record.package.agent = merged
    record.display_name = display_name


def export_content(backend: Backend, record: AgentRecord, environment: str, blob: bool) -> bytes:
    """The agent (or what ``environment`` serves) as an emulator BLOB or a JSON-package zip."""
    package = backend.resolve_environment(record, environment) if environment else record.package
    return encode_blob(package) if blob else write_zip(package)


def restore_package(record: AgentRecord, package: AgentPackage) -> None:
    """Make the agent ``package`` (read and checked before the agent's lock is taken); hold ``store.write``."""
    record.package = package
    record.extras.pop(validation.EXTRA_KEY, None)


def read_agent_content(content: bytes) -> AgentPackage:
    """A package from restore content: an emulator BLOB or a JSON-package zip; anything else is refused.

    Whatever the archive does to the reader (JSON nested past the recursion limit, an encrypted or
    unsupported entry, a truncated stream) is the caller's input problem: INVALID_ARGUMENT, never
    INTERNAL.
    """
    payload = agent_content_payload(content)
    try:
        return read_package(payload)
    except PackageError:
        raise
    except (RuntimeError, zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError) as err:
        # RuntimeError covers RecursionError, NotImplementedError and "File is encrypted".
        raise InvalidArgument(f"agent content is not a readable agent package: {type(err).__name__}: {err}") from err


def agent_content_payload(content: bytes) -> bytes:
    """The zip inside restore content (a BLOB's checked payload, or the zip itself); cheap, parses nothing."""
    if is_blob(content):
        return blob_payload(content)
    if content.startswith(_ZIP_MAGIC):
        return content
    raise InvalidArgument(
        "agent content is neither a JSON package (zip) nor a BLOB exported by this emulator; "
        "BLOBs exported by Dialogflow CX itself cannot be restored here"
    )


def check_restore_option(payload: bytes, option: int) -> None:
    """Refuse now what the restore would refuse for its settings, reading agent.json alone.

    KEEP with settings the emulator cannot hold is the caller's input error, answered by the RPC
    as on the real service; only agent.json is read for it (bounded), the package is parsed in
    the operation.
    """
    if option != RestoreOption.FALLBACK:
        unsupported = _unsupported_settings(peek_agent_json(payload))
        if unsupported:
            raise _keep_refused(unsupported)


def peek_agent_json(payload: bytes) -> dict[str, JSON]:
    """The agent.json of a package zip (the shallowest one, as the package reader picks), read alone.

    Through the package reader's archive checks (index, duplicates, encryption, limits), so the call
    refuses what the restore would; only agent.json is inflated and parsed.
    """
    limits = ReadLimits(max_entry_bytes=MAX_AGENT_JSON_BYTES)
    try:
        with open_entries(payload, limits) as entries:
            names = sorted(
                (n for n in entries.names if PurePosixPath(n).name == "agent.json"), key=lambda n: n.count("/")
            )
            if not names:
                raise InvalidArgument("not a Dialogflow CX agent package: no agent.json found")
            agent = parse_json(names[0], entries.read(names[0]), limits.max_json_depth)
    except PackageError as err:
        raise InvalidArgument(f"agent content is not a readable agent package: {err}") from err
    if not isinstance(agent, dict):
        raise InvalidArgument("agent.json must hold a JSON object")
    return agent


def _keep_refused(unsupported: set[str]) -> InvalidArgument:
    return InvalidArgument(
        f"agent settings not supported: {', '.join(sorted(unsupported))}; restore with restore_option=FALLBACK "
        "to fall back to the defaults"
    )


def apply_restore_option(package: AgentPackage, option: int) -> AgentPackage:
    """KEEP refuses agent settings the emulator cannot hold; FALLBACK drops them to defaults."""
    unsupported = _unsupported_settings(package.agent)
    if not unsupported:
        return package
    if option == RestoreOption.FALLBACK:
        package = copy.copy(package)
        package.agent = {k: v for k, v in package.agent.items() if k not in unsupported}
        return package
    raise _keep_refused(unsupported)


def _unsupported_settings(agent: dict[str, Any]) -> set[str]:
    """Top-level agent.json keys the Agent message knows but whose values it cannot hold."""
    known = {field.json_name for field in Agent.DESCRIPTOR.fields}
    bad = set()
    for key, value in agent.items():
        if key not in known or key in ("startFlow", "startPlaybook", "name", "displayName"):
            continue
        try:
            json_format.ParseDict(
                durations_to_proto({key: value}, Agent.DESCRIPTOR), Agent(), ignore_unknown_fields=True
            )
        except json_format.ParseError:
            bad.add(key)
    return bad
