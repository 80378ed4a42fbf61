"""DialogflowCXAsyncHook: the asyncio twin of the sync hook, for triggers.

It reads the same connection, chooses the same endpoints and applies the same retry and polling
policies (see :mod:`.hook_base`), over the CX AsyncClients and grpc.aio. Triggers need only the
operations calls: :meth:`~DialogflowCXAsyncHook.get_operation`, :meth:`~DialogflowCXAsyncHook.cancel_operation`
and :meth:`~DialogflowCXAsyncHook.wait_for_operation`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_provider_cx.hooks import clients
from airflow_provider_cx.hooks.credentials import ConnectionSettings, build_credentials
from airflow_provider_cx.hooks.hook_base import DialogflowCXHookBase, provider_version
from airflow_provider_cx.hooks.operations import PollingPolicy, operation_error
from airflow_provider_cx.hooks.retry import CallKind, RetryPolicy, acall_with_retry

if TYPE_CHECKING:
    from google.api_core.operations_v1 import OperationsAsyncClient
    from google.auth.credentials import Credentials
    from google.cloud.dialogflowcx_v3 import (
        AgentsAsyncClient,
        DeploymentsAsyncClient,
        EntityTypesAsyncClient,
        EnvironmentsAsyncClient,
        FlowsAsyncClient,
        IntentsAsyncClient,
        PagesAsyncClient,
        SessionsAsyncClient,
        TestCasesAsyncClient,
        TransitionRouteGroupsAsyncClient,
        VersionsAsyncClient,
        WebhooksAsyncClient,
    )
    from google.longrunning import operations_pb2

T = TypeVar("T")


class DialogflowCXAsyncHook(DialogflowCXHookBase):
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
            lambda: clients.create_async_client(service, channel, clients.client_info(provider_version())),
        )

    async def get_agents_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> AgentsAsyncClient:
        return cast("AgentsAsyncClient", await self._client("agents", resource_name, location))

    async def get_flows_client(self, resource_name: str | None = None, location: str | None = None) -> FlowsAsyncClient:
        return cast("FlowsAsyncClient", await self._client("flows", resource_name, location))

    async def get_pages_client(self, resource_name: str | None = None, location: str | None = None) -> PagesAsyncClient:
        return cast("PagesAsyncClient", await self._client("pages", resource_name, location))

    async def get_intents_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> IntentsAsyncClient:
        return cast("IntentsAsyncClient", await self._client("intents", resource_name, location))

    async def get_entity_types_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> EntityTypesAsyncClient:
        return cast("EntityTypesAsyncClient", await self._client("entity_types", resource_name, location))

    async def get_webhooks_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> WebhooksAsyncClient:
        return cast("WebhooksAsyncClient", await self._client("webhooks", resource_name, location))

    async def get_transition_route_groups_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> TransitionRouteGroupsAsyncClient:
        return cast(
            "TransitionRouteGroupsAsyncClient", await self._client("transition_route_groups", resource_name, location)
        )

    async def get_versions_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> VersionsAsyncClient:
        return cast("VersionsAsyncClient", await self._client("versions", resource_name, location))

    async def get_environments_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> EnvironmentsAsyncClient:
        return cast("EnvironmentsAsyncClient", await self._client("environments", resource_name, location))

    async def get_deployments_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> DeploymentsAsyncClient:
        return cast("DeploymentsAsyncClient", await self._client("deployments", resource_name, location))

    async def get_test_cases_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> TestCasesAsyncClient:
        return cast("TestCasesAsyncClient", await self._client("test_cases", resource_name, location))

    async def get_sessions_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> SessionsAsyncClient:
        return cast("SessionsAsyncClient", await self._client("sessions", resource_name, location))

    async def get_operations_client(
        self, resource_name: str | None = None, location: str | None = None
    ) -> OperationsAsyncClient:
        endpoint = await self.get_endpoint(resource_name, location)
        channel = await self.get_channel(resource_name, location)
        return cast(
            "OperationsAsyncClient",
            self._cached(
                ("operations", endpoint, asyncio.get_running_loop()),
                lambda: clients.create_async_operations_client(channel, clients.client_info(provider_version())),
            ),
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
        operation: operations_pb2.Operation | None = await polling(self.get_operation, name)
        if operation is None:
            raise CXOperationTimeoutError(name, overall or 0)
        failure = operation_error(operation)
        if failure is not None:
            raise failure
        return operation
