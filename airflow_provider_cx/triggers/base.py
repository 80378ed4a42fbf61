"""CXBaseTrigger: what the provider's operation triggers share — the async hook, polling limits, the
operator's resume payload and a minimum deferral.

No event is sent sooner than ``min_deferral`` seconds after the task deferred (``deferred_at``, set
when the operator builds the trigger and serialised with it, so a triggerer restart does not start the
count again). Airflow 3.3 can fail a task that resumes before the scheduler has processed the
executor's "success" of the process that deferred (apache/airflow#71580, #72716): that stale event
then looks like the resumed attempt ending behind the scheduler's back. It arrives once the task
supervisor notices the exit (it looks every ``[workers] min_heartbeat_interval``, 5 s by default) and
the scheduler's next loop drains it; the reports show it 6.5-7 s after the deferral. Hence 10 s by
default, adjustable with ``[dialogflow_cx] trigger_min_deferral`` (e.g. 0 under ``dag.test()``, whose
inline triggerer has no scheduler to race).

Every event carries ``resume``: opaque JSON the deferring operator handed over to continue with. It
travels in the event rather than in the task's ``next_kwargs`` because ``dag.test()`` (Airflow 3.3)
resumes a task with the event alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger

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


class CXBaseTrigger(BaseTrigger):
    """Base of the triggers that poll CX long-running operations; subclasses add what they watch.

    :param gcp_conn_id: Airflow connection of the async hook.
    :param impersonation_chain: service account (or chain) to impersonate.
    :param poll_interval: seconds between two rounds of GetOperation calls.
    :param timeout: seconds after which what still runs is cancelled and an error event is sent.
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
        *,
        gcp_conn_id: str = "google_cloud_default",
        impersonation_chain: str | Sequence[str] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = DEFAULT_OPERATION_TIMEOUT,
        resume: dict[str, Any] | None = None,
        retry_policy: dict[str, Any] | None = None,
        min_deferral: float | None = None,
        deferred_at: datetime | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if min_deferral is None:
            min_deferral = configured_min_deferral()
        if min_deferral < 0:
            raise ValueError(f"min_deferral must be >= 0 seconds, got {min_deferral}")
        if deferred_at is None:
            deferred_at = datetime.now(UTC)
        elif deferred_at.tzinfo is None:
            raise ValueError(f"deferred_at must be timezone-aware, got {deferred_at.isoformat()}")
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.resume = resume
        self.retry_policy = retry_policy
        self.min_deferral = float(min_deferral)
        self.deferred_at = deferred_at

    def shared_kwargs(self) -> dict[str, Any]:
        """The constructor arguments of this base, for a subclass's ``serialize()``."""
        return {
            "gcp_conn_id": self.gcp_conn_id,
            "impersonation_chain": self.impersonation_chain,
            "poll_interval": self.poll_interval,
            "timeout": self.timeout,
            "resume": self.resume,
            "retry_policy": self.retry_policy,
            "min_deferral": self.min_deferral,
            "deferred_at": self.deferred_at,
        }

    @classmethod
    def qualified_name(cls) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    def _hook(self) -> Any:
        from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXAsyncHook
        from airflow_provider_cx.hooks.retry import RetryPolicy

        policy = RetryPolicy(**self.retry_policy) if self.retry_policy else None
        return DialogflowCXAsyncHook(
            gcp_conn_id=self.gcp_conn_id, impersonation_chain=self.impersonation_chain, retry_policy=policy
        )

    def _deadline(self, loop: asyncio.AbstractEventLoop) -> float | None:
        """The loop time at which the wait times out (``None``: never)."""
        return None if self.timeout is None else loop.time() + self.timeout

    def _pause(self, loop: asyncio.AbstractEventLoop, deadline: float | None) -> float:
        """Seconds until the next poll: ``poll_interval``, but never past the deadline."""
        if deadline is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, deadline - loop.time()))

    async def _cancel(self, hook: Any, operation_name: str) -> bool:
        """Ask the server to cancel ``operation_name``; whether it accepted (best effort, never raises)."""
        try:
            await asyncio.wait_for(hook.cancel_operation(operation_name), CANCEL_TIMEOUT)
        except Exception as error:  # best effort: the event reports it, the task fails either way
            self.log.warning("could not cancel operation %s: %s", operation_name, error)
            return False
        return True

    def _deferral_remaining(self) -> float:
        """Seconds until ``min_deferral`` has passed since ``deferred_at``.

        Capped at ``min_deferral``: a triggerer whose clock lags the worker's never waits longer than that.
        """
        elapsed = (datetime.now(UTC) - self.deferred_at).total_seconds()
        return max(0.0, min(self.min_deferral, self.min_deferral - elapsed))

    async def _hold_until_resumable(self, what: str) -> None:
        """Wait out the rest of the minimum deferral before an event about ``what`` may resume the task."""
        remaining = self._deferral_remaining()
        if remaining > 0:
            self.log.info("event of %s held %.1fs (minimum deferral)", what, remaining)
            await asyncio.sleep(remaining)
