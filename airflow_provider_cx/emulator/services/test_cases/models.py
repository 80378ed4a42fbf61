"""Test cases and their results as the emulator keeps them: the behaviour behind the TestCases service.

Test cases live in the agent package (``testCases/<name>.json``, display-name form), so they export
and restore with the agent. Runs replay them on the conversation runtime (draft agent, or the flow
versions an environment pins) and store one result per run beside the agent (package form too).
Everything here works on package JSON and :class:`AgentRecord`; turning requests and responses
into protos is :mod:`.responses`' job.

Import/export content: JSON is ``{"testCases": [...]}`` with each test case in package form
(display names, portable between agents); BLOB is the same JSON behind the emulator's
``CXEMU-TESTCASES`` header. Import also takes a single package test case, a JSON list of them, or
an agent-package zip (its ``testCases/*.json``).
"""

from __future__ import annotations

import copy
import io
import json
import re
import time
import uuid
import zipfile
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import grpc

from airflow_provider_cx.emulator.conversations import conversations_of
from airflow_provider_cx.emulator.errors import AlreadyExists, InvalidArgument, NotFound
from airflow_provider_cx.emulator.names import parse_any
from airflow_provider_cx.emulator.runtime import Engine, RuntimeErrorBase, http_webhook_caller, run_test_case
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import Resource, encode_stem, new_id

if TYPE_CHECKING:
    from airflow_provider_cx.emulator.backend import Backend

JSON = Any
RESULTS_KEY = "testCaseResults"
MAX_RESULTS_PER_AGENT = 5_000
BLOB_MAGIC = b"CXEMU-TESTCASES\n"
MAX_DISPLAY_NAME = 200
MAX_NOTES = 400
MAX_TAG = 30
_ZIP_MAGIC = b"PK\x03\x04"
# Keys of a stored test case that the server sets, never the importer.
_SERVER_KEYS = ("name", "creationTime", "lastTestResult")
Problem = tuple[grpc.StatusCode, str]


# --- running -------------------------------------------------------------------------------------------
def run_and_store(
    backend: Backend, agent_name: str, test_case_ids: list[str], environment: str = ""
) -> list[dict[str, JSON]]:
    """Replay the test cases (by id) and store one result each; returns the stored results (package form)."""
    engine = conversations_of(backend).engine(agent_name, environment)
    with backend.store.read(agent_name) as record:
        by_id = {tc.id: tc for tc in record.package.test_cases}
        missing = [i for i in test_case_ids if i not in by_id]
        if missing:
            raise NotFound(f"test case {agent_name}/testCases/{missing[0]} not found")
        # No copy: test cases are replaced on update, never edited in place.
        tests = [(i, by_id[i].data) for i in test_case_ids]
    results = [_run_one(engine, agent_name, test_id, data, environment) for test_id, data in tests]
    with backend.store.write(agent_name, content=False) as record:
        stored = record.extra(RESULTS_KEY).setdefault("results", [])
        stored.extend(results)
        if len(stored) > MAX_RESULTS_PER_AGENT:
            del stored[: len(stored) - MAX_RESULTS_PER_AGENT]
    return results


def _run_one(engine: Engine, agent_name: str, test_id: str, data: dict[str, JSON], environment: str) -> dict[str, JSON]:
    started = time.time()
    try:
        outcome = run_test_case(engine, data, webhook_caller=http_webhook_caller)
    except RuntimeErrorBase as exc:  # e.g. the test starts on a page the agent does not have
        first = (data.get("testCaseConversationTurns") or [{}])[0]
        outcome = {
            "testResult": "FAILED",
            "conversationTurns": [
                {
                    "userInput": first.get("userInput") or {},
                    "virtualAgentOutput": {
                        "status": {"code": grpc.StatusCode.INVALID_ARGUMENT.value[0], "message": str(exc)}
                    },
                }
            ],
        }
    return {
        "name": f"{agent_name}/testCases/{test_id}/results/{uuid.uuid4()}",
        "testCase": test_id,
        "environment": environment,
        "testTime": started,
        "testResult": outcome["testResult"],
        "conversationTurns": outcome["conversationTurns"],
    }


def all_test_case_ids(backend: Backend, agent_name: str) -> list[str]:
    with backend.store.read(agent_name) as record:
        return [tc.id for tc in record.package.test_cases]


# --- results ----------------------------------------------------------------------------------------
def results(record: AgentRecord) -> list[dict[str, JSON]]:
    stored: list[dict[str, JSON]] = record.extras.get(RESULTS_KEY, {}).get("results", [])
    return stored


def latest_result(record: AgentRecord, test_id: str) -> dict[str, JSON] | None:
    for result in reversed(results(record)):
        if result.get("testCase") == test_id:
            return result
    return None


def find_result(record: AgentRecord, name: str) -> dict[str, JSON]:
    for result in results(record):
        if result.get("name") == name:
            return result
    raise NotFound(f"test case result {name} not found")


# --- test cases ---------------------------------------------------------------------------------------
def find(record: AgentRecord, test_id: str) -> Resource:
    for test_case in record.package.test_cases:
        if test_case.id == test_id:
            return test_case
    raise NotFound(f"test case {record.name}/testCases/{test_id} not found")


def test_case_id(agent_name: str, name: str) -> str:
    """The id of a test case name, which must belong to ``agent_name``."""
    path = parse_any(name, [("testCases",)], "test case")
    if path.agent_name != agent_name:
        raise InvalidArgument(f"test case {name} does not belong to agent {agent_name}")
    return path.segments[0][1]


def add(record: AgentRecord, data: dict[str, JSON], creation_time: dict[str, int]) -> Resource:
    """Store a new test case (checked first); the server assigns its id and creation time."""
    check(record, data, None)
    body = {k: v for k, v in data.items() if k not in _SERVER_KEYS}
    body = {"name": new_id(), **body, "creationTime": creation_time}
    test_case = Resource("testCases", unique_stem(record, body["displayName"], None), body)
    record.package.test_cases.append(test_case)
    return test_case


def replace(record: AgentRecord, test_case: Resource, merged: dict[str, JSON]) -> None:
    """Make ``merged`` the test case's data (checked first; a rename moves its file stem)."""
    check(record, merged, test_case)
    if merged.get("displayName") != test_case.display_name:
        test_case.stem = unique_stem(record, merged["displayName"], test_case)
    test_case.data = merged


def delete(record: AgentRecord, names: Iterable[str]) -> None:
    """Delete test cases by name, and their results; every name must exist (else nothing changes)."""
    ids = {find(record, test_case_id(record.name, name)).id for name in names}
    record.package.test_cases[:] = [tc for tc in record.package.test_cases if tc.id not in ids]
    stored = record.extras.get(RESULTS_KEY, {}).get("results")
    if stored:
        stored[:] = [r for r in stored if r.get("testCase") not in ids]


def check(record: AgentRecord, data: dict[str, JSON], exclude: Resource | None) -> None:
    """Refuse a test case the real service refuses: no/long display name, duplicate, bad tags, long notes."""
    display = str(data.get("displayName", ""))
    found = problem(data, {tc.display_name.strip() for tc in record.package.test_cases if tc is not exclude})
    if found is not None:
        code, message = found
        raise (AlreadyExists if code == grpc.StatusCode.ALREADY_EXISTS else InvalidArgument)(
            f"test case {display!r} in {record.name}: {message}"
        )


def problem(data: dict[str, JSON], taken: Iterable[str]) -> Problem | None:
    """Why the service would refuse ``data`` (a status code and message), or None."""
    display = str(data.get("displayName", ""))
    if not display.strip():
        return grpc.StatusCode.INVALID_ARGUMENT, "display_name must be set"
    if len(display) > MAX_DISPLAY_NAME:
        return grpc.StatusCode.INVALID_ARGUMENT, f"display_name is longer than {MAX_DISPLAY_NAME} characters"
    if display.strip() in set(taken):
        return grpc.StatusCode.ALREADY_EXISTS, "a test case with this display name already exists"
    if len(str(data.get("notes", ""))) > MAX_NOTES:
        return grpc.StatusCode.INVALID_ARGUMENT, f"notes are longer than {MAX_NOTES} characters"
    for tag in data.get("tags", []):
        if not str(tag).startswith("#") or len(str(tag)) > MAX_TAG:
            return (
                grpc.StatusCode.INVALID_ARGUMENT,
                f"tag {tag!r} must start with '#' and have at most {MAX_TAG} characters",
            )
    if not isinstance(data.get("testCaseConversationTurns", []), list):
        return grpc.StatusCode.INVALID_ARGUMENT, "testCaseConversationTurns must be a list"
    return None


def sort_imports(
    record: AgentRecord, incoming: list[dict[str, JSON]]
) -> tuple[list[dict[str, JSON]], list[tuple[dict[str, JSON], Problem]]]:
    """(accepted, refused with their problem) of test cases to import into ``record``."""
    taken = {tc.display_name.strip() for tc in record.package.test_cases}
    accepted: list[dict[str, JSON]] = []
    refused: list[tuple[dict[str, JSON], Problem]] = []
    for data in incoming:
        found = problem(data, taken)
        if found is None:
            taken.add(str(data["displayName"]).strip())
            accepted.append(data)
        else:
            refused.append((data, found))
    return accepted, refused


def import_accepted(record: AgentRecord, accepted: list[dict[str, JSON]], creation_time: dict[str, int]) -> list[str]:
    """Add the accepted test cases that still fit (a name taken meanwhile is skipped); their names."""
    existing = {tc.display_name.strip() for tc in record.package.test_cases}
    names = []
    for data in accepted:
        if str(data["displayName"]).strip() in existing:
            continue
        test_case = add(record, data, creation_time)
        existing.add(test_case.display_name.strip())
        names.append(f"{record.name}/testCases/{test_case.id}")
    return names


def export_selection(record: AgentRecord, wanted: set[str] | None) -> list[dict[str, JSON]]:
    """Deep copies of the test cases named in ``wanted`` (None = all)."""
    return [
        copy.deepcopy(tc.data)
        for tc in record.package.test_cases
        if wanted is None or f"{record.name}/testCases/{tc.id}" in wanted
    ]


def unique_stem(record: AgentRecord, display: str, exclude: Resource | None) -> str:
    taken = {tc.stem.lower() for tc in record.package.test_cases if tc is not exclude}
    base = encode_stem(display)
    stem, n = base, 1
    while stem.lower() in taken:
        n += 1
        stem = f"{base}_{n}"
    return stem


# --- import / export content ----------------------------------------------------------------------------
def write_test_cases(cases: list[dict[str, JSON]], blob: bool) -> bytes:
    payload = json.dumps({"testCases": cases}, indent=2, ensure_ascii=False).encode()
    return BLOB_MAGIC + payload if blob else payload


def check_test_case_content(content: bytes) -> None:
    """Refuse import content that cannot be test cases, from its first bytes (the parse comes later)."""
    head = content[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if content.startswith(BLOB_MAGIC):
        head = content[len(BLOB_MAGIC) :][:64].lstrip()
    if not (head.startswith((b"{", b"[")) or content.startswith(_ZIP_MAGIC)):
        raise InvalidArgument(
            "test case content is neither JSON, a BLOB exported by this emulator, nor an agent-package zip"
        )


def read_test_cases(content: bytes) -> list[dict[str, JSON]]:
    """Package-form test cases from import content (see the module docstring for the formats)."""
    if content.startswith(BLOB_MAGIC):
        content = content[len(BLOB_MAGIC) :]
    if content.startswith(_ZIP_MAGIC):
        return _from_zip(content)
    try:
        parsed = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise InvalidArgument(
            "test case content is neither JSON, a BLOB exported by this emulator, nor an agent-package zip"
        ) from err
    if isinstance(parsed, dict) and isinstance(parsed.get("testCases"), list):
        parsed = parsed["testCases"]
    elif isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list) or not all(isinstance(x, dict) for x in parsed):
        raise InvalidArgument('test case content must hold test case objects ({"testCases": [...]})')
    return parsed


def _from_zip(content: bytes) -> list[dict[str, JSON]]:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = sorted(n for n in archive.namelist() if re.search(r"(^|/)testCases/[^/]+\.json$", n))
            return [json.loads(archive.read(n).decode("utf-8-sig")) for n in names]
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, RuntimeError) as err:
        # RuntimeError covers RecursionError, NotImplementedError and "File is encrypted".
        raise InvalidArgument(f"test case zip cannot be read: {type(err).__name__}: {err}") from err
