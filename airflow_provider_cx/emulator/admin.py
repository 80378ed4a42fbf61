"""The emulator's admin interface: call counts, caller records, faults and operation delay at run time.

It is a gRPC service on the emulator's own port (so it works wherever the emulator is reachable,
TLS included) whose requests and responses are JSON documents. :class:`AdminClient` wraps it::

    admin = AdminClient(channel)          # e.g. server.channel() or grpc.insecure_channel(address)
    admin.stats()                         # {"counts": {"/google...Agents/GetAgent": 3}, "callers": [...]}
    admin.set_faults({"seed": 1, "methods": {"*": {"error_rate": 0.3}}})
    admin.set_operation_delay(2.0)
    admin.reset_stats()

Its own calls are not counted and never fail by injection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import grpc

from airflow_provider_cx.emulator.errors import InvalidArgument
from airflow_provider_cx.emulator.faults import FaultPlan, FaultSpecError
from airflow_provider_cx.emulator.operations import check_delay
from airflow_provider_cx.emulator.rpc import Service, rpc

ADMIN_SERVICE = "cx.emulator.v1.Admin"


@dataclass(frozen=True)
class MalformedJson:
    """What a request that is not JSON deserializes to; the method answers INVALID_ARGUMENT.

    Raising in the deserializer would make grpc answer INTERNAL "Exception deserializing request!"
    without running the method, so the problem is carried to the method instead.
    """

    problem: str


class JsonDocument:
    """A (de)serializer pair standing in for a protobuf class: the payload is UTF-8 JSON."""

    @staticmethod
    def FromString(data: bytes) -> Any:
        try:
            return json.loads(data.decode() or "{}")
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            return MalformedJson(f"admin request is not JSON: {err}")

    @staticmethod
    def SerializeToString(value: Any) -> bytes:
        return json.dumps(value, sort_keys=True).encode()


class AdminService(Service):
    SERVICE = ADMIN_SERVICE
    ACCOUNTED = False

    @rpc(JsonDocument, JsonDocument)
    def get_stats(self, request: Any, context: grpc.ServicerContext) -> Any:
        _document(request)
        return self.backend.calls.snapshot()

    @rpc(JsonDocument, JsonDocument)
    def reset_stats(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.backend.calls.reset()
        return {}

    @rpc(JsonDocument, JsonDocument)
    def get_faults(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.backend.faults.plan.to_dict()

    @rpc(JsonDocument, JsonDocument)
    def set_faults(self, request: Any, context: grpc.ServicerContext) -> Any:
        request = _document(request)
        if not isinstance(request, dict):
            # FaultPlan.parse reads a string as a file path: the admin interface takes JSON objects only.
            raise InvalidArgument("set_faults needs a fault plan as a JSON object")
        try:
            plan = FaultPlan.parse(request or None)
        except FaultSpecError as err:
            raise InvalidArgument(str(err)) from err
        self.backend.faults.set_plan(plan)
        return plan.to_dict()

    @rpc(JsonDocument, JsonDocument)
    def set_operation_delay(self, request: Any, context: grpc.ServicerContext) -> Any:
        request = _document(request)
        if not isinstance(request, dict) or "seconds" not in request:
            raise InvalidArgument('set_operation_delay needs {"seconds": <number from 0 to 3600>}')
        seconds = check_delay(request["seconds"])
        self.backend.operations.delay = seconds
        return {"seconds": seconds}


def _document(request: Any) -> Any:
    """The request's JSON, or INVALID_ARGUMENT if it was not JSON."""
    if isinstance(request, MalformedJson):
        raise InvalidArgument(request.problem)
    return request


class AdminClient:
    """Calls the admin service over an existing channel."""

    def __init__(self, channel: grpc.Channel, timeout: float = 10.0) -> None:
        self._channel = channel
        self._timeout = timeout

    def _call(self, method: str, body: Any = None) -> Any:
        stub = self._channel.unary_unary(
            f"/{ADMIN_SERVICE}/{method}",
            request_serializer=JsonDocument.SerializeToString,
            response_deserializer=JsonDocument.FromString,
        )
        return stub(body if body is not None else {}, timeout=self._timeout)

    def stats(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("GetStats"))

    def counts(self) -> dict[str, int]:
        return cast(dict[str, int], self.stats()["counts"])

    def reset_stats(self) -> None:
        self._call("ResetStats")

    def faults(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("GetFaults"))

    def set_faults(self, plan: dict[str, Any] | None) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("SetFaults", plan or {}))

    def set_operation_delay(self, seconds: float) -> None:
        self._call("SetOperationDelay", {"seconds": seconds})
