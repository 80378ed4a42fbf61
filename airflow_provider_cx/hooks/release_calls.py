"""Releases on the sync hook: flow versions, environments, deployments and continuous tests.

Methods that start a long-running operation (``create_version``, ``create_environment``,
``update_environment``, ``deploy_flow``, ``run_continuous_test``) return api_core's ``Operation``
at once; ``hook.wait_for_result(operation, <response type>)`` turns it into the result. Creates are
NOT_IDEMPOTENT (retried only on RESOURCE_EXHAUSTED: a lost response may hide an applied create; see
:mod:`.create_or_adopt` for creating exactly once). List methods return every item as a list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow_provider_cx.hooks.operation_calls import OperationCalls
from airflow_provider_cx.hooks.retry import CallKind

if TYPE_CHECKING:
    from google.api_core.operation import Operation
    from google.cloud.dialogflowcx_v3 import CompareVersionsResponse, Deployment, Environment, Version

#: Largest page the release List calls ask for.
PAGE_SIZE = 100
#: CompareVersions reads version id 0 of a flow as its draft.
DRAFT_VERSION_ID = "0"


def draft_version(flow: str) -> str:
    """``.../flows/F/versions/0``: the name CompareVersions gives the draft of ``flow``."""
    return f"{flow}/versions/{DRAFT_VERSION_ID}"


class ReleaseCalls(OperationCalls):
    """Versions, environments, deployments and continuous tests."""

    # --- versions ----------------------------------------------------------------------------------

    def create_version(self, flow: str, *, display_name: str, description: str = "") -> Operation:
        """Start CreateVersion of ``flow`` (NOT_IDEMPOTENT); the operation's response is a ``Version``."""
        from google.cloud.dialogflowcx_v3 import Version

        client = self.get_versions_client(flow)
        version = Version(display_name=display_name, description=description)
        return self.call_naming(f"flow {flow}", client.create_version, parent=flow, version=version)

    def list_versions(self, flow: str) -> list[Version]:
        """ListVersions (a READ): every version of the flow, newest first.

        :param flow: ``.../agents/A/flows/F``.
        """
        client = self.get_versions_client(flow)
        return self.list_all(f"flow {flow}", client.list_versions, {"parent": flow, "page_size": PAGE_SIZE})

    def get_version(self, version: str) -> Version:
        """GetVersion (a READ).

        :param version: ``.../flows/F/versions/N``.
        """
        client = self.get_versions_client(version)
        return self.call_naming(f"version {version}", client.get_version, name=version, kind=CallKind.READ)

    def compare_versions(self, base: str, target: str, *, language_code: str = "") -> CompareVersionsResponse:
        """CompareVersions (a READ): the content of two versions of one flow, as JSON strings.

        Each content is the flow with the agent data it uses (intents, entity types, webhooks, route
        groups) in ``language_code`` (default: the agent's). Version id ``0`` is the draft
        (:func:`draft_version`).

        :param base: ``.../flows/F/versions/N``, e.g. the version an environment serves.
        :param target: a version of the same flow, e.g. ``draft_version(flow)``.
        """
        client = self.get_versions_client(base)
        request = {"base_version": base, "target_version": target, "language_code": language_code}
        return self.call_naming(f"comparing {base} with {target}", client.compare_versions, request=request)

    # --- environments ------------------------------------------------------------------------------

    def list_environments(self, agent: str) -> list[Environment]:
        """ListEnvironments (a READ): every environment of the agent.

        :param agent: ``projects/P/locations/L/agents/A``.
        """
        client = self.get_environments_client(agent)
        request = {"parent": agent, "page_size": PAGE_SIZE}
        return self.list_all(f"agent {agent} does not exist", client.list_environments, request)

    def get_environment(self, environment: str) -> Environment:
        """GetEnvironment (a READ).

        :param environment: ``.../agents/A/environments/E``.
        """
        client = self.get_environments_client(environment)
        return self.call_naming(
            f"environment {environment}", client.get_environment, name=environment, kind=CallKind.READ
        )

    def create_environment(
        self, agent: str, *, display_name: str, description: str = "", versions: Sequence[str] = ()
    ) -> Operation:
        """Start CreateEnvironment (NOT_IDEMPOTENT) serving ``versions``; the response is an ``Environment``."""
        from google.cloud.dialogflowcx_v3 import Environment

        environment = Environment(
            display_name=display_name,
            description=description,
            version_configs=[Environment.VersionConfig(version=name) for name in versions],
        )
        client = self.get_environments_client(agent)
        return self.call_naming(
            f"creating environment {display_name!r}", client.create_environment, parent=agent, environment=environment
        )

    def update_environment(
        self, environment: str, *, versions: Sequence[str] | None = None, description: str | None = None
    ) -> Operation:
        """Start UpdateEnvironment (IDEMPOTENT) of the fields given; the response is the ``Environment``.

        ``versions`` replaces the flow versions it serves (``version_configs``); ``description`` its
        description. At least one must be given.
        """
        from google.cloud.dialogflowcx_v3 import Environment

        update = Environment(name=environment)
        paths = []
        if versions is not None:
            update.version_configs = [Environment.VersionConfig(version=name) for name in versions]
            paths.append("version_configs")
        if description is not None:
            update.description = description
            paths.append("description")
        if not paths:
            from airflow_provider_cx.hooks.errors import CXInvalidInputError

            raise CXInvalidInputError("update_environment needs versions= or description=")
        client = self.get_environments_client(environment)
        return self.call_naming(
            f"updating environment {environment}",
            client.update_environment,
            environment=update,
            update_mask={"paths": paths},
        )

    def delete_environment(self, environment: str) -> None:
        """DeleteEnvironment (IDEMPOTENT)."""
        client = self.get_environments_client(environment)
        self.call_naming(f"deletion of {environment}", client.delete_environment, name=environment)

    def lookup_environment_history(self, environment: str) -> list[Environment]:
        """The environment's earlier configurations, in the API's order (newest first), all pages."""
        client = self.get_environments_client(environment)
        request = {"name": environment, "page_size": PAGE_SIZE}
        return self.list_all(f"history of {environment}", client.lookup_environment_history, request)

    def deploy_flow(self, environment: str, flow_version: str) -> Operation:
        """Start DeployFlow of one flow version (IDEMPOTENT); the response is a ``DeployFlowResponse``."""
        client = self.get_environments_client(environment)
        return self.call_naming(
            f"deploying {flow_version} to {environment}",
            client.deploy_flow,
            request={"environment": environment, "flow_version": flow_version},
        )

    def get_deployment(self, deployment: str) -> Deployment:
        """GetDeployment (a READ): the outcome of a DeployFlow, with its pre-deployment test results.

        :param deployment: ``.../environments/E/deployments/D`` (``DeployFlowResponse.deployment``).
        """
        client = self.get_deployments_client(deployment)
        return self.call_naming(f"deployment {deployment}", client.get_deployment, name=deployment, kind=CallKind.READ)

    def run_continuous_test(self, environment: str) -> Operation:
        """Start RunContinuousTest (IDEMPOTENT); the response is a ``RunContinuousTestResponse``."""
        client = self.get_environments_client(environment)
        return self.call_naming(
            f"continuous test of {environment}", client.run_continuous_test, request={"environment": environment}
        )
