"""Exceptions of the operators: one type per failure kind.

Bad arguments, unknown and ambiguous resources are the hook's errors (re-exported here, since the
operators raise them too); gRPC errors pass through as google.api_core exceptions, and long-running
operation failures as :class:`~airflow_provider_cx.hooks.errors.CXOperationFailedError`.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_cx.hooks.errors import CXAmbiguousNameError, CXInvalidInputError, CXResourceNotFoundError


class CXOperatorError(Exception):
    """Base of the errors only the operators raise."""


class CXGateFailedError(CXOperatorError, AirflowFailException):
    """A quality gate (lint, validation, pass rate, ...) failed; retrying the task would not help."""


class CXXComTooLargeError(CXOperatorError, ValueError):
    """An XCom value is larger than the operators allow (they push names and counts, not content)."""


__all__ = [
    "CXAmbiguousNameError",
    "CXGateFailedError",
    "CXInvalidInputError",
    "CXOperatorError",
    "CXResourceNotFoundError",
    "CXXComTooLargeError",
]
