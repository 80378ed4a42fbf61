"""google.cloud.dialogflow.cx.v3.Environments: environments, their history, deployments and continuous tests.

An environment pins flows to versions (``version_configs``); flows it does not pin are served from
the draft. Every flow reachable from the start flow must be pinned, as the API documents. Creates,
updates and deployments are long-running; each finished one appends the environment as it then was
to its history (LookupEnvironmentHistory, newest first). DeployFlow records a Deployment (read by
the Deployments service); when the environment's ``test_cases_config`` enables pre-deployment runs,
its test cases run against the environment with the new version first, and a failure leaves the
environment as it was and the deployment FAILED. RunContinuousTest runs the listed test cases on
demand (the daily run of ``enable_continuous_run`` is not emulated).

State per agent: ``extras["environments"][<id>]`` = ``{"created", "environment", "history",
"deployments", "continuousTestResults"}`` (protos as JSON, oldest first).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

import grpc
from google.cloud.dialogflowcx_v3.types import deployment as deployment_types
from google.cloud.dialogflowcx_v3.types import environment as env_types
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2, field_mask_pb2, json_format

from airflow_provider_cx.emulator import snapshots
from airflow_provider_cx.emulator.backend import Backend
from airflow_provider_cx.emulator.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from airflow_provider_cx.emulator.names import parse
from airflow_provider_cx.emulator.rpc import Service, paginate, pb, rpc
from airflow_provider_cx.emulator.services.test_cases import models as test_case_models
from airflow_provider_cx.emulator.services.versions import check_text, now
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package.lint.config import LintConfig
from airflow_provider_cx.package.lint.context import LintContext

Environment = pb(env_types.Environment)
ContinuousTestResult = pb(env_types.ContinuousTestResult)
JSON = Any
#: The lists each environment keeps, oldest first.
EnvironmentList = Literal["history", "deployments", "continuousTestResults"]
_OUTPUT_ONLY = {"name", "update_time"}


# --- stored state -----------------------------------------------------------------------------------
def environments(record: AgentRecord) -> dict[str, JSON]:
    return record.extra(snapshots.ENVIRONMENTS_KEY)


def environment_name(record: AgentRecord, env_id: str) -> str:
    return f"{record.name}/environments/{env_id}"


def environment_path(name: str) -> tuple[str, str]:
    """(agent name, environment id) of an environment name; INVALID_ARGUMENT if it is not one."""
    path = parse(name, ("environments",), "environment")
    return path.agent_name, path.segments[0][1]


def entry_of(record: AgentRecord, env_id: str) -> dict[str, JSON]:
    entry: dict[str, JSON] | None = environments(record).get(env_id)
    if entry is None:
        raise NotFound(f"environment {environment_name(record, env_id)} not found")
    return entry


def newest_first_page(
    record: AgentRecord, env_id: str, key: EnvironmentList, page_size: int, page_token: str
) -> tuple[list[JSON], str]:
    """One page of an environment's stored ``key`` list, newest first (it is stored oldest first)."""
    return paginate(entry_of(record, env_id)[key][::-1], page_size, page_token)


def environment_message(record: AgentRecord, env_id: str, data: dict[str, JSON] | None = None) -> Any:
    message = Environment()
    json_format.ParseDict(data if data is not None else entry_of(record, env_id)["environment"], message)
    message.name = environment_name(record, env_id)
    return message


def _as_json(message: Any) -> dict[str, JSON]:
    data = json_format.MessageToDict(message)
    data.pop("name", None)
    return data


def _commit(record: AgentRecord, env_id: str, message: Any) -> Any:
    """Store ``message`` as the environment's state, stamped now, and append it to the history."""
    message.update_time.CopyFrom(now())
    message.name = environment_name(record, env_id)
    entry = environments(record).setdefault(
        env_id, {"created": time.time(), "history": [], "deployments": [], "continuousTestResults": []}
    )
    entry["environment"] = _as_json(message)
    entry["history"].append(entry["environment"])
    return message


# --- validation ---------------------------------------------------------------------------------------
def validate(record: AgentRecord, message: Any, env_id: str | None) -> None:
    """Refuse an environment the API would refuse; names the offending field and resource."""
    what = f"environment {environment_name(record, env_id)}" if env_id else f"new environment of {record.name}"
    check_text(what, message.display_name, message.description)
    for other_id, other in environments(record).items():
        if other_id != env_id and other["environment"].get("displayName", "").strip() == message.display_name.strip():
            raise AlreadyExists(f"an environment named {message.display_name!r} already exists in {record.name}")
    _check_version_configs(record, message, what)
    _check_test_cases(record, message, what)
    _check_webhooks(record, message, what)


def _check_version_configs(record: AgentRecord, message: Any, what: str) -> None:
    pinned: dict[str, str] = {}
    for config in message.version_configs:
        name = config.version
        if "/playbooks/" in name or "/tools/" in name:
            raise InvalidArgument(f"{what}: version {name!r} is a playbook or tool version; the emulator pins flows")
        path = snapshots.version_path(name)
        if path.agent_name != record.name:
            raise InvalidArgument(f"{what}: version {name} belongs to another agent than {record.name}")
        flow_id, version_id = path.segments[0][1], path.segments[1][1]
        if flow_id in pinned:
            raise InvalidArgument(
                f"{what}: version_configs name two versions of flow {record.name}/flows/{flow_id} "
                f"({pinned[flow_id]} and {name}); give one version per flow"
            )
        snapshots.version_snapshot(record, flow_id, version_id)
        pinned[flow_id] = name
    missing = [flow for flow in _reachable_flows(record) if flow.id not in pinned]
    if missing:
        names = ", ".join(f"{f.display_name!r} ({record.name}/flows/{f.id})" for f in missing)
        raise InvalidArgument(
            f"{what}: version_configs must include a version of every flow reachable from the start flow; "
            f"missing {names}"
        )


def _reachable_flows(record: AgentRecord) -> list[Any]:
    reachable = LintContext(record.package, LintConfig()).reachable_flows
    if reachable is None:
        return []
    return [flow for flow in record.package.flows if id(flow) in reachable]


def _check_test_cases(record: AgentRecord, message: Any, what: str) -> None:
    known = {case.id for case in record.package.test_cases}
    for name in message.test_cases_config.test_cases:
        path = parse(name, ("testCases",), "test case")
        if path.agent_name != record.name:
            raise InvalidArgument(f"{what}: test case {name} belongs to another agent than {record.name}")
        if path.segments[0][1] not in known:
            raise NotFound(f"{what}: test case {name} not found")


def _check_webhooks(record: AgentRecord, message: Any, what: str) -> None:
    known = {hook.id for hook in record.package.webhooks}
    for hook in message.webhook_config.webhook_overrides:
        path = parse(hook.name, ("webhooks",), "webhook")
        if path.agent_name != record.name or path.segments[0][1] not in known:
            raise NotFound(f"{what}: webhook override names {hook.name!r}, which is not a webhook of {record.name}")


# --- test runs (the TestCases service runs them) -------------------------------------------------------
def run_test_cases(backend: Backend, agent: str, environment: str, test_cases: list[str]) -> list[tuple[str, bool]]:
    """(test case result name, passed) for each listed test case run in ``environment``; results are stored."""
    ids = [parse(name, ("testCases",), "test case").segments[0][1] for name in test_cases]
    results = test_case_models.run_and_store(backend, agent, ids, environment)
    return [(str(r["name"]), r.get("testResult") == "PASSED") for r in results]


# --- the service ------------------------------------------------------------------------------------------
class EnvironmentsService(Service):
    SERVICE = "google.cloud.dialogflow.cx.v3.Environments"

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        snapshots.register(backend)

    # --- reads ----------------------------------------------------------------------------------------
    @rpc(env_types.ListEnvironmentsRequest, env_types.ListEnvironmentsResponse)
    def list_environments(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent = parse(request.parent, (), "agent").agent_name
        with self.backend.store.read(agent) as record:
            envs = environments(record)
            ordered = sorted(envs, key=lambda env_id: (envs[env_id]["created"], env_id))
            page, token = paginate(ordered, request.page_size, request.page_token)
            messages = [environment_message(record, env_id) for env_id in page]
        return pb(env_types.ListEnvironmentsResponse)(environments=messages, next_page_token=token)

    @rpc(env_types.GetEnvironmentRequest, env_types.Environment)
    def get_environment(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent, env_id = environment_path(request.name)
        with self.backend.store.read(agent) as record:
            return environment_message(record, env_id)

    @rpc(env_types.LookupEnvironmentHistoryRequest, env_types.LookupEnvironmentHistoryResponse)
    def lookup_environment_history(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent, env_id = environment_path(request.name)
        with self.backend.store.read(agent) as record:
            page, token = newest_first_page(record, env_id, "history", request.page_size, request.page_token)
            messages = [environment_message(record, env_id, data) for data in page]
        return pb(env_types.LookupEnvironmentHistoryResponse)(environments=messages, next_page_token=token)

    @rpc(env_types.ListContinuousTestResultsRequest, env_types.ListContinuousTestResultsResponse)
    def list_continuous_test_results(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent, env_id = environment_path(request.parent)
        with self.backend.store.read(agent) as record:
            page, token = newest_first_page(
                record, env_id, "continuousTestResults", request.page_size, request.page_token
            )
        messages = [json_format.ParseDict(data, ContinuousTestResult()) for data in page]
        return pb(env_types.ListContinuousTestResultsResponse)(continuous_test_results=messages, next_page_token=token)

    # --- create / update / delete ---------------------------------------------------------------------
    @rpc(env_types.CreateEnvironmentRequest, operations_pb2.Operation)
    def create_environment(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, (), "agent")
        wanted = Environment()
        wanted.CopyFrom(request.environment)
        for field in _OUTPUT_ONLY:
            wanted.ClearField(field)
        store = self.backend.store
        with store.read(path.agent_name) as record:
            validate(record, wanted, None)
        env_id = str(uuid.uuid4())

        def work() -> Any:
            with store.write(path.agent_name) as record:
                validate(record, wanted, None)
                return _commit(record, env_id, wanted)

        return self.backend.start_operation(path.project, path.location, work, key=path.agent_name)

    @rpc(env_types.UpdateEnvironmentRequest, operations_pb2.Operation)
    def update_environment(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent, env_id = environment_path(request.environment.name)
        project, location = agent.split("/")[1], agent.split("/")[3]
        mask = _update_mask(request)
        store = self.backend.store

        def merged(record: AgentRecord) -> Any:
            message = environment_message(record, env_id)
            mask.MergeMessage(request.environment, message, replace_message_field=True, replace_repeated_field=True)
            validate(record, message, env_id)
            return message

        with store.read(agent) as record:
            merged(record)

        def work() -> Any:
            with store.write(agent) as record:
                return _commit(record, env_id, merged(record))

        return self.backend.start_operation(project, location, work, key=agent)

    @rpc(env_types.DeleteEnvironmentRequest, empty_pb2.Empty)
    def delete_environment(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent, env_id = environment_path(request.name)
        with self.backend.store.write(agent) as record:
            entry_of(record, env_id)
            del environments(record)[env_id]
        return empty_pb2.Empty()

    # --- deployments and continuous tests ------------------------------------------------------------
    @rpc(env_types.DeployFlowRequest, operations_pb2.Operation)
    def deploy_flow(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent, env_id = environment_path(request.environment)
        project, location = agent.split("/")[1], agent.split("/")[3]
        version = snapshots.version_path(request.flow_version)
        flow_id, version_id = version.segments[0][1], version.segments[1][1]
        if version.agent_name != agent:
            raise InvalidArgument(f"flow version {request.flow_version} belongs to another agent than {agent}")
        store = self.backend.store

        def candidate(record: AgentRecord) -> Any:
            message = environment_message(record, env_id)
            snapshots.version_snapshot(record, flow_id, version_id)
            others = [c for c in message.version_configs if snapshots.version_path(c.version).segments[0][1] != flow_id]
            message.ClearField("version_configs")
            message.version_configs.extend(others)
            message.version_configs.add(version=request.flow_version)
            validate(record, message, env_id)
            return message

        with store.read(agent) as record:
            candidate(record)

        def work() -> Any:
            return self._deploy(agent, env_id, request.flow_version, candidate)

        metadata = pb(env_types.DeployFlowMetadata)()
        return self.backend.start_operation(project, location, work, metadata=metadata, key=agent)

    def _deploy(self, agent: str, env_id: str, flow_version: str, candidate: Callable[[AgentRecord], Any]) -> Any:
        store = self.backend.store
        started = now()
        with store.write(agent) as record:
            entry = entry_of(record, env_id)
            message = candidate(record)
            config = message.test_cases_config
            results: list[tuple[str, bool]] = []
            if config.enable_predeployment_run and config.test_cases:
                with snapshots.candidate_environment(record, env_id, _as_json(message)):
                    results = run_test_cases(
                        self.backend, agent, environment_name(record, env_id), list(config.test_cases)
                    )
            succeeded = all(passed for _, passed in results)
            message = _commit(record, env_id, message) if succeeded else environment_message(record, env_id)
            deployment = pb(deployment_types.Deployment)(
                name=f"{environment_name(record, env_id)}/deployments/{uuid.uuid4()}",
                flow_version=flow_version,
                state="SUCCEEDED" if succeeded else "FAILED",
                start_time=started,
                end_time=now(),
            )
            deployment.result.deployment_test_results.extend(name for name, _ in results)
            entry["deployments"].append(json_format.MessageToDict(deployment))
        return pb(env_types.DeployFlowResponse)(environment=message, deployment=deployment.name)

    @rpc(env_types.RunContinuousTestRequest, operations_pb2.Operation)
    def run_continuous_test(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent, env_id = environment_path(request.environment)
        project, location = agent.split("/")[1], agent.split("/")[3]
        store = self.backend.store

        def listed() -> list[str]:
            with store.read(agent) as record:
                test_cases = list(environment_message(record, env_id).test_cases_config.test_cases)
            if not test_cases:
                raise FailedPrecondition(
                    f"environment {request.environment} lists no test cases in test_cases_config; nothing to run"
                )
            return test_cases

        listed()

        def work() -> Any:
            run_time = now()
            results = run_test_cases(self.backend, agent, request.environment, listed())
            result = ContinuousTestResult(
                name=f"{request.environment}/continuousTestResults/{uuid.uuid4()}",
                result="PASSED" if all(passed for _, passed in results) else "FAILED",
                test_case_results=[name for name, _ in results],
                run_time=run_time,
            )
            with store.write(agent, content=False) as record:
                entry_of(record, env_id)["continuousTestResults"].append(json_format.MessageToDict(result))
            return pb(env_types.RunContinuousTestResponse)(continuous_test_result=result)

        metadata = pb(env_types.RunContinuousTestMetadata)()
        return self.backend.start_operation(project, location, work, metadata=metadata, key=agent)


def _update_mask(request: Any) -> Any:
    paths = list(request.update_mask.paths)
    if not paths:
        raise InvalidArgument("update_mask is required to update an environment (e.g. paths: version_configs)")
    mask = field_mask_pb2.FieldMask(paths=paths)
    if not mask.IsValidForDescriptor(Environment.DESCRIPTOR):
        raise InvalidArgument(f"update_mask {', '.join(paths)} names a field that is not a field of Environment")
    output_only = sorted({p.split(".")[0] for p in paths} & _OUTPUT_ONLY)
    if output_only:
        raise InvalidArgument(f"update_mask names output-only field(s) {', '.join(output_only)}")
    return mask


SERVICES = [EnvironmentsService]
