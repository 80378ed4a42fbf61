"""google.cloud.dialogflow.cx.v3.Agents: agent CRUD, export/restore and validation."""

from __future__ import annotations

import copy
from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import agent as agent_types
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2, json_format

from airflow_provider_cx.emulator import validation
from airflow_provider_cx.emulator.blob import blob_payload, encode_blob, is_blob
from airflow_provider_cx.emulator.convert import (
    References,
    durations_to_proto,
    from_message,
    mask_paths,
    merge_update,
    normalise,
    to_message,
)
from airflow_provider_cx.emulator.defaults import new_agent_package
from airflow_provider_cx.emulator.errors import AlreadyExists, InvalidArgument, NotFound
from airflow_provider_cx.emulator.names import parse, parse_location, parse_singleton
from airflow_provider_cx.emulator.rpc import Service, paginate, pb, rpc
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import AgentPackage, read_package, write_zip

Agent = pb(agent_types.Agent)
DataFormat = agent_types.ExportAgentRequest.DataFormat
RestoreOption = agent_types.RestoreAgentRequest.RestoreOption
_ZIP_MAGIC = b"PK\x03\x04"


def agent_message(record: AgentRecord) -> Any:
    """The API view of an agent: agent.json plus the identity the record keeps."""
    refs = References(record)
    data = {key: value for key, value in record.package.agent.items() if key != "displayName"}
    message = to_message(data, Agent, refs)
    message.name = record.name
    message.display_name = record.display_name
    return message


class AgentsService(Service):
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
        data = json_format.MessageToDict(agent)
        for key in ("name", "displayName", "startFlow"):
            data.pop(key, None)
        store = self.backend.store
        with store.lock:
            if any(r.display_name == agent.display_name for r in store.list(project, location)):
                raise AlreadyExists(
                    f"an agent named {agent.display_name!r} already exists in projects/{project}/locations/{location}"
                )
            record = store.create(project, location, agent.display_name, new_agent_package(data))
            return agent_message(record)

    @rpc(agent_types.UpdateAgentRequest, agent_types.Agent)
    def update_agent(self, request: Any, context: grpc.ServicerContext) -> Any:
        name = parse(request.agent.name, (), "agent").agent_name
        paths = mask_paths(request.update_mask if request.HasField("update_mask") else None, Agent.DESCRIPTOR, "Agent")
        store = self.backend.store
        with store.write(name) as record:
            refs = References(record)
            raw = {**record.package.agent, "displayName": record.display_name}
            new = from_message(request.agent, refs)
            norm = normalise({k: v for k, v in raw.items()}, Agent, refs, None)
            norm["displayName"] = record.display_name
            merged = merge_update(raw, norm, new, Agent.DESCRIPTOR, paths)
            display_name = merged.get("displayName") or ""
            if not display_name.strip():
                raise InvalidArgument(f"agent {name}: display_name must not be empty")
            if display_name != record.display_name and any(
                r.display_name == display_name for r in store.list(record.project, record.location) if r is not record
            ):
                raise AlreadyExists(f"an agent named {display_name!r} already exists")
            if "displayName" not in record.package.agent:
                merged.pop("displayName", None)
            record.package.agent = merged
            record.display_name = display_name
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
            self.backend.gcs.path_of(request.agent_uri)
        data_format = request.data_format or DataFormat.BLOB
        if data_format not in (DataFormat.BLOB, DataFormat.JSON_PACKAGE):
            raise InvalidArgument(f"data_format {request.data_format} is not supported")
        store = self.backend.store
        with store.read(path.agent_name) as record:
            if request.environment:
                self.backend.resolve_environment(record, request.environment)

        def work() -> Any:
            with store.read(path.agent_name) as record:
                package = (
                    self.backend.resolve_environment(record, request.environment)
                    if request.environment
                    else record.package
                )
                content = encode_blob(package) if data_format == DataFormat.BLOB else write_zip(package)
            response = pb(agent_types.ExportAgentResponse)()
            if request.agent_uri:
                self.backend.gcs.write(request.agent_uri, content)
                response.agent_uri = request.agent_uri
            else:
                response.agent_content = content
            return response

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
            located = gcs.path_of(uri)
            if not located.is_file():
                raise NotFound(f"{uri} does not exist (looked for {located})")
            content = None
        else:
            content = request.agent_content
            agent_content_payload(content)  # refuses foreign and corrupt content before any work
        option = request.restore_option

        def work() -> None:
            raw = gcs.read(uri) if content is None else content
            package = apply_restore_option(read_package(agent_content_payload(raw)), option)
            with self.backend.store.write(path.agent_name) as record:
                record.package = package
                record.extras.pop(validation.EXTRA_KEY, None)

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


def read_agent_content(content: bytes) -> AgentPackage:
    """A package from restore content: an emulator BLOB or a JSON-package zip; anything else is refused."""
    return read_package(agent_content_payload(content))


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


def apply_restore_option(package: AgentPackage, option: int) -> AgentPackage:
    """KEEP refuses agent settings the emulator cannot hold; FALLBACK drops them to defaults."""
    unsupported = _unsupported_settings(package.agent)
    if not unsupported:
        return package
    if option == RestoreOption.FALLBACK:
        package = copy.copy(package)
        package.agent = {k: v for k, v in package.agent.items() if k not in unsupported}
        return package
    raise InvalidArgument(
        f"agent settings not supported: {', '.join(sorted(unsupported))}; restore with restore_option=FALLBACK "
        "to fall back to the defaults"
    )


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


SERVICES = [AgentsService]
