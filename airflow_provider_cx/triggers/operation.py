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

Every event also carries ``resume`` (see :mod:`.base`, which also explains the minimum deferral:
no event sooner than ``min_deferral`` seconds after the task deferred, apache/airflow#71580).
A gRPC error of the polling call itself (after the hook's retries) propagates and fails the task.
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
    """Poll ``operation_name`` until it is done or ``timeout`` seconds have passed.

    :param operation_name: the operation's full name (``projects/P/locations/L/operations/ID``).

    The other parameters are :class:`.CXBaseTrigger`'s.
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
        self.operation_name = operation_name

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return self.qualified_name(), {"operation_name": self.operation_name, **self.shared_kwargs()}

    def _event(self, status: str, **fields: Any) -> TriggerEvent:
        return TriggerEvent({"status": status, "operation_name": self.operation_name, **fields, "resume": self.resume})

    async def _timed_out(self, hook: Any) -> TriggerEvent:
        """Ask the server to cancel the operation (best effort); the error event says how that went."""
        from airflow_provider_cx.hooks.errors import CXOperationTimeoutError

        cancelled = await self._cancel(hook, self.operation_name)
        timeout = float(self.timeout or 0)
        message = str(CXOperationTimeoutError(self.operation_name, timeout, cancel_requested=cancelled))
        return self._event("error", code="DEADLINE_EXCEEDED", message=message, timeout=timeout, cancelled=cancelled)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_cx.hooks.operations import operation_error

        hook = self._hook()
        loop = asyncio.get_running_loop()
        deadline = self._deadline(loop)
        what = f"operation {self.operation_name}"
        try:
            while True:
                operation = await hook.get_operation(self.operation_name)
                if operation.done:
                    failure = operation_error(operation)
                    if failure is None:
                        event = self._event("success")
                    else:
                        event = self._event("error", code=failure.code, message=failure.status_message)
                    await self._hold_until_resumable(what)
                    yield event
                    return
                if deadline is not None and loop.time() >= deadline:
                    event = await self._timed_out(hook)
                    await self._hold_until_resumable(what)
                    yield event
                    return
                delay = self._pause(loop, deadline)
                self.log.debug("operation %s not done; next poll in %.1fs", self.operation_name, delay)
                await asyncio.sleep(delay)
        finally:
            await hook.close()


__all__ = [
    "CANCEL_TIMEOUT",
    "DEFAULT_MIN_DEFERRAL",
    "DEFAULT_OPERATION_TIMEOUT",
    "DEFAULT_POLL_INTERVAL",
    "MIN_DEFERRAL_OPTION",
    "CXOperationTrigger",
    "configured_min_deferral",
]
