"""CXOperationTrigger: waits for a CX long-running operation in the triggerer, holding no worker slot.

A deferrable operator starts the operation, defers with its *name*, and resumes in a completion
method that fetches the finished operation through the sync hook. The trigger only polls
``GetOperation`` with the async hook every ``poll_interval`` seconds and reports one event:

- ``{"status": "success", "operation_name": ..., "resume": ...}`` — done without error;
- ``{"status": "error", "operation_name": ..., "code": ..., "message": ...}`` — done with an error;
- ``{"status": "error", "operation_name": ..., "code": "DEADLINE_EXCEEDED", "message": ..., "timeout":
  seconds, "cancelled": bool}`` — still running after ``timeout``: the trigger asked the server to
  cancel it (best effort: some operations cannot be cancelled) and ``cancelled`` / ``message`` say
  whether that request was accepted. A task that gave up must not leave, say, a deployment to land
  after a rollback.

Every event also carries ``resume``: opaque JSON the deferring operator handed over to continue
with. It travels in the event rather than in the task's ``next_kwargs`` because ``dag.test()`` (Airflow
3.3) resumes a task with the event alone.

A gRPC error of the polling call itself (after the hook's retries) propagates and fails the task.

No event is sent sooner than ``min_deferral`` seconds after the task deferred (``deferred_at``, set
when the operator builds the trigger and serialised with it, so a triggerer restart does not start the
count again). Airflow 3.3 can fail a task that resumes before the scheduler has processed the
executor's "success" of the process that deferred (apache/airflow#71580, #72716): that stale event
then looks like the resumed attempt ending behind the scheduler's back. It arrives once the task
supervisor notices the exit (it looks every ``[workers] min_heartbeat_interval``, 5 s by default) and
the scheduler's next loop drains it; the reports show it 6.5-7 s after the deferral. Hence 10 s by
default, adjustable with ``[dialogflow_cx] trigger_min_deferral`` (e.g. 0 under ``dag.test()``, whose
inline triggerer has no scheduler to race).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

DEFAULT_POLL_INTERVAL = 10.0
DEFAULT_OPERATION_TIMEOUT = 3600.0
#: Longest time spent asking for the cancellation of a timed-out operation.
CANCEL_TIMEOUT = 30.0
#: Seconds between the deferral and the event, unless configured (sizing: see the module docstring).
DEFAULT_MIN_DEFERRAL = 10.0
MIN_DEFERRAL_OPTION = ("dialogflow_cx", "trigger_min_deferral")


def configured_min_deferral() -> float:
    """``[dialogflow_cx] trigger_min_deferral``, else :data:`DEFAULT_MIN_DEFERRAL`; read in the deferring worker."""
    from airflow.sdk import conf

    section, key = MIN_DEFERRAL_OPTION
    return conf.getfloat(section, key, fallback=DEFAULT_MIN_DEFERRAL)


class CXOperationTrigger(BaseTrigger):
    """Poll ``operation_name`` until it is done or ``timeout`` seconds have passed.

    :param operation_name: the operation's full name (``projects/P/locations/L/operations/ID``).
    :param gcp_conn_id: Airflow connection of the async hook.
    :param impersonation_chain: service account (or chain) to impersonate.
    :param poll_interval: seconds between two GetOperation calls.
    :param timeout: seconds after which the operation is cancelled and an error event is sent.
    :param resume: JSON-serialisable data returned unchanged in every event under ``resume``.
    :param retry_policy: ``RetryPolicy`` fields (a dict) for the GetOperation calls; the deferring
        operator passes the policy its hook resolved, so both retry alike. ``None``: the connection's.
    :param min_deferral: seconds after ``deferred_at`` before any event is sent (apache/airflow#71580).
        ``None``: ``[dialogflow_cx] trigger_min_deferral``, else 10 s.
    :param deferred_at: when the task deferred (timezone-aware). ``None``: now, i.e. when the deferring
        operator builds the trigger; the triggerer gets the serialised value.
    """

    def __init__(
        self,
        operation_name: str,
        gcp_conn_id: str = "google_cloud_default",
        impersonation_chain: str | Sequence[str] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = DEFAULT_OPERATION_TIMEOUT,
        resume: dict[str, Any] | None = None,
        retry_policy: dict[str, Any] | None = None,
        min_deferral: float | None = None,
        deferred_at: datetime | None = None,
    ) -> None:
        super().__init__()
        if min_deferral is None:
            min_deferral = configured_min_deferral()
        if min_deferral < 0:
            raise ValueError(f"min_deferral must be >= 0 seconds, got {min_deferral}")
        if deferred_at is None:
            deferred_at = datetime.now(UTC)
        elif deferred_at.tzinfo is None:
            raise ValueError(f"deferred_at must be timezone-aware, got {deferred_at.isoformat()}")
        self.operation_name = operation_name
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.resume = resume
        self.retry_policy = retry_policy
        self.min_deferral = float(min_deferral)
        self.deferred_at = deferred_at

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "operation_name": self.operation_name,
                "gcp_conn_id": self.gcp_conn_id,
                "impersonation_chain": self.impersonation_chain,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
                "resume": self.resume,
                "retry_policy": self.retry_policy,
                "min_deferral": self.min_deferral,
                "deferred_at": self.deferred_at,
            },
        )

    def _event(self, status: str, **fields: Any) -> TriggerEvent:
        return TriggerEvent({"status": status, "operation_name": self.operation_name, **fields, "resume": self.resume})

    def _hook(self) -> Any:
        from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXAsyncHook
        from airflow_provider_cx.hooks.retry import RetryPolicy

        policy = RetryPolicy(**self.retry_policy) if self.retry_policy else None
        return DialogflowCXAsyncHook(
            gcp_conn_id=self.gcp_conn_id, impersonation_chain=self.impersonation_chain, retry_policy=policy
        )

    def _deferral_remaining(self) -> float:
        """Seconds until ``min_deferral`` has passed since ``deferred_at``.

        Capped at ``min_deferral``: a triggerer whose clock lags the worker's never waits longer than that.
        """
        elapsed = (datetime.now(UTC) - self.deferred_at).total_seconds()
        return max(0.0, min(self.min_deferral, self.min_deferral - elapsed))

    async def _hold_until_resumable(self) -> None:
        """Wait out the rest of the minimum deferral before an event may resume the task."""
        remaining = self._deferral_remaining()
        if remaining > 0:
            self.log.info("event of operation %s held %.1fs (minimum deferral)", self.operation_name, remaining)
            await asyncio.sleep(remaining)

    async def _timed_out(self, hook: Any) -> TriggerEvent:
        """Ask the server to cancel the operation (best effort); the error event says how that went."""
        from airflow_provider_cx.hooks.errors import CXOperationTimeoutError

        try:
            await asyncio.wait_for(hook.cancel_operation(self.operation_name), CANCEL_TIMEOUT)
            cancelled = True
        except Exception as error:  # best effort: the event reports it, the task fails either way
            self.log.warning("could not cancel operation %s: %s", self.operation_name, error)
            cancelled = False
        timeout = float(self.timeout or 0)
        message = str(CXOperationTimeoutError(self.operation_name, timeout, cancel_requested=cancelled))
        return self._event("error", code="DEADLINE_EXCEEDED", message=message, timeout=timeout, cancelled=cancelled)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_cx.hooks.operations import operation_error

        hook = self._hook()
        loop = asyncio.get_running_loop()
        deadline = None if self.timeout is None else loop.time() + self.timeout
        try:
            while True:
                operation = await hook.get_operation(self.operation_name)
                if operation.done:
                    failure = operation_error(operation)
                    if failure is None:
                        event = self._event("success")
                    else:
                        event = self._event("error", code=failure.code, message=failure.status_message)
                    await self._hold_until_resumable()
                    yield event
                    return
                if deadline is not None and loop.time() >= deadline:
                    event = await self._timed_out(hook)
                    await self._hold_until_resumable()
                    yield event
                    return
                delay = self.poll_interval
                if deadline is not None:
                    delay = max(0.0, min(delay, deadline - loop.time()))
                self.log.debug("operation %s not done; next poll in %.1fs", self.operation_name, delay)
                await asyncio.sleep(delay)
        finally:
            await hook.close()
