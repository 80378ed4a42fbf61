"""What every agent operator shares: parameters, the hook, input checks, XCom, links and LRO waits.

``CXBaseOperator`` owns the Airflow side of a task on one agent: ``agent`` (a full resource name,
templated), ``gcp_conn_id``, ``impersonation_chain`` and ``location``; the hook is built on first use
at execute time (never at DAG parse time, so no grpc import there). Subclasses start ``execute`` with
``self.check_inputs()``, which validates the agent name before any call is made.

``CXLongRunningOperator`` adds waiting on CX long-running operations: :meth:`wait_or_defer` either
polls with the sync hook, or (``deferrable=True``) defers to :class:`CXOperationTrigger` and resumes
in :meth:`resume_after_operation` — the one place that turns a trigger event into the next step —
which fetches the finished operation by name and calls the same continuation method the sync path
calls. ``on_kill`` cancels the operation the task is waiting for::

    def execute(self, context):
        self.check_inputs()
        operation = self.hook.export_agent(self.agent_name, agent_uri=...)
        return self.wait_or_defer(context, operation, result_type=cx.ExportAgentResponse,
                                  then="finish_export", state={"destination": uri})

    def finish_export(self, context, result, destination):   # same call in both paths
        ...
        return {"uri": ...}                                     # the task's return_value XCom

XCom convention: ``execute`` returns one small JSON dict (documented in each operator's docstring);
console links go under the link classes' keys. :func:`small_xcom` refuses anything large.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from airflow.sdk import BaseOperator, BaseOperatorLink, conf

from airflow_provider_cx.links import (
    CXAgentLink,
    CXEnvironmentLink,
    CXTestResultsLink,
    agent_console_url,
    environment_console_url,
    test_results_console_url,
)
from airflow_provider_cx.operators.errors import CXInvalidInputError, CXXComTooLargeError
from airflow_provider_cx.resource_names import InvalidResourceNameError, parse_agent_name, validate_location

if TYPE_CHECKING:
    from google.api_core.operation import Operation

    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
    from airflow_provider_cx.hooks.retry import RetryPolicy
    from airflow_provider_cx.resource_names import ResourceName
    from airflow_provider_cx.triggers.operation import CXOperationTrigger

T = TypeVar("T")

#: Largest JSON size (bytes) of one XCom value an operator pushes.
MAX_XCOM_BYTES = 64 * 1024


def small_xcom(value: T, what: str = "XCom value") -> T:
    """Return ``value`` if it is JSON-serialisable and at most :data:`MAX_XCOM_BYTES`; else raise."""
    try:
        size = len(json.dumps(value, default=str).encode())
    except (TypeError, ValueError) as error:
        raise CXXComTooLargeError(f"{what} is not JSON-serialisable: {error}") from error
    if size > MAX_XCOM_BYTES:
        raise CXXComTooLargeError(
            f"{what} is {size} bytes, over the {MAX_XCOM_BYTES}-byte limit; write it to a report file "
            "and push its URI instead"
        )
    return value


class CXArtifactIO:
    """Reads and writes artifacts (packages, reports) with the operator's connection: ``gs://`` goes
    through gcsfs with ``gcp_conn_id``'s credentials, as the hook's calls do (see :mod:`.storage`)."""

    gcp_conn_id: str | None

    def read_artifact(self, source: Any) -> bytes:
        """Bytes at a path or URI."""
        from airflow_provider_cx import storage

        return storage.read_bytes(source, gcp_conn_id=self.gcp_conn_id)

    def write_artifact(self, destination: Any, data: bytes) -> str:
        """Write ``data`` to a path or URI; the URI written."""
        from airflow_provider_cx import storage

        return storage.write_bytes(destination, data, gcp_conn_id=self.gcp_conn_id)


class CXBaseOperator(CXArtifactIO, BaseOperator):
    """Base of the operators that act on one Dialogflow CX agent.

    :param agent: the agent's full resource name, ``projects/P/locations/L/agents/A`` (templated).
    :param gcp_conn_id: Airflow connection to use (type ``google_cloud_platform`` or ``dialogflow_cx``).
    :param impersonation_chain: service account to impersonate, or a chain whose last entry makes the calls.
    :param location: CX location; optional, must agree with the agent's (a contradiction is an error).
    :param api_retry_policy: how the hook retries API calls on transient errors: a complete
        :class:`~airflow_provider_cx.hooks.retry.RetryPolicy`, or a mapping of the fields to change
        in the connection's policy (e.g. ``{"deadline": 600}``). Default: the connection's
        ``retry_*`` extras, else the provider's defaults. (Airflow's own ``retry_policy`` is about
        task retries and is left to Airflow.)
    :param api_max_attempts: attempts per API call, over ``api_retry_policy`` and the connection.
    """

    gcp_conn_id: str
    template_fields: Sequence[str] = ("agent", "gcp_conn_id", "impersonation_chain", "location")
    operator_extra_links: Collection[BaseOperatorLink] = (CXAgentLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        agent: str,
        gcp_conn_id: str = "google_cloud_default",
        impersonation_chain: str | Sequence[str] | None = None,
        location: str | None = None,
        api_retry_policy: RetryPolicy | Mapping[str, Any] | None = None,
        api_max_attempts: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.agent = agent
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        self.location = location
        self.api_retry_policy = api_retry_policy
        self.api_max_attempts = api_max_attempts
        if api_retry_policy is not None or api_max_attempts is not None:
            self.hook_retry_policy()  # a bad policy fails at DAG parse time, not mid-run

    def hook_retry_policy(self) -> RetryPolicy | dict[str, Any] | None:
        """What the hook layers over the connection's retry policy: ``api_retry_policy`` + ``api_max_attempts``."""
        from airflow_provider_cx.hooks.policy_settings import layered
        from airflow_provider_cx.hooks.retry import DEFAULT_POLICY

        policy = self.api_retry_policy
        if policy is None and self.api_max_attempts is None:
            return None
        if self.api_max_attempts is not None:
            attempts = self.api_max_attempts
            if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
                raise CXInvalidInputError(f"api_max_attempts must be a whole number >= 1, got {attempts!r}")
            if isinstance(policy, Mapping):
                policy = {**policy, "max_attempts": attempts}
            elif policy is not None:
                policy = dataclasses.replace(policy, max_attempts=attempts)
            else:
                policy = {"max_attempts": attempts}
        try:
            layered(DEFAULT_POLICY, policy)
        except (TypeError, ValueError) as error:
            raise CXInvalidInputError(f"api_retry_policy: {error}") from None
        return dict(policy) if isinstance(policy, Mapping) else policy

    # --- inputs ---------------------------------------------------------------------------------

    def check_inputs(self) -> None:
        """Validate the (rendered) arguments before any call; subclasses extend it with ``super()``."""
        self.agent_resource  # noqa: B018  (validates)

    @cached_property
    def agent_resource(self) -> ResourceName:
        """The parsed ``agent``; raises :class:`CXInvalidInputError` naming the problem."""
        agent = self.agent.strip() if isinstance(self.agent, str) else self.agent
        try:
            parsed = parse_agent_name(agent)
        except InvalidResourceNameError as error:
            raise CXInvalidInputError(f"agent: {error}") from None
        if parsed.name != parsed.agent_name:
            raise CXInvalidInputError(
                f"agent: {agent!r} names a resource inside an agent; pass the agent itself, {parsed.agent_name!r}"
            )
        if self.location:
            try:
                validate_location(self.location)
            except InvalidResourceNameError as error:
                raise CXInvalidInputError(f"location: {error}") from None
            if self.location != parsed.location:
                raise CXInvalidInputError(
                    f"location {self.location!r} contradicts agent {agent!r} (location {parsed.location!r}); "
                    "drop location= or fix it"
                )
        return parsed

    @property
    def agent_name(self) -> str:
        """The validated agent resource name."""
        return self.agent_resource.name

    # --- the hook -------------------------------------------------------------------------------

    def make_hook(self) -> DialogflowCXHook:
        from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook

        return DialogflowCXHook(
            gcp_conn_id=self.gcp_conn_id,
            impersonation_chain=self.impersonation_chain,
            location=self.agent_resource.location,
            retry_policy=self.hook_retry_policy(),
            polling_policy=self.hook_polling_policy(),
        )

    def hook_polling_policy(self) -> dict[str, Any] | None:
        """What the hook layers over the connection's polling policy; ``None``: this operator does not wait."""
        return None

    @cached_property
    def hook(self) -> DialogflowCXHook:
        """The sync hook, created at first use during execute (clients come from it)."""
        return self.make_hook()

    def get_agent(self) -> Any:
        """GetAgent on ``agent``; an unknown agent raises :class:`CXResourceNotFoundError`."""
        return self.hook.get_agent(self.agent_name)

    # --- XCom and links ---------------------------------------------------------------------------

    @staticmethod
    def push_xcom(context: Any, key: str, value: Any) -> None:
        """Push a small XCom value under ``key`` (see :func:`small_xcom`)."""
        context["ti"].xcom_push(key=key, value=small_xcom(value, f"XCom {key!r}"))

    def persist_agent_link(self, context: Any) -> None:
        CXAgentLink.persist(context, agent_console_url(self.agent_name))

    @staticmethod
    def persist_environment_link(context: Any, environment_name: str) -> None:
        CXEnvironmentLink.persist(context, environment_console_url(environment_name))

    def persist_test_results_link(self, context: Any) -> None:
        CXTestResultsLink.persist(context, test_results_console_url(self.agent_name))


class CXLongRunningOperator(CXBaseOperator):
    """A :class:`CXBaseOperator` that waits on a long-running operation, optionally deferring.

    :param deferrable: wait in the triggerer instead of the worker (default: ``[operators]
        default_deferrable``).
    :param poll_interval: seconds between status checks (the trigger's interval; the longest pause of
        the sync wait's backoff). Default: the connection's ``poll_interval`` extra, else 10.
    :param operation_timeout: seconds to wait for the operation; then it is cancelled (best effort)
        and the task fails with ``CXOperationTimeoutError``. Default: the connection's
        ``operation_timeout`` extra, else 3600.
    """

    def __init__(
        self,
        *,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | None = None,
        operation_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_polling(poll_interval, operation_timeout)
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.operation_timeout = operation_timeout

    def hook_polling_policy(self) -> dict[str, Any] | None:
        """``poll_interval`` and ``operation_timeout``, over the connection's polling policy."""
        from airflow_provider_cx.hooks.policy_settings import polling_fields

        return polling_fields(self.poll_interval, self.operation_timeout)

    def wait_or_defer(
        self,
        context: Any,
        operation: Operation,
        *,
        result_type: type,
        then: str,
        state: dict[str, Any] | None = None,
    ) -> Any:
        """Wait for ``operation``; then return ``self.<then>(context, result, **state)``.

        With ``deferrable`` the task defers here (``state`` must be JSON-serialisable: it travels
        through the trigger and the metadata database) and :meth:`resume_after_operation` makes the
        same call.
        """
        state = state or {}
        name = operation.operation.name
        if self.deferrable:
            self.defer_until_done([name], result_type=result_type, then=then, state=state, many=False)
        from airflow_provider_cx.hooks.errors import CXOperationTimeoutError

        try:
            with self.running_operation(name):
                result = self.hook.wait_for_result(operation, result_type)
        except CXOperationTimeoutError as timed_out:
            raise self.cancel_timed_out(timed_out) from None
        return getattr(self, then)(context, result, **state)

    def defer_until_done(
        self, operation_names: list[str], *, result_type: type, then: str, state: dict[str, Any], many: bool = True
    ) -> NoReturn:
        """Defer until every operation is done; resume with ``self.<then>(context, results, **state)``.

        ``results`` maps each operation name to its result as ``result_type`` (``many=False``: the one
        result itself). See :meth:`resume_after_operation`.
        """
        self.log.info("deferring until %d operation(s) are done: %s", len(operation_names), ", ".join(operation_names))
        resume = {"then": then, "result_type": _qualified_name(result_type), "state": state, "many": many}
        self.defer(trigger=self.operation_trigger(operation_names, resume), method_name="resume_after_operation")

    def cancel_timed_out(self, timed_out: Any) -> Exception:
        """Ask the server to cancel a timed-out operation (best effort), as the trigger does; the error to raise."""
        from airflow_provider_cx.hooks.errors import CXOperationTimeoutError

        cancelled = self.cancel_quietly(timed_out.operation_name)
        return CXOperationTimeoutError(timed_out.operation_name, timed_out.timeout, cancel_requested=cancelled)

    def cancel_quietly(self, operation_name: str) -> bool:
        """CancelOperation, best effort: whether the server accepted the request (a failure is logged)."""
        try:
            self.hook.cancel_operation(operation_name)
        except Exception as error:  # best effort: the task fails either way
            self.log.warning("could not cancel operation %s: %s", operation_name, error)
            return False
        return True

    # --- operations this task waits for, cancelled by on_kill ---------------------------------------

    @cached_property
    def _running(self) -> set[str]:
        # No lock: on_kill may run in a signal handler on the thread that holds it. set.add, discard
        # and copy are atomic under the GIL, which is all the worker threads and on_kill need.
        return set()

    @contextlib.contextmanager
    def running_operation(self, operation_name: str) -> Iterator[None]:
        """Within the block, ``operation_name`` is running on this task's behalf: ``on_kill`` cancels it."""
        self._running.add(operation_name)
        try:
            yield
        finally:
            self._running.discard(operation_name)

    def on_kill(self) -> None:
        """The task is being killed: ask CX to cancel the operations it is waiting for (best effort).

        An export, restore or test run then stops instead of finishing for nobody; CX may still
        complete an operation that was nearly done.
        """
        for name in sorted(self._running.copy()):
            if self.cancel_quietly(name):
                self.log.info("task killed: requested cancellation of operation %s", name)

    # --- deferral ----------------------------------------------------------------------------------

    def trigger_settings(self) -> dict[str, Any]:
        """A trigger's arguments besides its operations: the connection and the limits the worker resolved.

        Arguments over connection extras over defaults, so that worker and triggerer poll alike.
        """
        polling = self.hook.polling_policy
        return {
            "gcp_conn_id": self.gcp_conn_id,
            "impersonation_chain": self.impersonation_chain,
            "poll_interval": polling.max_delay,
            "timeout": polling.timeout,
            "retry_policy": dataclasses.asdict(self.hook.retry_policy),
        }

    def operation_trigger(
        self, operation_names: str | Sequence[str], resume: dict[str, Any] | None = None
    ) -> CXOperationTrigger:
        """The trigger for the operations (see :meth:`trigger_settings`)."""
        from airflow_provider_cx.triggers.operation import CXOperationTrigger

        return CXOperationTrigger(operation_names, resume=resume, **self.trigger_settings())

    def resume_after_operation(self, context: Any, event: dict[str, Any]) -> Any:
        """Completion of a deferred wait: the one place a trigger event becomes the task's next step.

        An error event raises through :meth:`operation_failed`; on success each operation's result is
        fetched by name and the continuation named in the event's ``resume`` is called, as the sync
        path calls it.
        """
        from airflow_provider_cx.hooks.operations import operation_result
        from airflow_provider_cx.triggers.operation import event_error, event_operation_names

        resume = event.get("resume") or {}
        error = event_error(event, self.hook.polling_policy.timeout)
        if error is not None:
            return self.operation_failed(context, error, event)
        result_type = _import(resume["result_type"])
        results = {
            name: operation_result(self.hook.get_operation(name), result_type) for name in event_operation_names(event)
        }
        outcome = results if resume.get("many") else next(iter(results.values()))
        return getattr(self, resume["then"])(context, outcome, **resume.get("state", {}))

    def operation_failed(self, context: Any, error: Exception, event: dict[str, Any]) -> Any:
        """A deferred wait ended in ``error`` (failure or timeout): raise it. Subclasses may restate or recover."""
        raise error


def check_polling(poll_interval: float | None, operation_timeout: float | None) -> None:
    """Both ``None`` (from the connection) or positive; else :class:`CXInvalidInputError`."""
    for name, value in (("poll_interval", poll_interval), ("operation_timeout", operation_timeout)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
            raise CXInvalidInputError(f"{name} must be a positive number of seconds or None, got {value!r}")


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _import(qualified_name: str) -> Any:
    """The class :func:`_qualified_name` named."""
    import importlib

    module, _, name = qualified_name.rpartition(".")
    return getattr(importlib.import_module(module), name)


__all__ = ["MAX_XCOM_BYTES", "CXArtifactIO", "CXBaseOperator", "CXLongRunningOperator", "small_xcom"]
