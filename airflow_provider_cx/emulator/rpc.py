"""How a service is declared and turned into a gRPC handler.

A service is a :class:`Service` subclass naming its proto service (``SERVICE``) and defining one
method per RPC, decorated with :func:`rpc` (request and response types). Methods receive the raw
protobuf request and return the raw protobuf response; they raise :class:`ServiceError` subclasses
for failures. :func:`generic_handler` wraps every method with the backend's call accounting, fault
injection and error mapping, and registers it under ``/<SERVICE>/<MethodName>``.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import grpc

from airflow_provider_cx.emulator.errors import InvalidArgument, status_of
from airflow_provider_cx.emulator.names import check_request_names

if TYPE_CHECKING:
    from airflow_provider_cx.emulator.backend import Backend

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def pb(message_type: Any) -> Any:
    """The protobuf class of a proto-plus type (or the class itself if it already is one)."""
    return message_type.pb() if hasattr(message_type, "pb") and hasattr(message_type, "meta") else message_type


@dataclass(frozen=True)
class RpcSpec:
    method: str
    request: Any
    response: Any


def rpc(request_type: Any, response_type: Any, method: str | None = None) -> Callable[[T], T]:
    """Declare a servicer method as an RPC; the RPC name defaults to the CamelCase of the function."""

    def decorate(func: T) -> T:
        name = method or "".join(part.capitalize() for part in func.__name__.split("_"))  # type: ignore[attr-defined]
        func.__rpc__ = RpcSpec(name, pb(request_type), pb(response_type))  # type: ignore[attr-defined]
        return func

    return decorate


class Service:
    """Base of every servicer: holds the backend and lists its RPCs."""

    SERVICE: ClassVar[str] = ""
    # False for the emulator's own admin service: its calls are neither counted nor fault-injected.
    ACCOUNTED: ClassVar[bool] = True

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @classmethod
    def rpc_specs(cls) -> dict[str, tuple[str, RpcSpec]]:
        """``{RpcName: (python attribute, spec)}`` for every decorated method."""
        specs = {}
        for attr in dir(cls):
            spec = getattr(getattr(cls, attr, None), "__rpc__", None)
            if isinstance(spec, RpcSpec):
                specs[spec.method] = (attr, spec)
        return specs


def generic_handler(
    service: Service, name: str | None = None, around: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None
) -> grpc.GenericRpcHandler:
    """The handler of ``service`` under its ``SERVICE`` name, or under ``name`` (another API version).

    ``around`` wraps each method before the accounting/error mapping (``api_version.serving``).
    """
    name = name or service.SERVICE
    handlers = {}
    for method, (attr, spec) in service.rpc_specs().items():
        func = getattr(service, attr)
        handlers[method] = grpc.unary_unary_rpc_method_handler(
            _wrap(service, f"/{name}/{method}", around(func) if around is not None else func),
            request_deserializer=spec.request.FromString,
            response_serializer=spec.response.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(name, handlers)


def _wrap(
    service: Service, full_method: str, func: Callable[[Any, grpc.ServicerContext], Any]
) -> Callable[[Any, grpc.ServicerContext], Any]:
    backend = service.backend
    accounted = service.ACCOUNTED

    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            if accounted:
                backend.before_call(full_method, context)
                check_request_names(request)
            return func(request, context)
        except Exception as err:
            refused = status_of(err)
            if refused is None:  # a bug: report it to the caller instead of a bare "unknown error"
                log.exception("emulator: %s failed", full_method)
                refused = grpc.StatusCode.INTERNAL, f"emulator error in {full_method}: {type(err).__name__}: {err}"
            code, message = refused
        context.abort(code, message)

    return handle


# --- pagination -----------------------------------------------------------------------------------
def paginate(items: Sequence[T], page_size: int, page_token: str) -> tuple[list[T], str]:
    """One page of ``items`` and the token of the next page ("" when this is the last)."""
    if page_size < 0:
        raise InvalidArgument(f"page_size must not be negative, got {page_size}")
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    start = _decode_token(page_token) if page_token else 0
    if start > len(items):
        raise InvalidArgument(f"page_token {page_token!r} is past the end of the list")
    end = start + size
    return list(items[start:end]), (_encode_token(end) if end < len(items) else "")


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        prefix, _, value = text.partition(":")
        if prefix != "offset":
            raise ValueError(text)
        offset = int(value)
        if offset < 0 or str(offset) != value:
            raise ValueError(text)
        return offset
    except (ValueError, binascii.Error, UnicodeDecodeError) as err:
        raise InvalidArgument(f"page_token {token!r} is not a token this server issued") from err
