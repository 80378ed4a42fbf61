"""Exceptions the operators raise themselves: one type per failure kind.

gRPC errors from the API pass through as google.api_core exceptions, and long-running operation
failures as the hook's :class:`~airflow_provider_cx.hooks.errors.CXOperationFailedError`.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException


class CXOperatorError(Exception):
    """Base of the errors the operators raise themselves."""


class CXInvalidInputError(CXOperatorError, ValueError):
    """An operator argument is malformed or contradicts another (checked before any change is made)."""


class CXResourceNotFoundError(CXOperatorError, LookupError):
    """An agent, environment, flow or test case named by the task does not exist."""


class CXAmbiguousNameError(CXOperatorError, LookupError):
    """A display name matches more than one resource; pass the resource name instead."""


class CXGateFailedError(CXOperatorError, AirflowFailException):
    """A quality gate (lint, validation, pass rate, ...) failed; retrying the task would not help."""


class CXXComTooLargeError(CXOperatorError, ValueError):
    """An XCom value is larger than the operators allow (they push names and counts, not content)."""
