"""The errors a servicer raises: each carries the gRPC status code the real service would return."""

from __future__ import annotations

import grpc


class ServiceError(Exception):
    """A request the emulator refuses, with the status code and a message that names the resource."""

    code = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(ServiceError):
    code = grpc.StatusCode.NOT_FOUND


class InvalidArgument(ServiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class AlreadyExists(ServiceError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unimplemented(ServiceError):
    code = grpc.StatusCode.UNIMPLEMENTED


def status_of(err: Exception) -> tuple[grpc.StatusCode, str] | None:
    """The status a refusal raised by a method or an operation's work maps to; None for a bug.

    Package errors (a malformed agent package, an unsafe archive) are the caller's input problem,
    as the real service reports them: INVALID_ARGUMENT with the reader's message.
    """
    from airflow_provider_cx.package import PackageError

    if isinstance(err, ServiceError):
        return err.code, err.message
    if isinstance(err, PackageError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(err)
    return None
