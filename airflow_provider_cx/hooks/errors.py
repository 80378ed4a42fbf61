"""Exceptions raised by the Dialogflow CX hooks: one type per failure kind."""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowNotFoundException


class CXHookError(Exception):
    """Base of the errors the hook raises itself (gRPC errors pass through as google.api_core errors)."""


class CXConnectionNotFoundError(CXHookError, AirflowNotFoundException):
    """The Airflow connection id given to the hook does not exist."""


class CXCredentialsError(CXHookError):
    """The connection's credential extras cannot be turned into Google credentials."""


class CXConnectionSettingsError(CXHookError, ValueError):
    """A connection's retry or polling extras are malformed or out of range."""


class CXEndpointError(CXHookError, ValueError):
    """No endpoint can be chosen: bad or conflicting location, or a malformed emulator host."""


class CXInvalidInputError(CXHookError, ValueError):
    """An argument is malformed or contradicts another (checked before any call or change is made)."""


class CXResourceNotFoundError(CXHookError, LookupError):
    """An agent, flow, environment, test case, ... named by the caller does not exist (or is not visible)."""


class CXAmbiguousNameError(CXHookError, LookupError):
    """A display name matches more than one resource; pass the resource name instead."""


class CXOperationFailedError(CXHookError):
    """A long-running operation finished with an error status."""

    def __init__(self, operation_name: str, code: str, message: str):
        self.operation_name = operation_name
        self.code = code
        self.status_message = message
        super().__init__(f"long-running operation {operation_name} failed with {code}: {message}")


class CXOperationTimeoutError(CXHookError):
    """A long-running operation was not done when the wait's overall timeout ran out.

    ``cancel_requested``: ``None`` when no cancellation was tried, else whether the server accepted
    the request (it then cancels on a best-effort basis).
    """

    def __init__(self, operation_name: str, timeout: float, cancel_requested: bool | None = None):
        self.operation_name = operation_name
        self.timeout = timeout
        self.cancel_requested = cancel_requested
        super().__init__(f"long-running operation {operation_name} not done after {timeout:g}s; {self.outcome}")

    @property
    def outcome(self) -> str:
        if self.cancel_requested:
            return "cancellation was requested (the server cancels on a best-effort basis)"
        if self.cancel_requested is None:
            return "it is still running on the server: wait again or cancel it with DialogflowCXHook.cancel_operation()"
        return (
            "cancelling it failed, so it may still be running on the server: cancel it with "
            "DialogflowCXHook.cancel_operation()"
        )
