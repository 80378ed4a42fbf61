"""DialogflowCXHook and DialogflowCXAsyncHook: credentials, endpoints, clients, retries, operations.

Operators use the sync hook; triggers use the async one. Both read the same connection (see
:mod:`.credentials`), pick the same endpoint for a resource name (see :mod:`.endpoints`) and hand
out the stock ``google.cloud.dialogflowcx_v3`` clients, one per service and endpoint::

    hook = DialogflowCXHook(gcp_conn_id="google_cloud_default")
    client = hook.get_agents_client(agent_name)                      # endpoint from the name
    agent = hook.call(client.get_agent, name=agent_name)              # retried as a READ
    operation = hook.call(client.export_agent, request={"name": agent_name})
    response = hook.wait_for_operation(operation, timeout=600)        # ExportAgentResponse

``hook.call`` applies the retry policy of :mod:`.retry` (per-method table, tenacity backoff) and
turns the library's own retry off; a client method called directly gets only the library's
defaults, which differ per method.

Clients and their shared channel are created on first use and cached per process id: a hook object
that crossed a ``fork()`` builds new ones in the child and never touches the parent's channel (whose
objects stay referenced, unused, so that garbage collection in the child cannot shut down the
parent's sockets). gRPC's own fork support is switched on when the provider is imported (see
:mod:`.fork_support`). Importing this module imports neither grpc nor the CX library; that
happens on first client use.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_provider_cx.hooks import clients, connection_form
from airflow_provider_cx.hooks.credentials import ConnectionSettings, build_credentials
from airflow_provider_cx.hooks.endpoints import (
    api_endpoint,
    check_location,
    parse_emulator_host,
    resolve_location,
)
from airflow_provider_cx.hooks.errors import CXConnectionNotFoundError
from airflow_provider_cx.hooks.operations import (
    DEFAULT_POLLING,
    PollingPolicy,
    operation_error,
    operation_result,
    wait_for_operation,
    wait_until_done,
)
from airflow_provider_cx.hooks.policy_settings import layered
from airflow_provider_cx.hooks.retry import (
    DEFAULT_POLICY,
    CallKind,
    RetryPolicy,
    acall_with_retry,
    call_with_retry,
)
from airflow_provider_cx.resource_names import location_path

if TYPE_CHECKING:
    from google.api_core.operation import Operation
    from google.api_core.operations_v1 import OperationsAsyncClient, OperationsClient
    from google.auth.credentials import Credentials
    from google.cloud.dialogflowcx_v3 import (
        AgentsAsyncClient,
        AgentsClient,
        DeploymentsAsyncClient,
        DeploymentsClient,
        EntityTypesAsyncClient,
        EntityTypesClient,
        EnvironmentsAsyncClient,
        EnvironmentsClient,
        FlowsAsyncClient,
        FlowsClient,
        IntentsAsyncClient,
        IntentsClient,
        PagesAsyncClient,
        PagesClient,
        SessionsAsyncClient,
        SessionsClient,
        TestCasesAsyncClient,
        TestCasesClient,
        TransitionRouteGroupsAsyncClient,
        TransitionRouteGroupsClient,
        VersionsAsyncClient,
        VersionsClient,
        WebhooksAsyncClient,
        WebhooksClient,
    )
    from google.longrunning import operations_pb2

    from airflow_provider_cx.hooks.restore_request import SerializedRestoreRequest

T = TypeVar("T")


class _DialogflowCXHookBase(BaseHook):
    """What both hooks share: parameters, connection settings, location and endpoint choice."""

    conn_name_attr = "gcp_conn_id"
    default_conn_name = "google_cloud_default"
    conn_type = "dialogflow_cx"
    hook_name = "Google Dialogflow CX"

    def __init__(
        self,
        gcp_conn_id: str = default_conn_name,
        location: str | None = None,
        impersonation_chain: str | Sequence[str] | None = None,
        retry_policy: RetryPolicy | Mapping[str, Any] | None = None,
        polling_policy: PollingPolicy | Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.gcp_conn_id = gcp_conn_id
        self.location = check_location(location) if location else None
        self.impersonation_chain = impersonation_chain
        # Checked now (ValueError naming the field), applied over the connection's extras on first use.
        layered(DEFAULT_POLICY, retry_policy)
        layered(DEFAULT_POLLING, polling_policy)
        self._retry_choice = retry_policy
        self._polling_choice = polling_policy
        # {pid: {key: client or channel}}; see the module docstring for why old pids are kept.
        self._per_process: dict[int, dict[tuple[Any, ...], Any]] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Channels cannot be pickled or deep-copied; a copy builds its own on first use.
        state = self.__dict__.copy()
        state["_per_process"] = {}
        return state

    def _settings_from(self, extras: dict[str, Any]) -> ConnectionSettings:
        settings = ConnectionSettings.from_extras(self.gcp_conn_id, extras)
        if settings.emulator_host:
            parse_emulator_host(settings.emulator_host)
        if settings.location:
            check_location(settings.location)
        return settings

    def _not_found(self) -> CXConnectionNotFoundError:
        env = "AIRFLOW_CONN_" + self.gcp_conn_id.upper()
        return CXConnectionNotFoundError(
            f"Airflow connection {self.gcp_conn_id!r} does not exist; create it (type google_cloud_platform "
            f"or dialogflow_cx) or set {env}, or pass gcp_conn_id= of an existing connection"
        )

    def _retry_policy_for(self, settings: ConnectionSettings | None) -> RetryPolicy:
        """The default policy, then the connection's extras, then what the caller passed."""
        connection = settings.retry_overrides if settings else None
        return layered(DEFAULT_POLICY, connection, self._retry_choice)

    def _polling_policy_for(self, settings: ConnectionSettings | None) -> PollingPolicy:
        connection = settings.polling_overrides if settings else None
        return layered(DEFAULT_POLLING, connection, self._polling_choice)

    def _location_for(self, settings: ConnectionSettings, resource_name: str | None, location: str | None) -> str:
        return resolve_location(resource_name, location or self.location, default=settings.location)

    @staticmethod
    def _endpoint_for(settings: ConnectionSettings, location: str) -> str:
        return settings.emulator_host or api_endpoint(location)

    def _cached(self, key: tuple[Any, ...], factory: Callable[[], T]) -> T:
        cache = self._per_process.setdefault(os.getpid(), {})
        if key not in cache:
            cache[key] = factory()
        return cache[key]


class DialogflowCXHook(_DialogflowCXHookBase):
    """Dialogflow CX through the stock gRPC clients, for operators.

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
            lambda: clients.create_client(service, channel, clients.client_info(_provider_version())),
        )

    def get_agents_client(self, resource_name: str | None = None, location: str | None = None) -> AgentsClient:
        return self._client("agents", resource_name, location)

    def get_flows_client(self, resource_name: str | None = None, location: str | None = None) -> FlowsClient:
        return self._client("flows", resource_name, location)

    def get_pages_client(self, resource_name: str | None = None, location: str | None = None) -> PagesClient:
        return self._client("pages", resource_name, location)

    def get_intents_client(self, resource_name: str | None = None, location: str | None = None) -> IntentsClient:
        return self._client("intents", resource_name, location)

    def get_entity_types_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> EntityTypesClient:
        return self._client("entity_types", resource_name, location)

    def get_webhooks_client(self, resource_name: str | None = None, location: str | None = None) -> WebhooksClient:
        return self._client("webhooks", resource_name, location)

    def get_transition_route_groups_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> TransitionRouteGroupsClient:
        return self._client("transition_route_groups", resource_name, location)

    def get_versions_client(self, resource_name: str | None = None, location: str | None = None) -> VersionsClient:
        return self._client("versions", resource_name, location)

    def get_environments_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> EnvironmentsClient:
        return self._client("environments", resource_name, location)

    def get_deployments_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> DeploymentsClient:
        return self._client("deployments", resource_name, location)

    def get_test_cases_client(self, resource_name: str | None = None, location: str | None = None) -> TestCasesClient:
        return self._client("test_cases", resource_name, location)

    def get_sessions_client(self, resource_name: str | None = None, location: str | None = None) -> SessionsClient:
        return self._client("sessions", resource_name, location)

    def get_restore_client(self, prepared: SerializedRestoreRequest) -> AgentsClient:
        """An ``AgentsClient`` whose ``restore_agent`` sends ``prepared`` (see :mod:`.restore_request`).

        On the channel of ``prepared.request.name`` with the stock clients' user agent; not cached,
        since it holds the package: drop it once the restore has started.
        """
        from airflow_provider_cx.hooks.restore_request import create_restore_client

        channel = self.get_channel(prepared.request.name)
        return create_restore_client(channel, clients.client_info(_provider_version()), prepared)

    def get_operations_client(self, resource_name: str | None = None, location: str | None = None) -> OperationsClient:
        """google.api_core's OperationsClient on the same channel as the service clients, with their user agent."""
        endpoint = self.get_endpoint(resource_name, location)
        channel = self.get_channel(resource_name, location)
        return self._cached(
            ("operations", endpoint),
            lambda: clients.create_operations_client(channel, clients.client_info(_provider_version())),
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

    def call(self, method: Callable[..., T], /, *args: Any, kind: CallKind | None = None, **kwargs: Any) -> T:
        """``method(*args, **kwargs)`` with the retry policy for its kind (default: by method name)."""
        return call_with_retry(method, *args, kind=kind, policy=self.retry_policy, logger=self.log, **kwargs)

    def get_operation(self, name: str) -> operations_pb2.Operation:
        """The current state of the long-running operation ``name`` (one retried GetOperation)."""
        client = self.get_operations_client(name)
        return self.call(client.get_operation, name, kind=CallKind.READ)

    def operation_from_name(self, name: str, result_type: Any, metadata_type: Any = None) -> Operation:
        """A waitable google.api_core ``Operation`` for an operation known only by name."""
        from google.api_core import operation as api_operation

        return api_operation.from_gapic(
            self.get_operation(name), self.get_operations_client(name), result_type, metadata_type=metadata_type
        )

    def wait_for_operation(self, operation: Operation, timeout: float | None = None) -> Any:
        """Poll ``operation`` until done and return its result (see :mod:`.operations`)."""
        return wait_for_operation(
            operation, polling=self.polling_policy, rpc_policy=self.retry_policy, timeout=timeout, logger=self.log
        )

    def wait_for_operation_done(
        self, operation: operations_pb2.Operation, timeout: float | None = None
    ) -> operations_pb2.Operation:
        """Poll ``operation`` (as last seen) by name until done; the finished ``Operation``, unread.

        Read it with :func:`.operations.operation_result`, passing the only reference, so that a large
        response (an export's package) is never held as message, bytes and result at once (see
        :mod:`.operations`). Same schedule and timeout as :meth:`wait_for_operation`; a failed
        operation is returned too (``operation_result`` raises its error).
        """
        return wait_until_done(
            operation, self.get_operation, polling=self.polling_policy, timeout=timeout, logger=self.log
        )

    def wait_for_result(
        self, operation: operations_pb2.Operation, result_type: Any, timeout: float | None = None
    ) -> Any:
        """Poll ``operation`` by name until done; its response as ``result_type`` (errors as for ``operation_result``).

        Keeps no api_core future: the finished ``Operation`` goes straight to
        :func:`.operations.operation_result` as its only reference, which lets go of it before parsing
        the response. For an export (the response is the package) that keeps the package in memory at
        most twice after it arrives, instead of three times (the future's ``Operation``, the ``Any``'s
        bytes and the unpacked result).
        """
        return operation_result(self.wait_for_operation_done(operation, timeout=timeout), result_type)

    def cancel_operation(self, operation: Operation | str) -> None:
        """Ask the server to cancel an operation (given as an ``Operation`` or its name); best effort."""
        name = operation if isinstance(operation, str) else operation.operation.name
        client = self.get_operations_client(name)
        self.call(client.cancel_operation, name, kind=CallKind.IDEMPOTENT)
        self.log.info("requested cancellation of operation %s", name)

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


class DialogflowCXAsyncHook(_DialogflowCXHookBase):
    """The asyncio twin of :class:`DialogflowCXHook` (CX AsyncClients over grpc.aio), for triggers.

    Same parameters and connection. Accessors are coroutines because the connection is fetched
    with ``aget_connection``; clients are cached per process *and event loop*, since a grpc.aio
    channel only works in the loop that created it.
    """

    async def get_connection_settings(self) -> ConnectionSettings:
        if not hasattr(self, "_settings"):
            try:
                connection = await self.aget_connection(self.gcp_conn_id)
            except AirflowNotFoundException:
                raise self._not_found() from None
            self._settings = self._settings_from(connection.extra_dejson)
        return self._settings

    async def get_credentials_and_project_id(self) -> tuple[Credentials, str | None]:
        if not hasattr(self, "_credentials_and_project"):
            settings = await self.get_connection_settings()
            # google.auth.default() may ask the metadata server: keep it off the event loop.
            self._credentials_and_project = await asyncio.to_thread(
                build_credentials, settings, self.impersonation_chain
            )
        return self._credentials_and_project

    async def get_retry_policy(self) -> RetryPolicy:
        """The policy :meth:`call` applies (see the sync hook's ``retry_policy``)."""
        explicit = isinstance(self._retry_choice, RetryPolicy)
        return self._retry_policy_for(None if explicit else await self.get_connection_settings())

    async def get_polling_policy(self) -> PollingPolicy:
        """The policy :meth:`wait_for_operation` applies."""
        explicit = isinstance(self._polling_choice, PollingPolicy)
        return self._polling_policy_for(None if explicit else await self.get_connection_settings())

    async def resolve_location(self, resource_name: str | None = None, location: str | None = None) -> str:
        return self._location_for(await self.get_connection_settings(), resource_name, location)

    async def get_endpoint(self, resource_name: str | None = None, location: str | None = None) -> str:
        settings = await self.get_connection_settings()
        return self._endpoint_for(settings, self._location_for(settings, resource_name, location))

    async def get_channel(self, resource_name: str | None = None, location: str | None = None) -> Any:
        """The shared ``grpc.aio.Channel`` for this process, event loop and endpoint."""
        endpoint = await self.get_endpoint(resource_name, location)
        credentials, _ = await self.get_credentials_and_project_id()
        insecure = bool((await self.get_connection_settings()).emulator_host)
        return self._cached(
            ("channel", endpoint, asyncio.get_running_loop()),
            lambda: clients.create_async_channel(endpoint, credentials, insecure=insecure),
        )

    async def _client(self, service: str, resource_name: str | None, location: str | None) -> Any:
        endpoint = await self.get_endpoint(resource_name, location)
        channel = await self.get_channel(resource_name, location)
        return self._cached(
            ("client", service, endpoint, asyncio.get_running_loop()),
            lambda: clients.create_async_client(service, channel, clients.client_info(_provider_version())),
        )

    async def get_agents_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> AgentsAsyncClient:
        return await self._client("agents", resource_name, location)

    async def get_flows_client(self, resource_name: str | None = None, location: str | None = None) -> FlowsAsyncClient:
        return await self._client("flows", resource_name, location)

    async def get_pages_client(self, resource_name: str | None = None, location: str | None = None) -> PagesAsyncClient:
        return await self._client("pages", resource_name, location)

    async def get_intents_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> IntentsAsyncClient:
        return await self._client("intents", resource_name, location)

    async def get_entity_types_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> EntityTypesAsyncClient:
        return await self._client("entity_types", resource_name, location)

    async def get_webhooks_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> WebhooksAsyncClient:
        return await self._client("webhooks", resource_name, location)

    async def get_transition_route_groups_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> TransitionRouteGroupsAsyncClient:
        return await self._client("transition_route_groups", resource_name, location)

    async def get_versions_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> VersionsAsyncClient:
        return await self._client("versions", resource_name, location)

    async def get_environments_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> EnvironmentsAsyncClient:
        return await self._client("environments", resource_name, location)

    async def get_deployments_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> DeploymentsAsyncClient:
        return await self._client("deployments", resource_name, location)

    async def get_test_cases_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> TestCasesAsyncClient:
        return await self._client("test_cases", resource_name, location)

    async def get_sessions_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> SessionsAsyncClient:
        return await self._client("sessions", resource_name, location)

    async def get_operations_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> OperationsAsyncClient:
        endpoint = await self.get_endpoint(resource_name, location)
        channel = await self.get_channel(resource_name, location)
        return self._cached(
            ("operations", endpoint, asyncio.get_running_loop()),
            lambda: clients.create_async_operations_client(channel, clients.client_info(_provider_version())),
        )

    async def close(self) -> None:
        """Close the channels this process opened in the running event loop."""
        loop = asyncio.get_running_loop()
        cache = self._per_process.get(os.getpid(), {})
        for key in [key for key in cache if key[-1] is loop]:
            value = cache.pop(key)
            if key[0] == "channel":
                await value.close()

    async def call(
        self, method: Callable[..., Awaitable[T]], /, *args: Any, kind: CallKind | None = None, **kwargs: Any
    ) -> T:
        """``await method(*args, **kwargs)`` with the retry policy for its kind."""
        policy = await self.get_retry_policy()
        return await acall_with_retry(method, *args, kind=kind, policy=policy, logger=self.log, **kwargs)

    async def get_operation(self, name: str) -> operations_pb2.Operation:
        """The current state of the long-running operation ``name`` (one retried GetOperation)."""
        client = await self.get_operations_client(name)
        return await self.call(client.get_operation, name, kind=CallKind.READ)

    async def cancel_operation(self, name: str) -> None:
        client = await self.get_operations_client(name)
        await self.call(client.cancel_operation, name, kind=CallKind.IDEMPOTENT)
        self.log.info("requested cancellation of operation %s", name)

    async def wait_for_operation(self, name: str, timeout: float | None = None) -> operations_pb2.Operation:
        """Poll ``name`` with backoff until done; return the finished operation or raise its error.

        Raises :class:`.CXOperationFailedError` / :class:`.CXOperationTimeoutError`, like the sync hook.
        """
        import tenacity

        from airflow_provider_cx.hooks.errors import CXOperationTimeoutError
        from airflow_provider_cx.hooks.operations import until_done_schedule

        policy = await self.get_polling_policy()
        overall = timeout if timeout is not None else policy.timeout
        polling = tenacity.AsyncRetrying(**until_done_schedule(policy, overall))
        operation = await polling(self.get_operation, name)
        if operation is None:
            raise CXOperationTimeoutError(name, overall or 0)
        failure = operation_error(operation)
        if failure is not None:
            raise failure
        return operation


def _provider_version() -> str:
    from airflow_provider_cx import __version__

    return __version__
