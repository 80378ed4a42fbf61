"""The sync hook's foundation: connection, credentials, the stock clients, and calls with retries.

:class:`DialogflowCXClientsHook` hands out the stock ``google.cloud.dialogflowcx_v3`` clients, one per
service and endpoint, all on one shared channel per endpoint, and :meth:`~DialogflowCXClientsHook.call`
applies the retry policy of :mod:`.retry` (per-method table, tenacity backoff) with the library's own
retry turned off. The named CX calls (``export_agent``, ``list_flows``, ...) are built on it in the
mixins that :class:`~airflow_provider_cx.hooks.dialogflow_cx.DialogflowCXHook` combines; a client
method called directly gets only the library's defaults, which differ per method.

Importing this module imports neither grpc nor the CX library; that happens on first client use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_provider_cx.hooks import clients, connection_form
from airflow_provider_cx.hooks.credentials import ConnectionSettings, build_credentials
from airflow_provider_cx.hooks.errors import CXResourceNotFoundError
from airflow_provider_cx.hooks.hook_base import DialogflowCXHookBase, provider_version
from airflow_provider_cx.hooks.operations import PollingPolicy
from airflow_provider_cx.hooks.retry import CallKind, RetryPolicy, call_with_retry, method_name
from airflow_provider_cx.resource_names import location_path

if TYPE_CHECKING:
    from google.api_core.operations_v1 import OperationsClient
    from google.auth.credentials import Credentials
    from google.cloud.dialogflowcx_v3 import (
        AgentsClient,
        DeploymentsClient,
        EntityTypesClient,
        EnvironmentsClient,
        FlowsClient,
        IntentsClient,
        PagesClient,
        SessionsClient,
        TestCasesClient,
        TransitionRouteGroupsClient,
        VersionsClient,
        WebhooksClient,
    )

T = TypeVar("T")


class DialogflowCXClientsHook(DialogflowCXHookBase):
    """The sync hook's connection, credentials, clients and retried calls (no named CX calls here).

    :param gcp_conn_id: Airflow connection (type ``google_cloud_platform`` or ``dialogflow_cx``).
    :param location: CX location used when a call names no resource; must agree with any resource
        name a call passes. Defaults to the connection's ``location`` extra, then ``global``.
    :param impersonation_chain: service account to impersonate, or a chain (list or comma-separated)
        whose last entry makes the calls; overrides the connection's ``impersonation_chain``.
    :param retry_policy: attempts, backoff and deadlines for :meth:`call`: a complete
        :class:`.RetryPolicy`, or a mapping of the fields to change in the connection's policy
        (extras ``retry_max_attempts``, ``retry_deadline``, ...; see :mod:`.policy_settings`).
    :param polling_policy: backoff and overall timeout for :meth:`wait_for_operation`, likewise
        (extras ``poll_interval``, ``operation_timeout``).
    """

    # --- connection and credentials -------------------------------------------------------------

    @cached_property
    def connection_settings(self) -> ConnectionSettings:
        try:
            connection = self.get_connection(self.gcp_conn_id)
        except AirflowNotFoundException:
            raise self._not_found() from None
        return self._settings_from(connection.extra_dejson)

    @cached_property
    def _credentials_and_project(self) -> tuple[Credentials, str | None]:
        return build_credentials(self.connection_settings, self.impersonation_chain)

    def get_credentials(self) -> Credentials:
        return self._credentials_and_project[0]

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """The policy :meth:`call` applies (a complete policy passed in never reads the connection)."""
        explicit = isinstance(self._retry_choice, RetryPolicy)
        return self._retry_policy_for(None if explicit else self.connection_settings)

    @cached_property
    def polling_policy(self) -> PollingPolicy:
        """The policy :meth:`wait_for_operation` applies."""
        explicit = isinstance(self._polling_choice, PollingPolicy)
        return self._polling_policy_for(None if explicit else self.connection_settings)

    @property
    def project_id(self) -> str | None:
        """The connection's ``project``, else the key's (or impersonated account's) project."""
        return self._credentials_and_project[1]

    @property
    def emulator_host(self) -> str | None:
        return self.connection_settings.emulator_host

    def resolve_location(self, resource_name: str | None = None, location: str | None = None) -> str:
        """The location a call on ``resource_name`` goes to (see :func:`.endpoints.resolve_location`)."""
        return self._location_for(self.connection_settings, resource_name, location)

    def get_endpoint(self, resource_name: str | None = None, location: str | None = None) -> str:
        """``host:port`` a call on ``resource_name`` goes to: the emulator, or the regional API."""
        settings = self.connection_settings
        return self._endpoint_for(settings, self._location_for(settings, resource_name, location))

    # --- clients ----------------------------------------------------------------------------------

    def get_channel(self, resource_name: str | None = None, location: str | None = None) -> Any:
        """The process's shared ``grpc.Channel`` to the endpoint serving ``resource_name``."""
        endpoint = self.get_endpoint(resource_name, location)
        return self._cached(
            ("channel", endpoint),
            lambda: clients.create_channel(endpoint, self.get_credentials(), insecure=bool(self.emulator_host)),
        )

    def _client(self, service: str, resource_name: str | None, location: str | None) -> Any:
        endpoint = self.get_endpoint(resource_name, location)
        channel = self.get_channel(resource_name, location)
        return self._cached(
            ("client", service, endpoint),
            lambda: clients.create_client(service, channel, clients.client_info(provider_version())),
        )

    def get_agents_client(self, resource_name: str | None = None, location: str | None = None) -> AgentsClient:
        return cast("AgentsClient", self._client("agents", resource_name, location))

    def get_flows_client(self, resource_name: str | None = None, location: str | None = None) -> FlowsClient:
        return cast("FlowsClient", self._client("flows", resource_name, location))

    def get_pages_client(self, resource_name: str | None = None, location: str | None = None) -> PagesClient:
        return cast("PagesClient", self._client("pages", resource_name, location))

    def get_intents_client(self, resource_name: str | None = None, location: str | None = None) -> IntentsClient:
        return cast("IntentsClient", self._client("intents", resource_name, location))

    def get_entity_types_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> EntityTypesClient:
        return cast("EntityTypesClient", self._client("entity_types", resource_name, location))

    def get_webhooks_client(self, resource_name: str | None = None, location: str | None = None) -> WebhooksClient:
        return cast("WebhooksClient", self._client("webhooks", resource_name, location))

    def get_transition_route_groups_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> TransitionRouteGroupsClient:
        return cast("TransitionRouteGroupsClient", self._client("transition_route_groups", resource_name, location))

    def get_versions_client(self, resource_name: str | None = None, location: str | None = None) -> VersionsClient:
        return cast("VersionsClient", self._client("versions", resource_name, location))

    def get_environments_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> EnvironmentsClient:
        return cast("EnvironmentsClient", self._client("environments", resource_name, location))

    def get_deployments_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> DeploymentsClient:
        return cast("DeploymentsClient", self._client("deployments", resource_name, location))

    def get_test_cases_client(self, resource_name: str | None = None, location: str | None = None) -> TestCasesClient:
        return cast("TestCasesClient", self._client("test_cases", resource_name, location))

    def get_sessions_client(self, resource_name: str | None = None, location: str | None = None) -> SessionsClient:
        return cast("SessionsClient", self._client("sessions", resource_name, location))

    def get_operations_client(self, resource_name: str | None = None, location: str | None = None) -> OperationsClient:
        """google.api_core's OperationsClient on the same channel as the service clients, with their user agent."""
        endpoint = self.get_endpoint(resource_name, location)
        channel = self.get_channel(resource_name, location)
        return cast(
            "OperationsClient",
            self._cached(
                ("operations", endpoint),
                lambda: clients.create_operations_client(channel, clients.client_info(provider_version())),
            ),
        )

    def close(self) -> None:
        """Close this process's channels; the next accessor call opens new ones."""
        cache = self._per_process.pop(os.getpid(), {})
        for key, value in cache.items():
            if key[0] == "channel":
                value.close()

    def get_conn(self) -> AgentsClient:
        """The agents client for the hook's location (BaseHook's generic accessor)."""
        return self.get_agents_client()

    # --- calls and operations ---------------------------------------------------------------------
    # --- calls ----------------------------------------------------------------------------------------

    def call(self, method: Callable[..., T], /, *args: Any, kind: CallKind | None = None, **kwargs: Any) -> T:
        """``method(*args, **kwargs)`` with the retry policy for its kind (default: by method name)."""
        return call_with_retry(method, *args, kind=kind, policy=self.retry_policy, logger=self.log, **kwargs)

    def call_naming(self, what: str, method: Callable[..., T], /, *, kind: CallKind | None = None, **kwargs: Any) -> T:
        """:meth:`call`; NotFound becomes :class:`.CXResourceNotFoundError` whose message starts with ``what``."""
        from google.api_core import exceptions

        try:
            return self.call(method, kind=kind, **kwargs)
        except exceptions.NotFound as error:
            raise CXResourceNotFoundError(f"{what}: {error.message}") from None

    def list_all(self, what: str, method: Callable[..., Any], request: dict[str, Any]) -> list[Any]:
        """Every item of a paginated List call, all pages retried together as one READ.

        A transient error on page 3 then repeats the listing instead of failing it; NotFound names ``what``.
        """
        timeout = self.retry_policy.attempt_timeout

        def every_page() -> list[Any]:
            return list(method(request=request, retry=None, timeout=timeout))

        every_page.__name__ = method_name(method)  # retry log lines name the CX method
        return self.call_naming(what, every_page, kind=CallKind.READ)

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's Test button: list one agent in the connection's project and location."""
        try:
            if not self.project_id:
                return False, "no project: set the connection's project extra"
            parent = location_path(self.project_id, self.resolve_location())
            client = self.get_agents_client(location=self.resolve_location())
            self.call(client.list_agents, request={"parent": parent, "page_size": 1})
        except Exception as error:
            return False, str(error)
        return True, f"listed agents in {parent}"

    # --- connection form (Airflow < 3.2; newer releases read provider info) -------------------------

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return connection_form.classic_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return connection_form.classic_ui_field_behaviour()
