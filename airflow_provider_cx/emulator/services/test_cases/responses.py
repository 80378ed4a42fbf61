"""google.cloud.dialogflow.cx.v3.TestCases on the wire: requests in, protos out.

Each RPC parses and checks its request, calls :mod:`.models` (which owns the test cases, runs and
results) and turns what it returns into the response protos (:mod:`.messages`, :mod:`.coverage`).
:func:`run_test_cases_for_environment` serves the environments service (RunContinuousTest,
DeployFlow's pre-deployment run) and returns TestCaseResult protos.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import grpc
from google.cloud.dialogflowcx_v3.types import test_case as tc_types
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2
from google.rpc import status_pb2

from airflow_provider_cx.emulator.conversations import conversations_of
from airflow_provider_cx.emulator.convert import References
from airflow_provider_cx.emulator.errors import InvalidArgument, NotFound
from airflow_provider_cx.emulator.gcs import deliver
from airflow_provider_cx.emulator.names import parse
from airflow_provider_cx.emulator.operations import Finished
from airflow_provider_cx.emulator.rpc import Service, paginate, pb, rpc
from airflow_provider_cx.emulator.services.test_cases import models
from airflow_provider_cx.emulator.services.test_cases.coverage import coverage_message
from airflow_provider_cx.emulator.services.test_cases.filters import ResultFilter, export_names
from airflow_provider_cx.emulator.services.test_cases.messages import (
    CaseRefs,
    case_data,
    case_message,
    creation_time_now,
    result_message,
    turn_data,
    turn_message,
)
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import Resource

if TYPE_CHECKING:
    from airflow_provider_cx.emulator.backend import Backend

JSON = Any
_View = tc_types.ListTestCasesRequest.TestCaseView
_DataFormat = tc_types.ExportTestCasesRequest.DataFormat
_UPDATABLE = {"tags", "display_name", "notes", "test_config", "test_case_conversation_turns"}


def run_test_cases_for_environment(backend: Backend, agent_name: str, environment_name: str) -> list[Any]:
    """Run every test case of the agent in an environment (``""`` = draft); the stored TestCaseResults."""
    ids = models.all_test_case_ids(backend, agent_name)
    return result_messages(backend, agent_name, models.run_and_store(backend, agent_name, ids, environment_name))


def result_messages(backend: Backend, agent_name: str, results: list[dict[str, JSON]]) -> list[Any]:
    with backend.store.read(agent_name) as record:
        refs = CaseRefs(References(record))
        return [result_message(r, refs) for r in results]


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
            test_case = models.find(record, path.segments[0][1])
            return self._message(record, CaseRefs(References(record)), test_case, True)

    @rpc(tc_types.CreateTestCaseRequest, tc_types.TestCase)
    def create_test_case(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent = parse(request.parent, (), "agent").agent_name
        with self.backend.store.write(agent) as record:
            refs = CaseRefs(References(record))
            test_case = models.add(record, case_data(request.test_case, refs), creation_time_now())
            return self._message(record, refs, test_case, True)

    @rpc(tc_types.UpdateTestCaseRequest, tc_types.TestCase)
    def update_test_case(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.test_case.name, ("testCases",), "test case")
        paths = _update_paths(request)
        with self.backend.store.write(path.agent_name) as record:
            test_case = models.find(record, path.segments[0][1])
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
            models.replace(record, test_case, merged)
            return self._message(record, refs, test_case, True)

    @rpc(tc_types.BatchDeleteTestCasesRequest, empty_pb2.Empty)
    def batch_delete_test_cases(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent = parse(request.parent, (), "agent").agent_name
        if not request.names:
            raise InvalidArgument(f"BatchDeleteTestCases on {agent}: names must list at least one test case")
        with self.backend.store.write(agent) as record:
            models.delete(record, request.names)
        return empty_pb2.Empty()

    def _message(self, record: AgentRecord, refs: CaseRefs, test_case: Resource, full: bool) -> Any:
        """The TestCase proto; the BASIC view (``full=False``) leaves out conversation turns, only them.

        ``last_test_result`` is in both views (clients list results tables from BASIC); in BASIC
        it comes without its conversation turns as well.
        """
        message = case_message(test_case.data, refs, full)
        latest = models.latest_result(record, test_case.id)
        if latest is not None:
            if not full:
                latest = {k: v for k, v in latest.items() if k != "conversationTurns"}
            message.last_test_result.CopyFrom(result_message(latest, refs))
        return message

    # --- runs ---------------------------------------------------------------------------------------
    @rpc(tc_types.RunTestCaseRequest, operations_pb2.Operation)
    def run_test_case(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("testCases",), "test case")
        test_id = path.segments[0][1]
        environment = self._environment(path.agent_name, request.environment)
        with self.backend.store.read(path.agent_name) as record:
            models.find(record, test_id)

        def work() -> Any:
            stored = models.run_and_store(self.backend, path.agent_name, [test_id], environment)
            (result,) = result_messages(self.backend, path.agent_name, stored)
            return pb(tc_types.RunTestCaseResponse)(result=result)

        metadata = pb(tc_types.RunTestCaseMetadata)()
        return self.backend.start_operation(path.project, path.location, work, metadata, key=path.agent_name)

    @rpc(tc_types.BatchRunTestCasesRequest, operations_pb2.Operation)
    def batch_run_test_cases(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, (), "agent")
        if not request.test_cases:
            raise InvalidArgument(
                f"BatchRunTestCases on {path.agent_name}: test_cases must name at least one test case"
            )
        environment = self._environment(path.agent_name, request.environment)
        ids = [models.test_case_id(path.agent_name, name) for name in request.test_cases]
        with self.backend.store.read(path.agent_name) as record:
            for test_id in ids:
                models.find(record, test_id)

        def work() -> Any:
            stored = models.run_and_store(self.backend, path.agent_name, ids, environment)
            results = result_messages(self.backend, path.agent_name, stored)
            return pb(tc_types.BatchRunTestCasesResponse)(results=results)

        metadata = pb(tc_types.BatchRunTestCasesMetadata)()
        return self.backend.start_operation(path.project, path.location, work, metadata, key=path.agent_name)

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
                models.find(record, test_id)
            results = [r for r in models.results(record) if test_id == "-" or r.get("testCase") == test_id]
            results = selected.apply(results)
            page, token = paginate(results, request.page_size, request.page_token)
            refs = CaseRefs(References(record))
            messages = [result_message(r, refs) for r in page]
        return pb(tc_types.ListTestCaseResultsResponse)(test_case_results=messages, next_page_token=token)

    @rpc(tc_types.GetTestCaseResultRequest, tc_types.TestCaseResult)
    def get_test_case_result(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("testCases", "results"), "test case result")
        with self.backend.store.read(path.agent_name) as record:
            models.find(record, path.segments[0][1])
            return result_message(models.find_result(record, request.name), CaseRefs(References(record)))

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
        self.backend.store.get(path.agent_name)
        gcs, uri = self.backend.gcs, request.gcs_uri
        if source == "gcs_uri":
            if not gcs.exists(uri):  # checked now, so a missing object fails the call, not the operation
                raise NotFound(f"{uri} does not exist")
            content = None
        else:
            content = request.content
            models.check_test_case_content(content)

        def work() -> Any:
            # Reading and parsing happen here, in the operation, not in the RPC handler.
            incoming = models.read_test_cases(gcs.read(uri) if content is None else content)
            with self.backend.store.write(path.agent_name) as record:
                refs = CaseRefs(References(record))
                accepted, refused = models.sort_imports(record, incoming)
                errors = [_import_error(data, refs, problem) for data, problem in refused]
                names = models.import_accepted(record, accepted, creation_time_now())
            response = pb(tc_types.ImportTestCasesResponse)(names=names)
            return Finished(response, pb(tc_types.ImportTestCasesMetadata)(errors=errors))

        metadata = pb(tc_types.ImportTestCasesMetadata)()
        return self.backend.start_operation(path.project, path.location, work, metadata, key=path.agent_name)

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
                cases = models.export_selection(record, wanted)
            content = models.write_test_cases(cases, data_format == _DataFormat.BLOB)
            response = pb(tc_types.ExportTestCasesResponse)()
            return deliver(self.backend.gcs, content, request.gcs_uri, response, "gcs_uri", "content")

        return self.backend.start_operation(
            path.project, path.location, work, pb(tc_types.ExportTestCasesMetadata)(), key=path.agent_name
        )


# --- helpers --------------------------------------------------------------------------------------------
_JSON_NAMES = {
    "tags": "tags",
    "display_name": "displayName",
    "notes": "notes",
    "test_config": "testConfig",
    "test_case_conversation_turns": "testCaseConversationTurns",
}


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


def _import_error(data: dict[str, JSON], refs: CaseRefs, problem: tuple[grpc.StatusCode, str]) -> Any:
    code, message = problem
    error = pb(tc_types.TestCaseError)(status=status_pb2.Status(code=code.value[0], message=message))
    try:
        error.test_case.CopyFrom(case_message({**data, "name": ""}, refs, full=False))
    except InvalidArgument:
        error.test_case.display_name = str(data.get("displayName", ""))
    return error
