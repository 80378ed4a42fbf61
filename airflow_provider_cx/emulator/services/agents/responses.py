"""google.cloud.dialogflow.cx.v3.Agents on the wire: agent CRUD, export/restore and validation.

Each RPC parses and checks its request, calls :mod:`.models` and builds the response protos.
Export and restore run as long-running operations; the restore content is only sniffed here
(BLOB header and checksum, zip magic) and parsed inside the operation. Generative settings are a
mixin (:mod:`..generative_settings`).
"""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import agent as agent_types
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2, json_format

from airflow_provider_cx.emulator import validation
from airflow_provider_cx.emulator.api_version import as_caller
from airflow_provider_cx.emulator.convert import (
    References,
    from_message,
    mask_paths,
    to_message,
)
from airflow_provider_cx.emulator.errors import InvalidArgument, NotFound
from airflow_provider_cx.emulator.gcs import deliver
from airflow_provider_cx.emulator.names import parse, parse_location, parse_singleton
from airflow_provider_cx.emulator.rpc import Service, paginate, pb, rpc
from airflow_provider_cx.emulator.services.agents import models
from airflow_provider_cx.emulator.services.generative_settings import GenerativeSettingsRpcs
from airflow_provider_cx.emulator.store import AgentRecord

Agent = pb(agent_types.Agent)
DataFormat = agent_types.ExportAgentRequest.DataFormat


def agent_message(record: AgentRecord) -> Any:
    """The API view of an agent: agent.json plus the identity the record keeps."""
    refs = References(record)
    data = {key: value for key, value in record.package.agent.items() if key != "displayName"}
    message = to_message(data, Agent, refs)
    message.name = record.name
    message.display_name = record.display_name
    return message


class AgentsService(GenerativeSettingsRpcs, Service):
    SERVICE = "google.cloud.dialogflow.cx.v3.Agents"

    # --- CRUD -----------------------------------------------------------------------------------
    @rpc(agent_types.ListAgentsRequest, agent_types.ListAgentsResponse)
    def list_agents(self, request: Any, context: grpc.ServicerContext) -> Any:
        project, location = parse_location(request.parent)
        store = self.backend.store
        with store.lock:
            agents = [agent_message(r) for r in store.list(project, location)]
        page, token = paginate(agents, request.page_size, request.page_token)
        return pb(agent_types.ListAgentsResponse)(agents=page, next_page_token=token)

    @rpc(agent_types.GetAgentRequest, agent_types.Agent)
    def get_agent(self, request: Any, context: grpc.ServicerContext) -> Any:
        name = parse(request.name, (), "agent").agent_name
        with self.backend.store.read(name) as record:
            return agent_message(record)

    @rpc(agent_types.CreateAgentRequest, agent_types.Agent)
    def create_agent(self, request: Any, context: grpc.ServicerContext) -> Any:
        project, location = parse_location(request.parent)
        agent = request.agent
        missing = [f for f in ("display_name", "default_language_code", "time_zone") if not getattr(agent, f)]
        if missing:
            raise InvalidArgument(f"cannot create agent: {', '.join(missing)} must be set")
        if agent.start_flow:
            raise InvalidArgument("cannot create agent: start_flow is set by the server (Default Start Flow)")
        store = self.backend.store
        with store.lock:
            settings = json_format.MessageToDict(as_caller(agent))  # v3beta1-only settings included
            record = models.create(store, project, location, agent.display_name, settings)
            return agent_message(record)

    @rpc(agent_types.UpdateAgentRequest, agent_types.Agent)
    def update_agent(self, request: Any, context: grpc.ServicerContext) -> Any:
        name = parse(request.agent.name, (), "agent").agent_name
        paths = mask_paths(request.update_mask if request.HasField("update_mask") else None, Agent.DESCRIPTOR, "Agent")
        store = self.backend.store
        with store.write(name) as record:
            models.update(store, record, from_message(request.agent, References(record)), paths)
            return agent_message(record)

    @rpc(agent_types.DeleteAgentRequest, empty_pb2.Empty)
    def delete_agent(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.backend.store.delete(parse(request.name, (), "agent").agent_name)
        return empty_pb2.Empty()

    # --- export / restore -------------------------------------------------------------------------
    @rpc(agent_types.ExportAgentRequest, operations_pb2.Operation)
    def export_agent(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, (), "agent")
        if request.HasField("git_destination"):
            raise InvalidArgument("git_destination is not supported by the emulator; export to agent_uri or content")
        if request.agent_uri:
            self.backend.gcs.check(request.agent_uri)
        data_format = request.data_format or DataFormat.BLOB
        if data_format not in (DataFormat.BLOB, DataFormat.JSON_PACKAGE):
            raise InvalidArgument(f"data_format {request.data_format} is not supported")
        store = self.backend.store
        with store.read(path.agent_name) as record:
            if request.environment:
                self.backend.resolve_environment(record, request.environment)

        def work() -> Any:
            with store.read(path.agent_name) as record:
                content = models.export_content(
                    self.backend, record, request.environment, blob=data_format == DataFormat.BLOB
                )
            response = pb(agent_types.ExportAgentResponse)()
            return deliver(self.backend.gcs, content, request.agent_uri, response, "agent_uri", "agent_content")

        return self.backend.start_operation(path.project, path.location, work, key=path.agent_name)

    @rpc(agent_types.RestoreAgentRequest, operations_pb2.Operation)
    def restore_agent(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Check the request and the content's kind now; parse and store inside the operation.

        Parsing a package costs time linear in its size; done in the handler it could outlive the
        client's deadline and still change the agent afterwards. In the operation, a client that
        gave up can still ask GetOperation how the restore ended.
        """
        path = parse(request.name, (), "agent")
        source = request.WhichOneof("agent")
        if source == "git_source":
            raise InvalidArgument("git_source is not supported by the emulator; restore from agent_uri or content")
        if source is None:
            raise InvalidArgument(f"restore of {path.agent_name}: set agent_uri or agent_content")
        self.backend.store.get(path.agent_name)
        gcs = self.backend.gcs
        uri = request.agent_uri
        if source == "agent_uri":
            if not gcs.exists(uri):  # checked now, so a missing object fails the call, not the operation
                raise NotFound(f"{uri} does not exist")
            content = None
        else:
            content = request.agent_content
            # Foreign, corrupt or KEEP-refused content fails the call; the parse waits for the operation.
            models.check_restore_option(models.agent_content_payload(content), request.restore_option)
        option = request.restore_option

        def work() -> None:
            raw = gcs.read(uri) if content is None else content
            package = models.apply_restore_option(models.read_agent_content(raw), option)
            with self.backend.store.write(path.agent_name) as record:
                models.restore_package(record, package)

        return self.backend.start_operation(path.project, path.location, work, key=path.agent_name)

    # --- validation -----------------------------------------------------------------------------
    @rpc(agent_types.ValidateAgentRequest, agent_types.AgentValidationResult)
    def validate_agent(self, request: Any, context: grpc.ServicerContext) -> Any:
        name = parse(request.name, (), "agent").agent_name
        with self.backend.store.write(name) as record:
            return validation.validate_agent(record, request.language_code)

    @rpc(agent_types.GetAgentValidationResultRequest, agent_types.AgentValidationResult)
    def get_agent_validation_result(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse_singleton(request.name, (), "validationResult", "agent validation result")
        with self.backend.store.read(path.agent_name) as record:
            return validation.stored_agent_result(record)
