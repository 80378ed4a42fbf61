"""The agent and its content on the sync hook: get, export, restore, validate; flows, pages, route groups, intents.

List methods return every item as a list (all pages, retried together as one READ). Methods that
start a long-running operation (:meth:`~AgentCalls.export_agent`, :meth:`~AgentCalls.restore_agent`)
return api_core's ``Operation`` at once; ``hook.wait_for_result(operation, ExportAgentResponse)``
turns it into the response. A resource that does not exist raises :class:`.CXResourceNotFoundError`
naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_cx.hooks.errors import CXInvalidInputError, CXResourceNotFoundError
from airflow_provider_cx.hooks.operation_calls import OperationCalls
from airflow_provider_cx.hooks.retry import CallKind

if TYPE_CHECKING:
    from google.api_core.operation import Operation
    from google.cloud.dialogflowcx_v3 import Agent, AgentValidationResult, Flow, Intent, Page, TransitionRouteGroup

#: Largest page the List calls ask for (the API caps it at 1000).
PAGE_SIZE = 1000
RESTORE_OPTIONS = ("KEEP", "FALLBACK")


class AgentCalls(OperationCalls):
    """Agents, flows, pages, transition route groups and intents."""

    def get_agent(self, agent: str) -> Agent:
        """GetAgent (a READ); an unknown agent raises :class:`.CXResourceNotFoundError`."""
        from google.api_core import exceptions

        client = self.get_agents_client(agent)
        try:
            return self.call(client.get_agent, name=agent)
        except exceptions.NotFound:
            raise CXResourceNotFoundError(
                f"agent {agent} does not exist (or the connection {self.gcp_conn_id!r} cannot see it)"
            ) from None

    def list_agents(self, parent: str) -> list[Agent]:
        """The agents of ``projects/P/locations/L``."""
        client = self.get_agents_client(parent)
        return self.list_all(f"location {parent}", client.list_agents, {"parent": parent, "page_size": PAGE_SIZE})

    def export_agent(
        self,
        agent: str,
        *,
        data_format: str = "JSON_PACKAGE",
        environment: str | None = None,
        agent_uri: str | None = None,
    ) -> Operation:
        """Start ExportAgent (IDEMPOTENT) of the draft, or of what ``environment`` serves; the operation.

        :param data_format: ``"JSON_PACKAGE"`` (a zip of JSON files) or ``"BLOB"``.
        :param agent_uri: a ``gs://`` object the API writes the package to; ``None``: the package comes
            back in the operation's ``ExportAgentResponse.agent_content``.
        """
        from google.cloud.dialogflowcx_v3 import ExportAgentRequest

        request: dict[str, Any] = {
            "name": agent,
            "data_format": ExportAgentRequest.DataFormat[data_format],  # type: ignore[misc]
            "environment": environment or "",
        }
        if agent_uri:
            request["agent_uri"] = agent_uri
        client = self.get_agents_client(agent)
        return self.call_naming(f"export of {agent}", client.export_agent, request=request)

    def restore_agent(
        self,
        agent: str,
        *,
        agent_content: bytes | None = None,
        agent_uri: str | None = None,
        restore_option: str = "KEEP",
    ) -> Operation:
        """Start RestoreAgent (IDEMPOTENT) from ``agent_content`` or a ``gs://`` ``agent_uri``; the operation.

        :param restore_option: ``"KEEP"`` or ``"FALLBACK"`` (fall back to defaults for agent settings
            that cannot be kept). The operation's response is ``google.protobuf.Empty``.
        A package the API refuses raises ``google.api_core.exceptions.InvalidArgument``.
        """
        from google.cloud.dialogflowcx_v3 import RestoreAgentRequest

        if (agent_content is None) == (agent_uri is None):
            raise CXInvalidInputError("restore_agent needs exactly one of agent_content and agent_uri")
        if restore_option not in RESTORE_OPTIONS:
            raise CXInvalidInputError(f"restore_option {restore_option!r} is not one of {', '.join(RESTORE_OPTIONS)}")
        option = getattr(RestoreAgentRequest.RestoreOption, restore_option)
        source: dict[str, Any] = {"agent_uri": agent_uri} if agent_uri else {"agent_content": agent_content}
        request = RestoreAgentRequest(name=agent, restore_option=option, **source)
        del source, agent_content
        client = self.get_agents_client(agent)
        return self.call_naming(f"restore of {agent}", client.restore_agent, request=request)

    def validate_agent(self, agent: str, language_code: str | None = None) -> AgentValidationResult:
        """ValidateAgent (IDEMPOTENT): CX's own checks of the draft; the findings, per flow."""
        client = self.get_agents_client(agent)
        request = {"name": agent, "language_code": language_code or ""}
        return self.call_naming(f"validation of {agent}", client.validate_agent, request=request)

    def get_agent_validation_result(self, agent: str, language_code: str | None = None) -> AgentValidationResult:
        """GetAgentValidationResult (a READ): the findings of the last ValidateAgent."""
        client = self.get_agents_client(agent)
        request = {"name": f"{agent}/validationResult", "language_code": language_code or ""}
        return self.call_naming(f"validation result of {agent}", client.get_agent_validation_result, request=request)

    def list_flows(self, agent: str) -> list[Flow]:
        """ListFlows (a READ): every flow of the agent.

        :param agent: ``projects/P/locations/L/agents/A``.
        """
        client = self.get_flows_client(agent)
        return self.list_all(f"agent {agent} does not exist", client.list_flows, _children(agent))

    def get_flow(self, flow: str) -> Flow:
        """GetFlow (a READ).

        :param flow: ``.../agents/A/flows/F``.
        """
        client = self.get_flows_client(flow)
        return self.call_naming(f"flow {flow}", client.get_flow, name=flow, kind=CallKind.READ)

    def list_pages(self, flow: str) -> list[Page]:
        """ListPages (a READ): every page of the flow.

        :param flow: ``.../agents/A/flows/F``.
        """
        client = self.get_pages_client(flow)
        return self.list_all(f"flow {flow}", client.list_pages, _children(flow))

    def list_transition_route_groups(self, parent: str) -> list[TransitionRouteGroup]:
        """The route groups of a flow, or (``parent`` an agent) the agent-level ones."""
        client = self.get_transition_route_groups_client(parent)
        return self.list_all(f"{parent}", client.list_transition_route_groups, _children(parent))

    def list_intents(self, agent: str) -> list[Intent]:
        """ListIntents (a READ): every intent of the agent.

        :param agent: ``projects/P/locations/L/agents/A``.
        """
        client = self.get_intents_client(agent)
        return self.list_all(f"agent {agent} does not exist", client.list_intents, _children(agent))

    def reachable_flows(self, agent: Agent, flows: list[Flow]) -> list[Flow]:
        """The flows a conversation can reach from ``agent``'s start flow, start flow first (see :mod:`.flow_walk`).

        :param agent: the agent, as :meth:`get_agent` returns it.
        :param flows: its flows, as :meth:`list_flows` returns them; reads one ListPages and one
            ListTransitionRouteGroups per reached flow.
        """
        from airflow_provider_cx.hooks.flow_walk import reachable_flows

        return reachable_flows(self, agent, flows)


def _children(parent: str) -> dict[str, Any]:
    return {"parent": parent, "page_size": PAGE_SIZE}
