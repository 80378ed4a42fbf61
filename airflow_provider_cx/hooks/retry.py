"""Retrying CX RPCs with tenacity, by what a repeat of the call could do.

Usage (the hook wraps this as ``hook.call``)::

    agent = hook.call(client.get_agent, request={"name": agent_name})
    version = hook.call(client.create_version, parent=flow_name, version=v)   # not retried on UNAVAILABLE
    hook.call(my_helper, kind=CallKind.READ)                                   # explicit kind

The kind of a call is looked up by the method's name in :data:`METHOD_KINDS` (unknown names are
treated as :attr:`CallKind.NOT_IDEMPOTENT`, the safe side) or given with ``kind=``. Which status codes
are retried per kind:

=================  ===========  ==================  =======  =================
kind               UNAVAILABLE  RESOURCE_EXHAUSTED  ABORTED  DEADLINE_EXCEEDED
=================  ===========  ==================  =======  =================
READ               yes          yes                 yes      yes
IDEMPOTENT         yes          yes                 yes      no
NOT_IDEMPOTENT     no           yes                 no       no
=================  ===========  ==================  =======  =================

Why: UNAVAILABLE and DEADLINE_EXCEEDED can arrive after the server applied the request, so a repeat
is only safe when applying twice leaves the same state (IDEMPOTENT: updates with the same values,
deletes, loads, restores of the same content, exports, runs that only add a result record). A
DEADLINE_EXCEEDED write may still be running on the server, so it is not repeated at all. Quota
rejections (RESOURCE_EXHAUSTED) happen before any work is done, so every kind retries them, waiting
at least the delay the server asks for in its ``google.rpc.RetryInfo`` status detail.
NOT_IDEMPOTENT calls (creates with server-assigned ids, ``detect_intent`` which advances a session)
would duplicate work if repeated after an ambiguous failure.

Backoff is exponential with jitter (:class:`RetryPolicy`), bounded by attempts and an overall
deadline: no sleep is started that would end past the deadline. Every retry is logged at WARNING
with the method, status code and attempt number. The last error is re-raised unchanged (a
``google.api_core.exceptions.GoogleAPICallError``). Gapic methods get ``retry=None`` so that this is
the only retry layer, and ``timeout=`` the policy's per-attempt timeout unless the caller passes one.
The limits come from the defaults below, the connection's ``retry_*`` extras and the caller, in that
order (see :mod:`.policy_settings`).

Why the defaults (10 attempts, 1 s doubling to a 30 s cap, 300 s deadline): they only matter while
the API fails transiently, and then two cases decide them.

- Sustained faults. With independent failures at rate ``p`` a call is lost after ``n`` attempts with
  probability ``p**n``. The chaos run of issue 8 fails 30% of every RPC (Airflow task retries off);
  a release pipeline makes some 50 RPCs per environment (counted on the emulator: versions, deploy,
  test run, export, their LRO polls), a few hundred with smoke tests. Per call: ``n=5`` 2.4e-3 (the
  0.24% seen before; about half of 300-RPC runs failed), ``n=8`` 6.6e-5 (2% of runs), ``n=10``
  5.9e-6 (0.2% of runs). Ten attempts are the smallest count that makes such a run fail rarely.
- Real Google. Transient UNAVAILABLE clears within seconds (attempts 2-4); quota is per minute, and
  the backoff 1+2+4+8+16+30 s reaches into the next minute by the 7th attempt (a longer RetryInfo
  delay from the server wins). All ten attempts sleep at most 1+2+4+8+16+4*30 = 151 s (+ jitter), so a
  real outage fails a call within the 300 s deadline, well before a task's own timeout, and permanent
  errors (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, ...) are never retried at all.
"""

from __future__ import annotations

import enum
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity

T = TypeVar("T")

log = logging.getLogger(__name__)


class CallKind(enum.Enum):
    READ = "read"
    IDEMPOTENT = "idempotent"
    NOT_IDEMPOTENT = "not_idempotent"


RETRYABLE_CODES: dict[CallKind, frozenset[str]] = {
    CallKind.READ: frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED", "ABORTED", "DEADLINE_EXCEEDED"}),
    CallKind.IDEMPOTENT: frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED", "ABORTED"}),
    CallKind.NOT_IDEMPOTENT: frozenset({"RESOURCE_EXHAUSTED"}),
}

# Reads on every service, plus the operations and locations mixins. match_intent matches an
# utterance without changing the session.
_READ_METHODS = """
    get_agent list_agents get_agent_validation_result get_generative_settings get_flow list_flows
    get_flow_validation_result get_page list_pages get_intent list_intents get_entity_type
    list_entity_types get_webhook list_webhooks get_transition_route_group
    list_transition_route_groups get_version list_versions compare_versions get_environment
    list_environments lookup_environment_history list_continuous_test_results get_deployment
    list_deployments get_test_case list_test_cases calculate_coverage get_test_case_result
    list_test_case_results match_intent get_operation list_operations get_location list_locations
""".split()  # noqa: SIM905 (a table reads better as words)
# Repeating leaves the same state. deploy_flow (same flow version) and the test runs only add a
# deployment or result record when repeated. A repeated delete may answer NOT_FOUND for a delete
# that succeeded the first time; callers that delete treat NOT_FOUND as done.
_IDEMPOTENT_METHODS = """
    update_agent delete_agent export_agent restore_agent validate_agent update_generative_settings
    update_flow delete_flow train_flow validate_flow export_flow update_page delete_page
    update_intent delete_intent export_intents update_entity_type delete_entity_type
    export_entity_types update_webhook delete_webhook update_transition_route_group
    delete_transition_route_group update_version delete_version load_version update_environment
    delete_environment deploy_flow run_continuous_test run_test_case batch_run_test_cases
    update_test_case batch_delete_test_cases export_test_cases submit_answer_feedback
    cancel_operation delete_operation
""".split()  # noqa: SIM905 (a table reads better as words)
# A repeat would create a second resource or advance a conversation a second time.
_NOT_IDEMPOTENT_METHODS = """
    create_agent create_flow import_flow create_page create_intent import_intents create_entity_type
    import_entity_types create_webhook create_transition_route_group create_version
    create_environment create_test_case import_test_cases detect_intent streaming_detect_intent
    server_streaming_detect_intent fulfill_intent
""".split()  # noqa: SIM905 (a table reads better as words)

#: The per-method policy: every method of the CX v3 clients the hook hands out, plus operations.
METHOD_KINDS: dict[str, CallKind] = {
    **dict.fromkeys(_READ_METHODS, CallKind.READ),
    **dict.fromkeys(_IDEMPOTENT_METHODS, CallKind.IDEMPOTENT),
    **dict.fromkeys(_NOT_IDEMPOTENT_METHODS, CallKind.NOT_IDEMPOTENT),
}


@dataclass(frozen=True)
class RetryPolicy:
    """Limits for retrying one call: attempts, backoff and deadlines (seconds)."""

    max_attempts: int = 10
    initial_delay: float = 1.0
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 1.0
    #: Total time across attempts after which no new attempt starts; ``None`` for no limit.
    deadline: float | None = 300.0
    #: Timeout of each attempt, passed as the gapic ``timeout=`` unless the caller gives one.
    attempt_timeout: float | None = 180.0
    #: Upper bound on a server-requested RetryInfo delay, so a bad hint cannot stall a task for hours.
    max_server_delay: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        for name in ("initial_delay", "max_delay", "jitter", "max_server_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be at least 1, got {self.multiplier}")


DEFAULT_POLICY = RetryPolicy()


def kind_of(method: Callable[..., Any]) -> CallKind:
    """The kind of a client method, from :data:`METHOD_KINDS` by name; unknown is NOT_IDEMPOTENT."""
    return METHOD_KINDS.get(method_name(method), CallKind.NOT_IDEMPOTENT)


def method_name(method: Callable[..., Any]) -> str:
    return getattr(method, "__name__", None) or type(method).__name__


def status_code_name(error: BaseException) -> str | None:
    """``"UNAVAILABLE"`` etc. for a google.api_core or raw grpc error; ``None`` for anything else."""
    code = getattr(error, "grpc_status_code", None)
    if code is None and callable(getattr(error, "code", None)):
        try:
            code = error.code()  # type: ignore[attr-defined]
        except Exception:
            return None
    return getattr(code, "name", None)


def is_retryable(error: BaseException, kind: CallKind) -> bool:
    return status_code_name(error) in RETRYABLE_CODES[kind]


def server_retry_delay(error: BaseException) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail in the error's status, if the server sent one."""
    for detail in _status_details(error):
        if getattr(getattr(detail, "DESCRIPTOR", None), "full_name", None) == "google.rpc.RetryInfo":
            return float(detail.retry_delay.ToTimedelta().total_seconds())
    return None


def _status_details(error: BaseException) -> list[Any]:
    """Rich status details: google.api_core parses them already; raw grpc errors are parsed here."""
    details = getattr(error, "details", None)
    if isinstance(details, list | tuple):
        return list(details)
    if callable(getattr(error, "trailing_metadata", None)):
        from google.rpc import error_details_pb2
        from grpc_status import rpc_status

        try:
            status = rpc_status.from_call(error)
        except Exception:
            return []
        unpacked = []
        for any_detail in status.details if status else ():
            if any_detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                any_detail.Unpack(info)
                unpacked.append(info)
        return unpacked
    return []


def exponential_backoff(initial: float, maximum: float, multiplier: float, jitter: float) -> tenacity.wait.wait_base:
    """``initial * multiplier**(attempt-1)`` capped at ``maximum``, plus up to ``jitter`` random seconds."""
    return tenacity.wait_exponential(multiplier=initial, max=maximum, exp_base=multiplier) + tenacity.wait_random(
        0, jitter
    )


class _BackoffHonouringRetryInfo(tenacity.wait.wait_base):
    """Exponential backoff with jitter, but never shorter than the server's RetryInfo delay."""

    def __init__(self, policy: RetryPolicy):
        self._policy = policy
        self._backoff = exponential_backoff(policy.initial_delay, policy.max_delay, policy.multiplier, policy.jitter)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        backoff = self._backoff(retry_state)
        error = retry_state.outcome.exception() if retry_state.outcome else None
        requested = server_retry_delay(error) if error else None
        if requested is None:
            return backoff
        return max(backoff, min(requested, self._policy.max_server_delay))


def stop_condition(policy: RetryPolicy) -> tenacity.stop.stop_base:
    """Stop after ``max_attempts``, or before a sleep that would end past the ``deadline``."""
    stop: tenacity.stop.stop_base = tenacity.stop_after_attempt(policy.max_attempts)
    if policy.deadline is not None:
        stop = stop | tenacity.stop_before_delay(policy.deadline)
    return stop


def _retrying_options(policy: RetryPolicy, kind: CallKind, name: str, logger: Any) -> dict[str, Any]:
    def log_retry(retry_state: tenacity.RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        logger.warning(
            "%s failed with %s (attempt %d of %d); retrying in %.1fs: %s",
            name,
            status_code_name(error) if error else "?",
            retry_state.attempt_number,
            policy.max_attempts,
            retry_state.upcoming_sleep,
            getattr(error, "message", None) or error,
        )

    return {
        "retry": tenacity.retry_if_exception(lambda error: is_retryable(error, kind)),
        "wait": _BackoffHonouringRetryInfo(policy),
        "stop": stop_condition(policy),
        "before_sleep": log_retry,
        "reraise": True,
    }


def _gapic_kwargs(method: Callable[..., Any], policy: RetryPolicy, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Turn off the client's own retry and set a per-attempt timeout, where the method takes them."""
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return kwargs
    kwargs = dict(kwargs)
    if "retry" in parameters:
        kwargs.setdefault("retry", None)
    if "timeout" in parameters and policy.attempt_timeout is not None:
        kwargs.setdefault("timeout", policy.attempt_timeout)
    return kwargs


def call_with_retry(
    method: Callable[..., T],
    /,
    *args: Any,
    kind: CallKind | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    logger: Any = log,
    **kwargs: Any,
) -> T:
    """Call ``method(*args, **kwargs)``, retrying per ``kind`` (default: looked up by method name)."""
    kind = kind or kind_of(method)
    retrying = tenacity.Retrying(**_retrying_options(policy, kind, method_name(method), logger))
    return retrying(method, *args, **_gapic_kwargs(method, policy, kwargs))


async def acall_with_retry(
    method: Callable[..., Awaitable[T]],
    /,
    *args: Any,
    kind: CallKind | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    logger: Any = log,
    **kwargs: Any,
) -> T:
    """The asyncio twin of :func:`call_with_retry`, for AsyncClient methods."""
    kind = kind or kind_of(method)
    retrying = tenacity.AsyncRetrying(**_retrying_options(policy, kind, method_name(method), logger))
    return await retrying(method, *args, **_gapic_kwargs(method, policy, kwargs))
