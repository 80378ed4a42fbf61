"""CXOperationGroupTrigger: waits for several CX long-running operations at once, one event for all.

An operator that starts many operations (a version of each flow of a release) defers *once* with
their names, rather than once per operation. Each round the trigger polls the operations that are
still running (GetOperation with the async hook, in the order given) and reports one event:

- ``{"status": "success", "operation_names": [...], "resume": ...}`` — every operation done without error;
- ``{"status": "error", "operation_name": ..., "code": ..., "message": ..., "operation_names": [...]}``
  — the first operation found done with an error. The others are left running: what they make is
  still useful to the task's next try (e.g. versions marked with the release are adopted);
- ``{"status": "error", "code": "DEADLINE_EXCEEDED", "message": ..., "timeout": seconds, "running":
  [names], "cancelled": [names], "operation_names": [...]}`` — some still running after ``timeout``:
  the trigger asked the server to cancel each of them (best effort); ``cancelled`` lists those whose
  cancellation was accepted.

Every event carries ``resume``, and none is sent before the minimum deferral (see :mod:`.base`).
A gRPC error of a polling call itself (after the hook's retries) propagates and fails the task.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_cx.triggers.base import DEFAULT_OPERATION_TIMEOUT, DEFAULT_POLL_INTERVAL, CXBaseTrigger


class CXOperationGroupTrigger(CXBaseTrigger):
    """Poll ``operation_names`` until all are done, one fails, or ``timeout`` seconds have passed.

    :param operation_names: the operations' full names (``projects/P/locations/L/operations/ID``), at
        least one; repeats are dropped.

    The other parameters are :class:`.CXBaseTrigger`'s.
    """

    def __init__(
        self,
        operation_names: Sequence[str],
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
        if isinstance(operation_names, str) or not operation_names:
            raise ValueError(f"operation_names must be a non-empty list of operation names, got {operation_names!r}")
        self.operation_names = list(dict.fromkeys(operation_names))

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return self.qualified_name(), {"operation_names": list(self.operation_names), **self.shared_kwargs()}

    def _event(self, status: str, **fields: Any) -> TriggerEvent:
        return TriggerEvent(
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
        cancelled = [name for name in running if await self._cancel(hook, name)]
        timeout = float(self.timeout or 0)
        message = (
            f"{len(running)} of {len(self.operation_names)} long-running operation(s) not done after {timeout:g}s; "
            f"cancellation requested for {len(cancelled)} (the server cancels on a best-effort basis)"
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
