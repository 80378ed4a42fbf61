"""The API versions the emulator speaks: ``google.cloud.dialogflow.cx.v3`` and ``…v3beta1``.

Every servicer is written once, against the v3 messages. The v3 messages are a wire-compatible
subset of v3beta1 (same field numbers, names and types for every shared field), so a v3beta1 call
is served by the same method: its request bytes parse as the v3 request, v3beta1-only fields riding
along as unknown fields, and the v3 response bytes parse as the v3beta1 response.

What the v3 descriptors cannot do is put those extra fields into the package JSON, or read them back
out. So the call's version is kept in a context variable while it runs, and the conversion layer
(``convert.py``) asks :func:`for_caller` / :func:`as_caller` for the caller's twin of a message:
the v3beta1 class when the caller speaks v3beta1, the v3 class itself otherwise. Long-running
operations started by a v3beta1 call pack their response and metadata as v3beta1 messages, so their
type URLs name the caller's version (:func:`in_caller_version`).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

from airflow_provider_cx.emulator.operations import Finished

V3 = "google.cloud.dialogflow.cx.v3"
V3BETA1 = "google.cloud.dialogflow.cx.v3beta1"
PACKAGES = (V3, V3BETA1)

M = TypeVar("M", bound=Message)
F = TypeVar("F", bound=Callable[..., Any])
_caller: contextvars.ContextVar[str] = contextvars.ContextVar("cx_api_package", default=V3)


def caller_package() -> str:
    """The proto package of the call being served (v3 outside any call)."""
    return _caller.get()


@contextmanager
def speaking(package: str) -> Iterator[None]:
    """Serve the enclosed code as a call in ``package`` (one of :data:`PACKAGES`)."""
    if package not in PACKAGES:
        raise ValueError(f"unknown API package {package!r}; expected one of {', '.join(PACKAGES)}")
    token = _caller.set(package)
    try:
        yield
    finally:
        _caller.reset(token)


def serving(package: str, func: F) -> F:
    """``func`` wrapped to run as a call in ``package`` (grpc threads are reused across calls)."""

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        with speaking(package):
            return func(*args, **kwargs)

    return call  # type: ignore[return-value]


def service_in(service_name: str, package: str) -> str | None:
    """``google.cloud.dialogflow.cx.v3.Flows`` as named in ``package``; None if not a CX service."""
    prefix = V3 + "."
    if not service_name.startswith(prefix):
        return None
    return f"{package}.{service_name[len(prefix) :]}"


# --- message twins --------------------------------------------------------------------------------
def _ensure_beta_loaded() -> None:
    # The v3beta1 descriptors enter the default pool when their modules are imported.
    import google.cloud.dialogflowcx_v3beta1.types  # noqa: F401


@functools.cache
def _twin_class(full_name: str, package: str) -> type[Message] | None:
    if not full_name.startswith(V3 + ".") or package == V3:
        return None
    _ensure_beta_loaded()
    twin_name = package + full_name[len(V3) :]
    try:
        desc = descriptor_pool.Default().FindMessageTypeByName(twin_name)
    except KeyError:
        return None  # a v3-only message: the caller gets the v3 shape
    return message_factory.GetMessageClass(desc)


def for_caller(message_cls: type[M]) -> type[Message]:
    """The class the caller speaks for ``message_cls`` (a v3 class): its v3beta1 twin, or itself."""
    twin = _twin_class(message_cls.DESCRIPTOR.full_name, caller_package())
    return twin if twin is not None else message_cls


def caller_descriptor(descriptor: Descriptor) -> Descriptor:
    """The descriptor the caller speaks for a v3 ``descriptor``."""
    twin = _twin_class(descriptor.full_name, caller_package())
    return cast(Descriptor, twin.DESCRIPTOR) if twin is not None else descriptor


def as_caller(message: Message) -> Message:
    """``message`` (v3, maybe carrying v3beta1 fields as unknown fields) as the caller's twin."""
    return as_caller_in(message, caller_package())


def as_served(message: Message, served_cls: type[M]) -> M:
    """``message`` (any twin) as ``served_cls``; fields it does not know stay as unknown fields."""
    if isinstance(message, served_cls):
        return message
    return _reparse(message, served_cls)


def _reparse(message: Message, cls: type[M]) -> M:
    return cls.FromString(message.SerializeToString())


def in_caller_version(work: Callable[[], Any], metadata: Message | None) -> tuple[Callable[[], Any], Message | None]:
    """An operation's work and metadata, answering in the version of the call that started it.

    The work runs later on the operations thread; it runs in a copy of the starting call's context
    (so conversions inside it see the caller's version) and its response becomes the caller's twin,
    which is what gives the packed ``Any`` the caller's type URL.
    """
    package = caller_package()
    if package == V3:
        return work, metadata
    context = contextvars.copy_context()

    def run() -> Any:
        response = context.run(work)
        if isinstance(response, Finished):  # response and metadata known only at the end
            return Finished(as_caller_in(response.response, package), as_caller_in(response.metadata, package))
        return as_caller_in(response, package) if isinstance(response, Message) else response

    return run, (as_caller_in(metadata, package) if metadata is not None else None)


def as_caller_in(message: Message, package: str) -> Message:
    """``message`` as its twin in ``package`` (outside a call's context)."""
    twin = _twin_class(message.DESCRIPTOR.full_name, package)
    return _reparse(message, twin) if twin is not None else message
