"""Waiting on CX long-running operations (export, restore, deploy, batch test runs, ...).

Waits poll on the schedule of :class:`PollingPolicy`: exponential backoff up to ``max_delay`` plus a
little jitter, the same schedule the async hook keeps (api_core's own polling draws each pause
uniformly from zero to the backoff, which makes more calls for the same wait). Each poll is one
``GetOperation``, retried on transient errors like any read.

:func:`wait_until_done` polls by name and returns the finished ``Operation`` message unread, so that
:func:`operation_result` is the one place a response is unpacked, in the worker and after a
deferral alike. That matters for exports, whose response is the whole package:
:func:`operation_result` lets go of the ``Operation`` before it parses, so the package is not held
as message, bytes and result at once. :func:`wait_for_operation` waits on api_core's future instead.

Failures become exceptions that name the operation: :class:`CXOperationFailedError` (finished with
an error status, carrying its code and message) and :class:`CXOperationTimeoutError` (still running
when the wait gave up; the server-side operation is left alone and can be cancelled).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_cx.hooks.errors import CXOperationFailedError, CXOperationTimeoutError
from airflow_provider_cx.hooks.retry import (
    CallKind,
    RetryPolicy,
    exponential_backoff,
    is_retryable,
    status_code_name,
)

if TYPE_CHECKING:
    from google.api_core.operation import Operation
    from google.longrunning import operations_pb2

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollingPolicy:
    """How often to ask whether an operation is done, and for how long (seconds)."""

    initial_delay: float = 1.0
    #: The longest pause (the operators' ``poll_interval``).
    max_delay: float = 10.0
    multiplier: float = 1.5
    #: Random extra seconds per poll (the sync wait uses at most half of ``initial_delay``).
    jitter: float = 0.5
    #: Overall time to wait for the operation; ``None`` waits for ever.
    timeout: float | None = 3600.0

    def __post_init__(self) -> None:
        if self.initial_delay <= 0 or self.max_delay < self.initial_delay or self.multiplier < 1:
            raise ValueError(
                "polling needs 0 < initial_delay <= max_delay and multiplier >= 1, got "
                f"{self.initial_delay}, {self.max_delay}, {self.multiplier}"
            )
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"polling timeout must be positive or None, got {self.timeout}")


DEFAULT_POLLING = PollingPolicy()


def wait_for_operation(
    operation: Operation,
    *,
    polling: PollingPolicy = DEFAULT_POLLING,
    rpc_policy: RetryPolicy,
    timeout: float | None = None,
    logger: Any = log,
) -> Any:
    """Block until ``operation`` is done and return its result message.

    ``timeout`` overrides ``polling.timeout``. Raises :class:`CXOperationFailedError` or
    :class:`CXOperationTimeoutError`; an error of the polling RPC itself propagates unchanged.
    """
    import tenacity
    from google.api_core import exceptions

    name = operation.operation.name
    overall = timeout if timeout is not None else polling.timeout
    rpc_retry = _poll_rpc_retry(name, rpc_policy, logger)
    until_done = tenacity.Retrying(
        retry=tenacity.retry_if_result(lambda done: not done),
        wait=_poll_wait(polling),
        stop=tenacity.stop_before_delay(overall) if overall else tenacity.stop_never,
        retry_error_callback=lambda state: False,
    )
    logger.info("waiting for operation %s (timeout %s)", name, f"{overall:g}s" if overall else "none")
    if not until_done(operation.done, retry=rpc_retry):
        raise CXOperationTimeoutError(name, overall or 0)
    try:
        return operation.result(retry=rpc_retry)  # type: ignore[no-untyped-call]  # done: result or error known
    except exceptions.GoogleAPICallError as error:
        failure = operation_error(operation.operation)
        if failure is not None:
            raise failure from error
        raise


def operation_error(operation: operations_pb2.Operation) -> CXOperationFailedError | None:
    """The error a finished operation ended with, or ``None`` (running or succeeded)."""
    if not operation.done or not operation.HasField("error"):
        return None
    return CXOperationFailedError(
        operation.name, _code_name(operation.error.code), operation.error.message or "(no message)"
    )


def operation_result(operation: operations_pb2.Operation, result_type: Any) -> Any:
    """Unpack the response of a finished operation as ``result_type`` (a proto-plus or protobuf class).

    Same checks and result as api_core's ``from_any_pb``, in an order that keeps a large response
    (an export's package) in memory at most twice: the ``Any``'s bytes are taken out and the
    ``Operation`` is let go (freed if the caller passed the only reference, as operators do) before
    the bytes are parsed. Raises :class:`CXOperationFailedError` for a failed operation, ``ValueError``
    for an unfinished one and ``TypeError`` for a response of another type.
    """
    failure = operation_error(operation)
    if failure is not None:
        raise failure
    if not operation.done:
        raise ValueError(f"operation {operation.name} is not done yet; wait for it before reading its result")
    response = operation.response
    type_url, value = response.type_url, response.value
    del operation, response
    pb_class = result_type.pb() if callable(getattr(result_type, "pb", None)) else result_type
    expected = pb_class.DESCRIPTOR.full_name
    if "/" not in type_url or type_url.rpartition("/")[2] != expected:
        raise TypeError(f"operation response of type {type_url or '(none)'!r} is not a {expected}")
    message = pb_class.FromString(value)
    return message if pb_class is result_type else result_type.wrap(message)


def wait_until_done(
    operation: operations_pb2.Operation,
    get_operation: Callable[[str], operations_pb2.Operation],
    *,
    polling: PollingPolicy = DEFAULT_POLLING,
    timeout: float | None = None,
    logger: Any = log,
) -> operations_pb2.Operation:
    """Poll ``get_operation(name)`` on the schedule of ``polling`` until done; return the finished ``Operation``.

    ``operation`` is the operation as last seen (returned at once if already done);
    ``get_operation`` is one GetOperation with the caller's retry policy (the hook's
    ``get_operation``). Nothing is unpacked here (see :func:`operation_result`); a failed operation
    is returned like a successful one. ``timeout`` overrides ``polling.timeout``; still running
    then: :class:`CXOperationTimeoutError`.
    """
    import tenacity

    name = operation.name
    if operation.done:
        return operation
    overall = timeout if timeout is not None else polling.timeout
    until_done = tenacity.Retrying(**until_done_schedule(polling, overall))
    logger.info("waiting for operation %s (timeout %s)", name, f"{overall:g}s" if overall else "none")
    finished = until_done(get_operation, name)
    if finished is None:
        raise CXOperationTimeoutError(name, overall or 0)
    return finished


def until_done_schedule(polling: PollingPolicy, overall: float | None) -> dict[str, Any]:
    """tenacity arguments (sync or async) that repeat a GetOperation until the operation is done.

    The pauses follow ``polling``; after ``overall`` seconds (``None`` or 0: never) the poll gives up
    and returns ``None`` instead of an operation.
    """
    import tenacity

    return {
        "retry": tenacity.retry_if_result(lambda latest: not latest.done),
        "wait": _poll_wait(polling),
        "stop": tenacity.stop_before_delay(overall) if overall else tenacity.stop_never,
        "retry_error_callback": lambda state: None,
    }


def _poll_wait(polling: PollingPolicy) -> Any:
    """The pause between polls: exponential backoff capped at ``max_delay``.

    Jitter is at most half the first pause, so that short intervals (tests, quick operations) stay short.
    """
    return exponential_backoff(
        polling.initial_delay, polling.max_delay, polling.multiplier, min(polling.jitter, polling.initial_delay / 2)
    )


def _poll_rpc_retry(name: str, policy: RetryPolicy, logger: Any) -> Any:
    """A google.api_core Retry for one GetOperation poll, with the READ kind's codes, logged."""
    from google.api_core import retry as api_retry

    attempts = itertools.count(1)

    def log_error(error: Exception) -> None:
        logger.warning(
            "polling operation %s failed with %s (attempt %d); retrying",
            name,
            status_code_name(error),
            next(attempts),
        )

    return api_retry.Retry(
        predicate=lambda error: is_retryable(error, CallKind.READ),
        initial=max(policy.initial_delay, 0.01),
        maximum=max(policy.max_delay, 0.01),
        multiplier=policy.multiplier,
        timeout=policy.deadline,
        on_error=log_error,
    )


def _code_name(code: int) -> str:
    from google.rpc import code_pb2

    try:
        return str(code_pb2.Code.Name(code))
    except ValueError:
        return f"code {code}"
