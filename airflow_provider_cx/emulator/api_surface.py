"""The v3beta1 surface: every v3 servicer registered again under its v3beta1 service name.

Kept apart from :mod:`.api_version` (message twins and the caller's version), which the backend and
the conversion layer use: this module needs the RPC layer, which needs the backend.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import grpc

from airflow_provider_cx.emulator.api_version import V3BETA1, service_in, serving
from airflow_provider_cx.emulator.rpc import Service, generic_handler


def other_version_handlers(services: Iterable[Service]) -> list[grpc.GenericRpcHandler]:
    """The v3beta1 handlers of every v3 servicer: same methods, same servicer, same store."""
    handlers = []
    for service in services:
        name = service_in(service.SERVICE, V3BETA1)
        if name is not None:
            handlers.append(generic_handler(service, name, functools.partial(serving, V3BETA1)))
    return handlers
