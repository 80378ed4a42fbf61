"""CXOperationTrigger: waits in the triggerer for one or several CX long-running operations, one event for all.

A deferrable operator starts its operation(s), defers with their *names* (a group of one is the
common case), and resumes in :meth:`.CXLongRunningOperator.resume_after_operation`, which reads the
event with :func:`event_error` and fetches the results through the sync hook. Each round the
trigger polls the operations still running (GetOperation with the async hook, in the order given)
and reports one event, every one carrying ``operation_names`` and ``resume``:

- ``{"status": "success"}`` — every operation done without error;
- ``{"status": "error", "operation_name": ..., "code": ..., "message": ...}`` — the first operation
  found done with an error. The others are left running: what they make is still useful to the
  task's next try (e.g. versions marked with the release are adopted);
- ``{"status": "error", "code": "DEADLINE_EXCEEDED", "message": ..., "timeout": seconds, "running":
  [names], "cancelled": [names]}`` — some still running after ``timeout``: the trigger asked the
  server to cancel each of them (best effort) and ``cancelled`` lists those whose cancellation was
  accepted. A task that gave up must not leave, say, a deployment to land after a rollback.

No event is sent before the minimum deferral (see :mod:`.base`). A gRPC error of a polling call
itself (after the hook's retries) propagates and fails the task.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_cx.triggers.base import (
    CANCEL_TIMEOUT,
    DEFAULT_MIN_DEFERRAL,
    DEFAULT_OPERATION_TIMEOUT,
    DEFAULT_POLL_INTERVAL,
    MIN_DEFERRAL_OPTION,
    CXBaseTrigger,
    configured_min_deferral,
)


class CXOperationTrigger(CXBaseTrigger):
    """Poll ``operation_names`` until all are done, one fails, or ``timeout`` seconds have passed.

    :param operation_names: the operations' full names (``projects/P/locations/L/operations/ID``), at
        least one, or a single name; repeats are dropped.
    :param operation_name: one operation's name: what a trigger serialised by earlier releases of the
        provider passes (give ``operation_names`` instead).

    The other parameters are :class:`.CXBaseTrigger`'s.
    """

    def __init__(
        self,
        operation_names: str | Sequence[str] | None = None,
        gcp_conn_id: str = "google_cloud_default",
        impersonation_chain: str | Sequence[str] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = DEFAULT_OPERATION_TIMEOUT,
        resume: dict[str, Any] | None = None,
        retry_policy: dict[str, Any] | None = None,
        min_deferral: float | None = None,
        deferred_at: datetime | None = None,
        operation_name: str | None = None,
    ) -> None:
        super().__init__(
            gcp_conn_id=gcp_conn_id,
            impersonation_chain=impersonation_chain,
            poll_interval=poll_interval,
            timeout=timeout,
            resume=resume,
            retry_policy=retry_policy,
            min_deferral=min_deferral,
            deferred_at=deferred_at,
        )
        names = operation_names if operation_name is None else [operation_name]
        if isinstance(names, str):
            names = [names]
        if not names or not all(isinstance(name, str) and name for name in names):
            raise ValueError(f"operation_names must be a non-empty list of operation names, got {operation_names!r}")
        self.operation_names = list(dict.fromkeys(names))

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return CXOperationTrigger.qualified_name(), {
            "operation_names": list(self.operation_names),
            **self.shared_kwargs(),
        }

    def _event(self, status: str, **fields: Any) -> TriggerEvent:
        return TriggerEvent(  # type: ignore[no-untyped-call]
            {"status": status, **fields, "operation_names": list(self.operation_names), "resume": self.resume}
        )

    async def _first_failure_or_still_running(self, hook: Any, running: list[str]) -> TriggerEvent | list[str]:
        """Poll each of ``running`` once: the error event of the first that failed, else those not done."""
        from airflow_provider_cx.hooks.operations import operation_error

        not_done = []
        for name in running:
            operation = await hook.get_operation(name)
            if not operation.done:
                not_done.append(name)
                continue
            failure = operation_error(operation)
            if failure is not None:
                return self._event("error", operation_name=name, code=failure.code, message=failure.status_message)
        return not_done

    async def _timed_out(self, hook: Any, running: list[str]) -> TriggerEvent:
        """Ask the server to cancel each of ``running`` (best effort); the error event says how that went."""
        from airflow_provider_cx.hooks.errors import CXOperationTimeoutError

        cancelled = [name for name in running if await self._cancel(hook, name)]
        timeout = float(self.timeout or 0)
        if len(self.operation_names) == 1:
            message = str(CXOperationTimeoutError(running[0], timeout, cancel_requested=bool(cancelled)))
        else:
            message = (
                f"{len(running)} of {len(self.operation_names)} long-running operation(s) not done after "
                f"{timeout:g}s; cancellation requested for {len(cancelled)} (the server cancels on a best-effort basis)"
            )
        return self._event(
            "error", code="DEADLINE_EXCEEDED", message=message, timeout=timeout, running=running, cancelled=cancelled
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self._hook()
        loop = asyncio.get_running_loop()
        deadline = self._deadline(loop)
        what = f"{len(self.operation_names)} operation(s)"
        running = list(self.operation_names)
        try:
            while True:
                polled = await self._first_failure_or_still_running(hook, running)
                if isinstance(polled, TriggerEvent):
                    event = polled
                elif not polled:
                    event = self._event("success")
                elif deadline is not None and loop.time() >= deadline:
                    event = await self._timed_out(hook, polled)
                else:
                    running = polled
                    delay = self._pause(loop, deadline)
                    self.log.debug("%d of %s not done; next poll in %.1fs", len(running), what, delay)
                    await asyncio.sleep(delay)
                    continue
                await self._hold_until_resumable(what)
                yield event
                return
        finally:
            await hook.close()


def event_error(event: dict[str, Any], default_timeout: float | None = None) -> Exception | None:
    """The error a trigger event reports, or ``None`` for success: the one reading of the event format.

    Also reads the single-operation events of earlier releases (``operation_name`` alone, ``cancelled``
    a bool), so that a task deferred before an upgrade resumes after it.
    """
    from airflow_provider_cx.hooks.errors import CXOperationFailedError, CXOperationTimeoutError

    status = event.get("status")
    if status == "success":
        return None
    if status == "timeout" or (status == "error" and "timeout" in event):
        timeout = float(event.get("timeout") or default_timeout or 0)
        running = list(event.get("running") or [event.get("operation_name", "")])
        cancelled = event.get("cancelled")
        if isinstance(cancelled, list):
            cancel_requested: bool | None = bool(running) and set(cancelled) >= set(running)
        else:
            cancel_requested = cancelled
        return CXOperationTimeoutError(running[0], timeout, cancel_requested=cancel_requested)
    if status == "error":
        return CXOperationFailedError(
            event.get("operation_name", ""), event.get("code", "UNKNOWN"), event.get("message", "")
        )
    names = ", ".join(event_operation_names(event))
    return CXOperationFailedError(names, "UNKNOWN", f"unexpected trigger event {event!r}")


def event_operation_names(event: dict[str, Any]) -> list[str]:
    """The operations a trigger event is about (``operation_name`` alone in earlier releases' events)."""
    names = event.get("operation_names")
    if names:
        return list(names)
    return [event["operation_name"]] if event.get("operation_name") else []


__all__ = [
    "CANCEL_TIMEOUT",
    "DEFAULT_MIN_DEFERRAL",
    "DEFAULT_OPERATION_TIMEOUT",
    "DEFAULT_POLL_INTERVAL",
    "MIN_DEFERRAL_OPTION",
    "CXOperationTrigger",
    "configured_min_deferral",
    "event_error",
    "event_operation_names",
]
