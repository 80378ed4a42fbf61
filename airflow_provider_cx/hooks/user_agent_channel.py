"""Giving api_core's Operations clients the provider's user agent.

The CX service clients take a ``ClientInfo``, so each of their calls names the provider and the
process that built the client (:func:`.clients.client_info`). api_core's ``OperationsClient`` and
``OperationsAsyncClient`` take none and send api_core's default ``x-goog-api-client``: the operation
polls of a task or a trigger, most of a long run's calls, would not say where they came from. The
channel below replaces that header on every call such a client makes; everything else about the
call, and every other use of the channel, is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

API_CLIENT_HEADER = "x-goog-api-client"
Metadata = list[tuple[str, str]]


def with_api_client_header(metadata: Iterable[tuple[str, str]] | None, header: tuple[str, str]) -> Metadata:
    """``metadata`` with ``header`` as its only ``x-goog-api-client`` entry."""
    return [(key, value) for key, value in metadata or () if key != API_CLIENT_HEADER] + [header]


class UserAgentChannel:
    """A gRPC channel (sync or asyncio) whose unary calls carry ``client_info``'s ``x-goog-api-client``.

    The Operations clients only ask their channel for ``unary_unary`` stubs; any other attribute is the
    wrapped channel's.
    """

    def __init__(self, channel: Any, client_info: Any) -> None:
        self._channel = channel
        self._header = (API_CLIENT_HEADER, client_info.to_user_agent())

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> _WithUserAgent:
        return _WithUserAgent(self._channel.unary_unary(method, *args, **kwargs), self._header)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._channel, name)


class _WithUserAgent:
    """A unary multi-callable whose direct calls (the only kind api_core makes) carry ``header``."""

    def __init__(self, multi_callable: Any, header: tuple[str, str]) -> None:
        self._multi_callable = multi_callable
        self._header = header

    def __call__(self, request: Any, timeout: float | None = None, metadata: Any = None, **kwargs: Any) -> Any:
        return self._multi_callable(
            request, timeout=timeout, metadata=with_api_client_header(metadata, self._header), **kwargs
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._multi_callable, name)
