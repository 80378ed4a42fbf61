"""google.cloud.dialogflow.cx.v3.Environments on the wire: requests in, protos out.

Each RPC parses its request, checks it against the model now (so a bad request fails at once, as
on the real service), and runs the change as a long-running operation that calls :mod:`.models`.
"""

from __future__ import annotations

import uuid
from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import environment as env_types
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2, field_mask_pb2, json_format

from airflow_provider_cx.emulator import snapshots
from airflow_provider_cx.emulator.backend import Backend
from airflow_provider_cx.emulator.errors import InvalidArgument
from airflow_provider_cx.emulator.names import parse
from airflow_provider_cx.emulator.rpc import Service, paginate, pb, rpc
from airflow_provider_cx.emulator.services.environments import models
from airflow_provider_cx.emulator.services.environments.models import (
    ContinuousTestResult,
    Environment,
    EnvironmentList,
    environment_message,
    environment_path,
    environments,
)
from airflow_provider_cx.emulator.store import AgentRecord

JSON = Any
_OUTPUT_ONLY = {"name", "update_time"}


def newest_first_page(
    record: AgentRecord, env_id: str, key: EnvironmentList, page_size: int, page_token: str
) -> tuple[list[JSON], str]:
    """One page of an environment's stored ``key`` list, newest first."""
    return paginate(models.newest_first(record, env_id, key), page_size, page_token)


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
            models.validate(record, wanted, None)
        env_id = str(uuid.uuid4())

        def work() -> Any:
            with store.write(path.agent_name) as record:
                return models.create(record, env_id, wanted)

        return self.backend.start_operation(path.project, path.location, work, key=path.agent_name)

    @rpc(env_types.UpdateEnvironmentRequest, operations_pb2.Operation)
    def update_environment(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent, env_id = environment_path(request.environment.name)
        path = parse(agent, (), "agent")
        mask = _update_mask(request)
        store = self.backend.store
        with store.read(agent) as record:
            models.updated(record, env_id, request.environment, mask)

        def work() -> Any:
            with store.write(agent) as record:
                return models.commit(record, env_id, models.updated(record, env_id, request.environment, mask))

        return self.backend.start_operation(path.project, path.location, work, key=agent)

    @rpc(env_types.DeleteEnvironmentRequest, empty_pb2.Empty)
    def delete_environment(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent, env_id = environment_path(request.name)
        with self.backend.store.write(agent) as record:
            models.delete(record, env_id)
        return empty_pb2.Empty()

    # --- deployments and continuous tests ------------------------------------------------------------
    @rpc(env_types.DeployFlowRequest, operations_pb2.Operation)
    def deploy_flow(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent, env_id = environment_path(request.environment)
        path = parse(agent, (), "agent")
        version = snapshots.version_path(request.flow_version)
        if version.agent_name != agent:
            raise InvalidArgument(f"flow version {request.flow_version} belongs to another agent than {agent}")
        with self.backend.store.read(agent) as record:
            models.deployment_candidate(record, env_id, request.flow_version)

        def work() -> Any:
            environment, deployment = models.deploy(self.backend, agent, env_id, request.flow_version)
            return pb(env_types.DeployFlowResponse)(environment=environment, deployment=deployment.name)

        metadata = pb(env_types.DeployFlowMetadata)()
        return self.backend.start_operation(path.project, path.location, work, metadata=metadata, key=agent)

    @rpc(env_types.RunContinuousTestRequest, operations_pb2.Operation)
    def run_continuous_test(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent, env_id = environment_path(request.environment)
        path = parse(agent, (), "agent")
        models.continuous_test_cases(self.backend, agent, env_id, request.environment)

        def work() -> Any:
            result = models.run_continuous_test(self.backend, agent, env_id, request.environment)
            return pb(env_types.RunContinuousTestResponse)(continuous_test_result=result)

        metadata = pb(env_types.RunContinuousTestMetadata)()
        return self.backend.start_operation(path.project, path.location, work, metadata=metadata, key=agent)


def _update_mask(request: Any) -> field_mask_pb2.FieldMask:
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
