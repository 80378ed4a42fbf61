"""RestoreAgent with an inline package, holding the package at most twice while it is sent.

The stock call holds an inline package three times at its peak: the protobuf request, its
serialized bytes, and gRPC's copy of those bytes (and upb's serializer passes through a buffer of
its own on the way), about 3x the package, over issue 8's budget. No ordering of the stock call
avoids it: the message must exist while the client serializes it, and the serialized bytes while
gRPC copies them.

Here the request's wire bytes are built once, straight from the package bytes, and handed to gRPC
as they are. Protobuf encodes a message as its fields' encodings in field-number order, so
``name`` (1), then ``agent_content`` (3), then ``restore_option`` (5) is byte for byte what the
stock serializer sends. Everything else is the stock client on the hook's channel: the client's
``restore_agent`` builds the routing header from the request it is given (every field but the
content), the transport adds the user agent and timeouts, the operation future is the usual one,
and the hook's retry policy wraps the call (a retry sends the same bytes again). The only
difference is the RestoreAgent stub's serializer: it returns the prepared bytes, after checking
that the request it was given is the one they were prepared for.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud.dialogflowcx_v3 import AgentsClient, RestoreAgentRequest

#: The gRPC method of ``Agents.RestoreAgent`` (as the stock transport names it).
RESTORE_AGENT_METHOD = "/google.cloud.dialogflow.cx.v3.Agents/RestoreAgent"
#: Field number of ``RestoreAgentRequest.agent_content``.
_AGENT_CONTENT_FIELD = 3
_LENGTH_DELIMITED = 2


class SerializedRestoreRequest:
    """A RestoreAgentRequest for ``content`` (package bytes), serialized once.

    ``request`` is the message the client is given (name and restore option, no content);
    ``wire`` is the whole request as sent. The caller should drop its own reference to ``content``
    once this exists: from then on ``wire`` is the only copy of the package.
    """

    def __init__(self, name: str, restore_option: int, content: bytes) -> None:
        from google.cloud.dialogflowcx_v3 import RestoreAgentRequest

        self.request: RestoreAgentRequest = RestoreAgentRequest(name=name, restore_option=restore_option)
        self._envelope = RestoreAgentRequest.serialize(self.request)
        head = RestoreAgentRequest.serialize(RestoreAgentRequest(name=name))
        tail = RestoreAgentRequest.serialize(RestoreAgentRequest(restore_option=restore_option))
        if head + tail != self._envelope:  # the fields around the content: name before it, option after
            raise ValueError(f"cannot place agent_content between the other fields of {self.request!r}")
        key = _varint(_AGENT_CONTENT_FIELD << 3 | _LENGTH_DELIMITED) + _varint(len(content))
        self.wire = b"".join((head, key, content, tail))

    def serialize(self, request: Any) -> bytes:
        """The prepared bytes, for the request they were prepared for (the RestoreAgent stub's serializer)."""
        from google.cloud.dialogflowcx_v3 import RestoreAgentRequest

        if not isinstance(request, RestoreAgentRequest) or RestoreAgentRequest.serialize(request) != self._envelope:
            raise ValueError(f"this client sends the restore of {self.request.name} only; got {request!r}")
        return self.wire


def create_restore_client(channel: Any, client_info: Any, prepared: SerializedRestoreRequest) -> AgentsClient:
    """A stock ``AgentsClient`` on ``channel`` whose ``restore_agent`` sends ``prepared.wire``.

    Not to be cached: it holds the package until it is dropped.
    """
    from google.cloud.dialogflowcx_v3 import AgentsClient

    return AgentsClient(transport=_transport_class()(prepared, channel=channel, client_info=client_info))


@functools.cache
def _transport_class() -> type:
    """``AgentsGrpcTransport`` with a RestoreAgent stub that passes prepared bytes through.

    Defined on first use, so that importing this module imports neither grpc nor the CX library.
    """
    from google.cloud.dialogflowcx_v3.services.agents.transports import AgentsGrpcTransport
    from google.longrunning import operations_pb2

    class PreparedRestoreTransport(AgentsGrpcTransport):
        def __init__(self, prepared: SerializedRestoreRequest, **kwargs: Any) -> None:
            self._prepared = prepared  # read by the stub, which the base class builds in __init__
            super().__init__(**kwargs)

        @property
        def restore_agent(self) -> Any:
            if "restore_agent" not in self._stubs:
                # The stock stub goes through the transport's logging interceptor; so does this one.
                channel = getattr(self, "_logged_channel", self.grpc_channel)
                self._stubs["restore_agent"] = channel.unary_unary(
                    RESTORE_AGENT_METHOD,
                    request_serializer=self._prepared.serialize,
                    response_deserializer=operations_pb2.Operation.FromString,
                )
            return self._stubs["restore_agent"]

    return PreparedRestoreTransport


def _varint(value: int) -> bytes:
    """Protobuf's base-128 varint encoding of a non-negative integer."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if not value:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)
