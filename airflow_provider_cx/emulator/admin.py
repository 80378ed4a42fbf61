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
from typing import Any

import grpc

from airflow_provider_cx.emulator.errors import InvalidArgument
from airflow_provider_cx.emulator.faults import FaultPlan, FaultSpecError
from airflow_provider_cx.emulator.rpc import Service, rpc

ADMIN_SERVICE = "cx.emulator.v1.Admin"


class JsonDocument:
    """A (de)serializer pair standing in for a protobuf class: the payload is UTF-8 JSON."""

    @staticmethod
    def FromString(data: bytes) -> Any:
        try:
            return json.loads(data.decode() or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InvalidArgument(f"admin request is not JSON: {err}") from err

    @staticmethod
    def SerializeToString(value: Any) -> bytes:
        return json.dumps(value, sort_keys=True).encode()


class AdminService(Service):
    SERVICE = ADMIN_SERVICE
    ACCOUNTED = False

    @rpc(JsonDocument, JsonDocument)
    def get_stats(self, request: Any, context: grpc.ServicerContext) -> Any:
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
        try:
            plan = FaultPlan.parse(request or None)
        except FaultSpecError as err:
            raise InvalidArgument(str(err)) from err
        self.backend.faults.set_plan(plan)
        return plan.to_dict()

    @rpc(JsonDocument, JsonDocument)
    def set_operation_delay(self, request: Any, context: grpc.ServicerContext) -> Any:
        seconds = request.get("seconds") if isinstance(request, dict) else None
        if not isinstance(seconds, int | float) or seconds < 0:
            raise InvalidArgument('set_operation_delay needs {"seconds": <non-negative number>}')
        self.backend.operations.delay = float(seconds)
        return {"seconds": float(seconds)}


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
        return self._call("GetStats")

    def counts(self) -> dict[str, int]:
        return self.stats()["counts"]

    def reset_stats(self) -> None:
        self._call("ResetStats")

    def faults(self) -> dict[str, Any]:
        return self._call("GetFaults")

    def set_faults(self, plan: dict[str, Any] | None) -> dict[str, Any]:
        return self._call("SetFaults", plan or {})

    def set_operation_delay(self, seconds: float) -> None:
        self._call("SetOperationDelay", {"seconds": seconds})
