"""Building gRPC channels and CX clients (sync and asyncio) for one endpoint.

All clients for an endpoint share one channel, so a task opens one connection per region however
many services it uses, and the operations client polls long-running operations on that same
channel. Message size limits are lifted as the stock transports do: agent exports travel inline.
Everything here imports grpc and the CX library, so it is only called when a task runs.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import TYPE_CHECKING, Any

from airflow_provider_cx.hooks.endpoints import API_HOST
from airflow_provider_cx.hooks.fork_support import FORK_SUPPORT_ENV, grpc_fork_support_active

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

log = logging.getLogger(__name__)

CX_SERVICES_PACKAGE = "google.cloud.dialogflowcx_v3.services"
#: Hook service key -> class name prefix in google.cloud.dialogflowcx_v3 (``AgentsClient``, ...).
SERVICES: dict[str, str] = {
    "agents": "Agents",
    "flows": "Flows",
    "pages": "Pages",
    "intents": "Intents",
    "entity_types": "EntityTypes",
    "webhooks": "Webhooks",
    "transition_route_groups": "TransitionRouteGroups",
    "versions": "Versions",
    "environments": "Environments",
    "deployments": "Deployments",
    "test_cases": "TestCases",
    "sessions": "Sessions",
}
CHANNEL_OPTIONS = (("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1))
_fork_warning_given = False


def create_channel(endpoint: str, credentials: Credentials, *, insecure: bool) -> Any:
    """A ``grpc.Channel`` to ``endpoint``; ``insecure`` (the emulator) means plaintext, no credentials."""
    import grpc

    _warn_if_fork_unsafe()
    log.info("opening a gRPC channel to %s in process %d", endpoint, os.getpid())
    if insecure:
        return grpc.insecure_channel(endpoint, options=CHANNEL_OPTIONS)
    from google.api_core import grpc_helpers

    return grpc_helpers.create_channel(
        endpoint, credentials=credentials, default_host=API_HOST, options=list(CHANNEL_OPTIONS)
    )


def create_async_channel(endpoint: str, credentials: Credentials, *, insecure: bool) -> Any:
    """A ``grpc.aio.Channel``; must be created inside the event loop that will use it."""
    import grpc

    log.info("opening an asyncio gRPC channel to %s in process %d", endpoint, os.getpid())
    if insecure:
        return grpc.aio.insecure_channel(endpoint, options=CHANNEL_OPTIONS)
    from google.api_core import grpc_helpers_async

    return grpc_helpers_async.create_channel(
        endpoint, credentials=credentials, default_host=API_HOST, options=list(CHANNEL_OPTIONS)
    )


def create_client(service: str, channel: Any, client_info: Any) -> Any:
    """The stock ``<Service>Client`` on ``channel``."""
    module, transports = _service_modules(service)
    transport_class = getattr(transports, f"{SERVICES[service]}GrpcTransport")
    client_class = getattr(module, f"{SERVICES[service]}Client")
    return client_class(transport=transport_class(channel=channel, client_info=client_info))


def create_async_client(service: str, channel: Any, client_info: Any) -> Any:
    """The stock ``<Service>AsyncClient`` on an asyncio ``channel``."""
    module, transports = _service_modules(service)
    transport_class = getattr(transports, f"{SERVICES[service]}GrpcAsyncIOTransport")
    client_class = getattr(module, f"{SERVICES[service]}AsyncClient")
    return client_class(transport=transport_class(channel=channel, client_info=client_info))


def create_operations_client(channel: Any, client_info: Any) -> Any:
    """api_core's ``OperationsClient``, its calls carrying ``client_info`` (:mod:`.user_agent_channel`)."""
    from google.api_core import operations_v1

    from airflow_provider_cx.hooks.user_agent_channel import UserAgentChannel

    return operations_v1.OperationsClient(UserAgentChannel(channel, client_info))  # type: ignore[no-untyped-call]


def create_async_operations_client(channel: Any, client_info: Any) -> Any:
    """api_core's ``OperationsAsyncClient``, its calls carrying ``client_info`` (:mod:`.user_agent_channel`)."""
    from google.api_core import operations_v1

    from airflow_provider_cx.hooks.user_agent_channel import UserAgentChannel

    return operations_v1.OperationsAsyncClient(UserAgentChannel(channel, client_info))  # type: ignore[no-untyped-call]


def client_info(version: str) -> Any:
    """User agent naming this provider and the process that built the client (``pid/<n>``).

    API-side logs then show where calls came from, and the emulator's caller records prove that a
    client was built in the process that used it (e.g. an Airflow task, not the scheduler).
    """
    from google.api_core.gapic_v1.client_info import ClientInfo

    return ClientInfo(user_agent=f"airflow-provider-cx/{version} pid/{os.getpid()}")  # type: ignore[no-untyped-call]


def _service_modules(service: str) -> tuple[Any, Any]:
    """The service package (clients) and its transports package."""
    if service not in SERVICES:
        raise KeyError(f"unknown Dialogflow CX service {service!r}; known: {', '.join(SERVICES)}")
    package = f"{CX_SERVICES_PACKAGE}.{service}"
    return importlib.import_module(package), importlib.import_module(f"{package}.transports")


def _warn_if_fork_unsafe() -> None:
    """Warn once per process when grpc was imported without fork support (see fork_support)."""
    global _fork_warning_given
    if _fork_warning_given or grpc_fork_support_active() is not False:
        return
    _fork_warning_given = True
    log.warning(
        "gRPC fork support is off (%s was not 1 when grpc was first imported), so gRPC clients "
        "in forked processes may hang; set %s=1 in the environment of Airflow's workers",
        FORK_SUPPORT_ENV,
        FORK_SUPPORT_ENV,
    )
