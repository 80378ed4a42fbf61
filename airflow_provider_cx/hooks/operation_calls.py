"""Long-running operations on the sync hook: get, list, wait for and cancel them.

Every CX method that starts a long-running operation returns api_core's ``Operation`` at once; one
of the waits here turns it into its result:

- :meth:`~OperationCalls.wait_for_result` polls by name and unpacks the response as the given type
  (this is how the operators wait in the worker);
- :meth:`~OperationCalls.wait_for_operation_done` polls by name and returns the finished
  ``google.longrunning.Operation`` unread (failed ones too);
- :meth:`~OperationCalls.wait_for_operation` waits on api_core's future itself.

All three poll on the hook's :class:`.PollingPolicy` and raise :class:`.CXOperationTimeoutError`
when it runs out, leaving the server-side operation running (cancel it with
:meth:`~OperationCalls.cancel_operation`); a failed operation raises :class:`.CXOperationFailedError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_cx.hooks.clients_hook import DialogflowCXClientsHook
from airflow_provider_cx.hooks.errors import CXOperationTimeoutError
from airflow_provider_cx.hooks.operations import operation_result, wait_for_operation, wait_until_done
from airflow_provider_cx.hooks.retry import CallKind

if TYPE_CHECKING:
    from google.api_core.operation import Operation
    from google.longrunning import operations_pb2

#: What the waits and ``cancel_operation`` accept: api_core's future, the proto message, or the name.
OperationRef = Any


def operation_name(operation: OperationRef) -> str:
    """The name of an api_core ``Operation``, a ``google.longrunning.Operation`` or a name."""
    if isinstance(operation, str):
        return operation
    inner = getattr(operation, "operation", None)  # api_core's future wraps the proto
    return str(inner.name if inner is not None else operation.name)


class OperationCalls(DialogflowCXClientsHook):
    """GetOperation, ListOperations, CancelOperation and the waits (see the module docstring)."""

    def get_operation(self, name: str) -> operations_pb2.Operation:
        """The current state of the long-running operation ``name`` (one GetOperation, retried as a READ)."""
        client = self.get_operations_client(name)
        return self.call(client.get_operation, name, kind=CallKind.READ)

    def list_operations(self, location_name: str, filter_: str = "") -> list[operations_pb2.Operation]:
        """Every operation of ``projects/P/locations/L`` matching ``filter_`` (e.g. ``"done=false"``), all pages."""
        list_operations: Callable[..., Any] = self.get_operations_client(location_name).list_operations

        def every_page() -> list[Any]:
            return list(list_operations(location_name, filter_, retry=None))

        return self.call(every_page, kind=CallKind.READ)

    def unfinished_operations(self, location_name: str, metadata_type: str) -> list[str]:
        """Names of the location's operations that are not done and carry ``metadata_type`` metadata.

        ``metadata_type`` is a full proto name, e.g. ``google.cloud.dialogflow.cx.v3.CreateVersionOperationMetadata``.
        """
        suffix = "/" + metadata_type
        return [
            op.name for op in self.list_operations(location_name, "done=false") if op.metadata.type_url.endswith(suffix)
        ]

    def cancel_operation(self, operation: OperationRef) -> None:
        """Ask the server to cancel an operation (best effort: CX may finish it anyway)."""
        name = operation_name(operation)
        client = self.get_operations_client(name)
        self.call(client.cancel_operation, name, kind=CallKind.IDEMPOTENT)
        self.log.info("requested cancellation of operation %s", name)

    def operation_from_name(self, name: str, result_type: Any, metadata_type: Any = None) -> Operation:
        """A waitable google.api_core ``Operation`` for an operation known only by name."""
        from google.api_core import operation as api_operation

        from_gapic: Callable[..., Operation] = api_operation.from_gapic
        return from_gapic(
            self.get_operation(name), self.get_operations_client(name), result_type, metadata_type=metadata_type
        )

    def wait_for_operation(self, operation: Operation, timeout: float | None = None) -> Any:
        """Poll api_core's ``operation`` future until done and return its result (see :mod:`.operations`)."""
        return wait_for_operation(
            operation, polling=self.polling_policy, rpc_policy=self.retry_policy, timeout=timeout, logger=self.log
        )

    def wait_for_operation_done(
        self, operation: OperationRef, timeout: float | None = None
    ) -> operations_pb2.Operation:
        """Poll ``operation`` by name until done; the finished ``google.longrunning.Operation``, unread.

        A failed operation is returned too; :func:`.operations.operation_result` raises its error.
        ``timeout`` overrides the polling policy's.
        """
        proto = getattr(operation, "operation", operation)  # api_core's future wraps the proto
        if isinstance(proto, str):
            proto = self.get_operation(proto)
        return wait_until_done(proto, self.get_operation, polling=self.polling_policy, timeout=timeout, logger=self.log)

    def wait_for_result(self, operation: OperationRef, result_type: Any, timeout: float | None = None) -> Any:
        """Poll ``operation`` by name until done; its response as ``result_type`` (e.g. ``ExportAgentResponse``).

        Keeps no api_core future: the finished ``Operation`` goes to :func:`.operations.operation_result`
        as its only reference, which lets go of it before parsing the response (an export's response
        is the whole package).
        """
        return operation_result(self.wait_for_operation_done(operation, timeout=timeout), result_type)

    def wait_until_settled(self, operation: OperationRef, timeout: float | None = None) -> None:
        """Poll ``operation`` until it is done, whatever its outcome; a timeout is logged, not raised.

        For the create-once logic (:mod:`.create_or_adopt`): it only needs in-flight creates to land.
        """
        name = operation_name(operation)
        try:
            self.wait_for_operation_done(name, timeout=timeout)
        except CXOperationTimeoutError as still_running:
            self.log.warning(
                "operation %s still not done after %ss; looking for the resource anyway", name, still_running.timeout
            )
