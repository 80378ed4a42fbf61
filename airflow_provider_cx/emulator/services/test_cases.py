"""google.cloud.dialogflow.cx.v3.TestCases: test case CRUD, runs, results, coverage, import/export.

Test cases live in the agent package (``testCases/<name>.json``, display-name form), so they export
and restore with the agent. Runs replay them on the conversation runtime (draft agent, or the flow
versions an environment pins) and store a TestCaseResult per run beside the agent; the test case's
``last_test_result`` is the newest of them. :func:`run_test_cases_for_environment` is the same
machinery for the environments service (RunContinuousTest, DeployFlow's pre-deployment run).

Import/export formats (``ExportTestCasesRequest.DataFormat``): JSON is ``{"testCases": [...]}``
with each test case in package form (display names, portable between agents); BLOB is the same
JSON behind the emulator's ``CXEMU-TESTCASES`` header. Import also takes a single package test
case, a JSON list of them, or an agent-package zip (its ``testCases/*.json``).
"""

from __future__ import annotations

import copy
import io
import json
import re
import time
import uuid
import zipfile
from collections.abc import Iterable
from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import test_case as tc_types
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2
from google.rpc import status_pb2

from airflow_provider_cx.emulator.conversations import conversations_of
from airflow_provider_cx.emulator.convert import References
from airflow_provider_cx.emulator.errors import AlreadyExists, InvalidArgument, NotFound
from airflow_provider_cx.emulator.names import parse, parse_any
from airflow_provider_cx.emulator.rpc import Service, paginate, pb, rpc
from airflow_provider_cx.emulator.runtime import RuntimeErrorBase, http_webhook_caller, run_test_case
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.emulator.test_case_coverage import coverage_message
from airflow_provider_cx.emulator.test_case_filters import ResultFilter, export_names
from airflow_provider_cx.emulator.test_case_messages import (
    CaseRefs,
    case_data,
    case_message,
    creation_time_now,
    result_message,
    turn_data,
    turn_message,
)
from airflow_provider_cx.package import Resource, encode_stem, new_id

JSON = Any
RESULTS_KEY = "testCaseResults"
MAX_RESULTS_PER_AGENT = 5_000
BLOB_MAGIC = b"CXEMU-TESTCASES\n"
MAX_DISPLAY_NAME = 200
MAX_NOTES = 400
MAX_TAG = 30
_ZIP_MAGIC = b"PK\x03\x04"
_INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT.value[0]
_View = tc_types.ListTestCasesRequest.TestCaseView
_DataFormat = tc_types.ExportTestCasesRequest.DataFormat
_UPDATABLE = {"tags", "display_name", "notes", "test_config", "test_case_conversation_turns"}


# --- running -------------------------------------------------------------------------------------------
def run_test_cases_for_environment(backend: Any, agent_name: str, environment_name: str) -> list[Any]:
    """Run every test case of the agent in an environment (``""`` = draft); store and return the results.

    Used by the environments service: RunContinuousTest and DeployFlow's pre-deployment test run.
    """
    with backend.store.read(agent_name) as record:
        ids = [tc.id for tc in record.package.test_cases]
    return run_and_store(backend, agent_name, ids, environment_name)


def run_and_store(backend: Any, agent_name: str, test_case_ids: list[str], environment: str = "") -> list[Any]:
    """Replay the test cases (by id) and store one TestCaseResult each; returns the result protos."""
    engine = conversations_of(backend).engine(agent_name, environment)
    with backend.store.read(agent_name) as record:
        by_id = {tc.id: tc for tc in record.package.test_cases}
        missing = [i for i in test_case_ids if i not in by_id]
        if missing:
            raise NotFound(f"test case {agent_name}/testCases/{missing[0]} not found")
        # No copy: this service replaces a test case's data on update, it never edits it in place.
        tests = [(i, by_id[i].data) for i in test_case_ids]
    results = []
    for test_id, data in tests:
        results.append(_run_one(engine, agent_name, test_id, data, environment))
    with backend.store.write(agent_name, content=False) as record:
        refs = CaseRefs(References(record))
        stored = record.extra(RESULTS_KEY).setdefault("results", [])
        stored.extend(results)
        if len(stored) > MAX_RESULTS_PER_AGENT:
            del stored[: len(stored) - MAX_RESULTS_PER_AGENT]
        return [result_message(r, refs) for r in results]


def _run_one(engine: Any, agent_name: str, test_id: str, data: dict[str, JSON], environment: str) -> dict[str, JSON]:
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


def _results(record: AgentRecord) -> list[dict[str, JSON]]:
    return record.extras.get(RESULTS_KEY, {}).get("results", [])


def _latest_result(record: AgentRecord, test_id: str) -> dict[str, JSON] | None:
    for result in reversed(_results(record)):
        if result.get("testCase") == test_id:
            return result
    return None


# --- service ----------------------------------------------------------------------------------------
class TestCasesService(Service):
    SERVICE = "google.cloud.dialogflow.cx.v3.TestCases"

    # --- CRUD ---------------------------------------------------------------------------------------
    @rpc(tc_types.ListTestCasesRequest, tc_types.ListTestCasesResponse)
    def list_test_cases(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent = parse(request.parent, (), "agent").agent_name
        full = request.view == _View.FULL
        limit = 20 if full else 500
        if request.page_size < 0:
            raise InvalidArgument(f"page_size must not be negative, got {request.page_size}")
        size = min(request.page_size or 20, limit)
        with self.backend.store.read(agent) as record:
            refs = CaseRefs(References(record))
            page, token = paginate(record.package.test_cases, size, request.page_token)
            cases = [self._message(record, refs, tc, full) for tc in page]
        return pb(tc_types.ListTestCasesResponse)(test_cases=cases, next_page_token=token)

    @rpc(tc_types.GetTestCaseRequest, tc_types.TestCase)
    def get_test_case(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("testCases",), "test case")
        with self.backend.store.read(path.agent_name) as record:
            test_case = _find(record, path.segments[0][1])
            return self._message(record, CaseRefs(References(record)), test_case, True)

    @rpc(tc_types.CreateTestCaseRequest, tc_types.TestCase)
    def create_test_case(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent = parse(request.parent, (), "agent").agent_name
        with self.backend.store.write(agent) as record:
            refs = CaseRefs(References(record))
            data = case_data(request.test_case, refs)
            _check(record, data, None)
            data = {"name": new_id(), **data, "creationTime": creation_time_now()}
            test_case = Resource("testCases", _unique_stem(record, data["displayName"], None), data)
            record.package.test_cases.append(test_case)
            return self._message(record, refs, test_case, True)

    @rpc(tc_types.UpdateTestCaseRequest, tc_types.TestCase)
    def update_test_case(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.test_case.name, ("testCases",), "test case")
        paths = _update_paths(request)
        with self.backend.store.write(path.agent_name) as record:
            test_case = _find(record, path.segments[0][1])
            refs = CaseRefs(References(record))
            new = case_data(request.test_case, refs)
            merged = copy.deepcopy(test_case.data)
            for field in paths:
                key = _JSON_NAMES[field]
                if key == "testCaseConversationTurns" and _same_turns(test_case.data.get(key, []), new[key], refs):
                    continue
                if key in new and new[key] not in ("", [], {}):
                    merged[key] = new[key]
                else:
                    merged.pop(key, None)
            _check(record, merged, test_case)
            if merged.get("displayName") != test_case.display_name:
                test_case.stem = _unique_stem(record, merged["displayName"], test_case)
            test_case.data = merged
            return self._message(record, refs, test_case, True)

    @rpc(tc_types.BatchDeleteTestCasesRequest, empty_pb2.Empty)
    def batch_delete_test_cases(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent = parse(request.parent, (), "agent").agent_name
        if not request.names:
            raise InvalidArgument(f"BatchDeleteTestCases on {agent}: names must list at least one test case")
        with self.backend.store.write(agent) as record:
            doomed = [_find(record, _test_id(agent, name)) for name in request.names]
            ids = {tc.id for tc in doomed}
            record.package.test_cases[:] = [tc for tc in record.package.test_cases if tc.id not in ids]
            results = record.extras.get(RESULTS_KEY, {}).get("results")
            if results:
                results[:] = [r for r in results if r.get("testCase") not in ids]
        return empty_pb2.Empty()

    def _message(self, record: AgentRecord, refs: CaseRefs, test_case: Resource, full: bool) -> Any:
        message = case_message(test_case.data, refs, full)
        if full:
            latest = _latest_result(record, test_case.id)
            if latest is not None:
                message.last_test_result.CopyFrom(result_message(latest, refs))
        return message

    # --- runs ---------------------------------------------------------------------------------------
    @rpc(tc_types.RunTestCaseRequest, operations_pb2.Operation)
    def run_test_case(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("testCases",), "test case")
        test_id = path.segments[0][1]
        environment = self._environment(path.agent_name, request.environment)
        with self.backend.store.read(path.agent_name) as record:
            _find(record, test_id)

        def work() -> Any:
            (result,) = run_and_store(self.backend, path.agent_name, [test_id], environment)
            return pb(tc_types.RunTestCaseResponse)(result=result)

        metadata = pb(tc_types.RunTestCaseMetadata)()
        return self.backend.start_operation(path.project, path.location, work, metadata)

    @rpc(tc_types.BatchRunTestCasesRequest, operations_pb2.Operation)
    def batch_run_test_cases(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, (), "agent")
        if not request.test_cases:
            raise InvalidArgument(
                f"BatchRunTestCases on {path.agent_name}: test_cases must name at least one test case"
            )
        environment = self._environment(path.agent_name, request.environment)
        ids = [_test_id(path.agent_name, name) for name in request.test_cases]
        with self.backend.store.read(path.agent_name) as record:
            for test_id in ids:
                _find(record, test_id)

        def work() -> Any:
            results = run_and_store(self.backend, path.agent_name, ids, environment)
            return pb(tc_types.BatchRunTestCasesResponse)(results=results)

        metadata = pb(tc_types.BatchRunTestCasesMetadata)()
        return self.backend.start_operation(path.project, path.location, work, metadata)

    def _environment(self, agent_name: str, environment: str) -> str:
        """Check an environment name now, so a bad one fails the request rather than the operation."""
        if not environment:
            return ""
        path = parse(environment, ("environments",), "environment")
        if path.agent_name != agent_name:
            raise InvalidArgument(f"environment {environment} does not belong to agent {agent_name}")
        conversations_of(self.backend).engine(agent_name, environment)
        return environment

    # --- results ------------------------------------------------------------------------------------
    @rpc(tc_types.ListTestCaseResultsRequest, tc_types.ListTestCaseResultsResponse)
    def list_test_case_results(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, ("testCases",), "test case")
        test_id = path.segments[0][1]
        selected = ResultFilter.parse(request.filter)
        with self.backend.store.read(path.agent_name) as record:
            if test_id != "-":
                _find(record, test_id)
            results = [r for r in _results(record) if test_id == "-" or r.get("testCase") == test_id]
            results = selected.apply(results)
            page, token = paginate(results, request.page_size, request.page_token)
            refs = CaseRefs(References(record))
            messages = [result_message(r, refs) for r in page]
        return pb(tc_types.ListTestCaseResultsResponse)(test_case_results=messages, next_page_token=token)

    @rpc(tc_types.GetTestCaseResultRequest, tc_types.TestCaseResult)
    def get_test_case_result(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("testCases", "results"), "test case result")
        with self.backend.store.read(path.agent_name) as record:
            _find(record, path.segments[0][1])
            for result in _results(record):
                if result.get("name") == request.name:
                    return result_message(result, CaseRefs(References(record)))
        raise NotFound(f"test case result {request.name} not found")

    # --- coverage -----------------------------------------------------------------------------------
    @rpc(tc_types.CalculateCoverageRequest, tc_types.CalculateCoverageResponse)
    def calculate_coverage(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent = parse(request.agent, (), "agent").agent_name
        kinds = {1: "INTENT", 2: "PAGE_TRANSITION", 3: "TRANSITION_ROUTE_GROUP"}
        kind = kinds.get(request.type_)
        if kind is None:
            raise InvalidArgument(
                f"CalculateCoverage on {agent}: type must be INTENT, PAGE_TRANSITION or TRANSITION_ROUTE_GROUP"
            )
        with self.backend.store.read(agent) as record:
            return coverage_message(record, kind)

    # --- import / export ----------------------------------------------------------------------------
    @rpc(tc_types.ImportTestCasesRequest, operations_pb2.Operation)
    def import_test_cases(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, (), "agent")
        source = request.WhichOneof("source")
        if source is None:
            raise InvalidArgument(f"ImportTestCases on {path.agent_name}: set gcs_uri or content")
        content = self.backend.gcs.read(request.gcs_uri) if source == "gcs_uri" else request.content
        incoming = read_test_cases(content)
        with self.backend.store.read(path.agent_name) as record:
            refs = CaseRefs(References(record))
            taken = {tc.display_name.strip() for tc in record.package.test_cases}
        errors, accepted = [], []
        for data in incoming:
            problem = _problem(data, taken)
            if problem is None:
                taken.add(str(data["displayName"]).strip())
                accepted.append(data)
            else:
                errors.append(_import_error(data, refs, problem))
        metadata = pb(tc_types.ImportTestCasesMetadata)(errors=errors)

        def work() -> Any:
            names = []
            with self.backend.store.write(path.agent_name) as record:
                existing = {tc.display_name.strip() for tc in record.package.test_cases}
                for data in accepted:
                    if str(data["displayName"]).strip() in existing:
                        continue
                    body = {k: v for k, v in data.items() if k not in ("name", "creationTime", "lastTestResult")}
                    body = {"name": new_id(), **body, "creationTime": creation_time_now()}
                    stem = _unique_stem(record, body["displayName"], None)
                    record.package.test_cases.append(Resource("testCases", stem, body))
                    names.append(f"{path.agent_name}/testCases/{body['name']}")
            return pb(tc_types.ImportTestCasesResponse)(names=names)

        return self.backend.start_operation(path.project, path.location, work, metadata)

    @rpc(tc_types.ExportTestCasesRequest, operations_pb2.Operation)
    def export_test_cases(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, (), "agent")
        if request.gcs_uri:
            self.backend.gcs.check(request.gcs_uri)
        data_format = request.data_format or _DataFormat.BLOB
        if data_format not in (_DataFormat.BLOB, _DataFormat.JSON):
            raise InvalidArgument(f"data_format {request.data_format} is not supported; use BLOB or JSON")
        wanted = export_names(request.filter)
        self.backend.store.get(path.agent_name)  # NOT_FOUND now, not in the operation

        def work() -> Any:
            with self.backend.store.read(path.agent_name) as record:
                cases = [
                    copy.deepcopy(tc.data)
                    for tc in record.package.test_cases
                    if wanted is None or f"{path.agent_name}/testCases/{tc.id}" in wanted
                ]
            content = write_test_cases(cases, data_format == _DataFormat.BLOB)
            response = pb(tc_types.ExportTestCasesResponse)()
            if request.gcs_uri:
                self.backend.gcs.write(request.gcs_uri, content)
                response.gcs_uri = request.gcs_uri
            else:
                response.content = content
            return response

        return self.backend.start_operation(path.project, path.location, work, pb(tc_types.ExportTestCasesMetadata)())


# --- helpers --------------------------------------------------------------------------------------------
_JSON_NAMES = {
    "tags": "tags",
    "display_name": "displayName",
    "notes": "notes",
    "test_config": "testConfig",
    "test_case_conversation_turns": "testCaseConversationTurns",
}


def _find(record: AgentRecord, test_id: str) -> Resource:
    for test_case in record.package.test_cases:
        if test_case.id == test_id:
            return test_case
    raise NotFound(f"test case {record.name}/testCases/{test_id} not found")


def _test_id(agent_name: str, name: str) -> str:
    path = parse_any(name, [("testCases",)], "test case")
    if path.agent_name != agent_name:
        raise InvalidArgument(f"test case {name} does not belong to agent {agent_name}")
    return path.segments[0][1]


def _update_paths(request: Any) -> list[str]:
    if not request.HasField("update_mask") or not request.update_mask.paths:
        raise InvalidArgument(
            f"UpdateTestCase {request.test_case.name}: update_mask is required "
            f"(updatable fields: {', '.join(sorted(_UPDATABLE))})"
        )
    fields = []
    for path in request.update_mask.paths:
        top = path.split(".")[0]
        if top not in _UPDATABLE:
            raise InvalidArgument(
                f"UpdateTestCase {request.test_case.name}: {path!r} cannot be updated "
                f"(updatable fields: {', '.join(sorted(_UPDATABLE))})"
            )
        fields.append(top)
    return list(dict.fromkeys(fields))


def _same_turns(stored: list[JSON], new: list[JSON], refs: CaseRefs) -> bool:
    """Whether ``new`` is what the stored turns look like after an API round trip (then keep them verbatim)."""
    if len(stored) != len(new):
        return False
    try:
        return all(turn_data(turn_message(s, refs), refs) == n for s, n in zip(stored, new, strict=True))
    except InvalidArgument:
        return False


def _check(record: AgentRecord, data: dict[str, JSON], exclude: Resource | None) -> None:
    """Refuse a test case the real service refuses: no/long display name, duplicate, bad tags, long notes."""
    display = str(data.get("displayName", ""))
    problem = _problem(data, {tc.display_name.strip() for tc in record.package.test_cases if tc is not exclude})
    if problem is not None:
        code, message = problem
        raise (AlreadyExists if code == grpc.StatusCode.ALREADY_EXISTS else InvalidArgument)(
            f"test case {display!r} in {record.name}: {message}"
        )


def _problem(data: dict[str, JSON], taken: Iterable[str]) -> tuple[grpc.StatusCode, str] | None:
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


def _import_error(data: dict[str, JSON], refs: CaseRefs, problem: tuple[grpc.StatusCode, str]) -> Any:
    code, message = problem
    error = pb(tc_types.TestCaseError)(status=status_pb2.Status(code=code.value[0], message=message))
    try:
        error.test_case.CopyFrom(case_message({**data, "name": ""}, refs, full=False))
    except InvalidArgument:
        error.test_case.display_name = str(data.get("displayName", ""))
    return error


def _unique_stem(record: AgentRecord, display: str, exclude: Resource | None) -> str:
    taken = {tc.stem.lower() for tc in record.package.test_cases if tc is not exclude}
    base = encode_stem(display)
    stem, n = base, 1
    while stem.lower() in taken:
        n += 1
        stem = f"{base}_{n}"
    return stem


def write_test_cases(cases: list[dict[str, JSON]], blob: bool) -> bytes:
    payload = json.dumps({"testCases": cases}, indent=2, ensure_ascii=False).encode()
    return BLOB_MAGIC + payload if blob else payload


def read_test_cases(content: bytes) -> list[dict[str, JSON]]:
    """Package-form test cases from import content (see the module docstring for the formats)."""
    if content.startswith(BLOB_MAGIC):
        content = content[len(BLOB_MAGIC) :]
    if content.startswith(_ZIP_MAGIC):
        return _from_zip(content)
    try:
        parsed = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as err:
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
    except (zipfile.BadZipFile, ValueError) as err:
        raise InvalidArgument(f"test case zip cannot be read: {err}") from err


SERVICES = [TestCasesService]
