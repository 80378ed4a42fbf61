"""Create a resource exactly once, even when a create call's outcome is unknown.

Creates with server-assigned ids (CreateVersion, CreateEnvironment) are not idempotent: UNAVAILABLE
or DEADLINE_EXCEEDED can arrive *after* the server applied the request, and repeating it then makes
a second resource. The hook therefore retries creates only on RESOURCE_EXHAUSTED
(:mod:`airflow_provider_cx.hooks.retry`); :func:`create_or_adopt` handles the ambiguous failures:

1. look for the resource first (the caller marks what it creates, e.g. a release id in a version's
   description, so ``find`` can recognise it) and adopt it if it is there;
2. otherwise create it and wait for the operation;
3. when a step fails with an ambiguous status, first let every create that may still be in flight
   finish — the operation we started, if we know its name, and the location's unfinished
   operations whose metadata is ``pending_metadata`` (the lost create may be among them) — then go
   back to 1. ALREADY_EXISTS (from the call or the operation) also means "adopt".

Attempts and backoff follow the hook's retry policy (tenacity); the last error is re-raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import tenacity

from airflow_provider_cx.hooks.errors import CXOperationFailedError
from airflow_provider_cx.hooks.retry import exponential_backoff, status_code_name, stop_condition

if TYPE_CHECKING:
    from google.api_core.operation import Operation

    from airflow_provider_cx.hooks.operation_calls import OperationCalls

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Status codes after which a create may or may not have been applied.
AMBIGUOUS_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED", "UNKNOWN"})


class _AlreadyExists(Exception):
    """The server refused the create because the resource exists: look it up and adopt it."""


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """The resource, and whether this call created it (``False``: an existing one was adopted)."""

    resource: T
    created: bool


@dataclass(frozen=True)
class StartedCreate:
    """What a ``wait`` that does not wait returns: the started create's operation, waited for later.

    The deferrable path of CXCreateVersionsOperator waits for several at once, in one trigger.
    """

    operation_name: str


def is_ambiguous(error: BaseException) -> bool:
    return status_code_name(error) in AMBIGUOUS_CODES


def create_or_adopt(
    hook: OperationCalls,
    *,
    what: str,
    find: Callable[[], T | None],
    create: Callable[[], Operation],
    result_type: type,
    location_name: str,
    pending_metadata: str | None = None,
    timeout: float | None = None,
    wait: Callable[[Operation], T] | None = None,
    track: Callable[[str], AbstractContextManager[Any]] | None = None,
) -> Outcome[T]:
    """Find-or-create ``what`` once (see the module docstring).

    :param find: the existing resource, or ``None``; must recognise what ``create`` makes.
    :param create: starts the create (e.g. ``hook.create_version(...)``) and returns its operation.
    :param result_type: the message the operation's response holds (the created resource's type).
    :param location_name: ``projects/P/locations/L`` whose operations may hold a lost create.
    :param pending_metadata: full proto name of the create's operation metadata (e.g.
        ``google.cloud.dialogflow.cx.v3.CreateVersionOperationMetadata``); ``None`` when the server
        itself refuses duplicates (ALREADY_EXISTS), so only our own operation needs to settle.
    :param timeout: seconds to wait for one operation.
    :param wait: waits for the started create and returns the resource (default: in this process,
        with the hook). A deferrable operator passes one that defers (its ``TaskDeferred`` passes
        through unchanged, and the operator resumes with the operation's result), or one that returns
        a stand-in for the started operation, to wait for several creates at once afterwards.
    :param track: entered with the operation's name around the default wait (an operator's
        ``running_operation``, so that killing the task cancels the create).
    """
    started: list[str] = []

    def attempt() -> Outcome[T]:
        found = find()
        if found is not None:
            log.info("adopting existing %s %s", what, getattr(found, "name", found))
            return Outcome(found, created=False)
        try:
            operation = _start(create)
            started.append(operation.operation.name)
            if wait is not None:
                result = wait(operation)
            else:
                with track(operation.operation.name) if track else nullcontext():
                    result = _wait(hook, operation, result_type, timeout)
        except _AlreadyExists:
            found = find()
            if found is None:
                raise
            log.info("%s already existed; adopting %s", what, getattr(found, "name", found))
            return Outcome(found, created=False)
        log.info("created %s %s", what, getattr(result, "name", result))
        return Outcome(result, created=True)

    def settle(retry_state: tenacity.RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        log.warning(
            "creating %s failed with %s (attempt %d); it may have been applied: letting pending creates "
            "finish, then looking for it before creating again",
            what,
            status_code_name(error) if error else "?",
            retry_state.attempt_number,
        )
        pending = list(started)
        if pending_metadata:
            pending += hook.unfinished_operations(location_name, pending_metadata)
        for name in dict.fromkeys(pending):
            hook.wait_until_settled(name, timeout)

    policy = hook.retry_policy
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_ambiguous),
        wait=exponential_backoff(policy.initial_delay, policy.max_delay, policy.multiplier, policy.jitter),
        stop=stop_condition(policy),
        before_sleep=settle,
        reraise=True,
    )
    return retrying(attempt)


def _start(create: Callable[[], Operation]) -> Operation:
    """``create()``; ALREADY_EXISTS becomes :class:`_AlreadyExists`."""
    from google.api_core import exceptions

    try:
        return create()
    except exceptions.AlreadyExists as error:
        raise _AlreadyExists(str(error)) from error


def _wait(hook: OperationCalls, operation: Operation, result_type: type, timeout: float | None) -> Any:
    """The created resource, polled for by name with the hook's operations client, as operators wait."""
    try:
        return hook.wait_for_result(operation.operation, result_type, timeout=timeout)
    except CXOperationFailedError as error:
        if error.code == "ALREADY_EXISTS":
            raise _AlreadyExists(str(error)) from error
        raise
