"""event_error / event_operation_names: the one reading of CXOperationTrigger's events, old shapes included."""

from __future__ import annotations

import pytest

from airflow_provider_cx.hooks.errors import CXOperationFailedError, CXOperationTimeoutError
from airflow_provider_cx.triggers.operation import event_error, event_operation_names

OP = "projects/p/locations/global/operations/1"
OTHER = "projects/p/locations/global/operations/2"


def test_success_is_no_error() -> None:
    event = {"status": "success", "operation_names": [OP, OTHER], "resume": None}
    assert event_error(event) is None
    assert event_operation_names(event) == [OP, OTHER]


def test_a_failed_operation_keeps_its_code_and_message() -> None:
    error = event_error({"status": "error", "operation_name": OTHER, "code": "ABORTED", "message": "boom"})
    assert isinstance(error, CXOperationFailedError)
    assert (error.operation_name, error.code, error.status_message) == (OTHER, "ABORTED", "boom")


@pytest.mark.parametrize(
    ("cancelled", "requested"), [([OP, OTHER], True), ([OP], False), ([], False)], ids=["all", "some", "none"]
)
def test_a_timeout_names_the_first_still_running_and_whether_all_were_cancelled(
    cancelled: list[str], requested: bool
) -> None:
    event = {"status": "error", "code": "DEADLINE_EXCEEDED", "timeout": 5.0, "running": [OP, OTHER]}
    error = event_error({**event, "cancelled": cancelled})
    assert isinstance(error, CXOperationTimeoutError)
    assert (error.operation_name, error.timeout, error.cancel_requested) == (OP, 5.0, requested)


def test_single_operation_events_of_earlier_releases_still_read() -> None:
    assert event_operation_names({"status": "success", "operation_name": OP}) == [OP]
    timed_out = event_error({"status": "error", "operation_name": OP, "timeout": 3, "cancelled": True})
    assert isinstance(timed_out, CXOperationTimeoutError)
    assert (timed_out.operation_name, timed_out.cancel_requested) == (OP, True)
    fallback = event_error({"status": "timeout", "operation_name": OP}, default_timeout=60)
    assert isinstance(fallback, CXOperationTimeoutError)
    assert (fallback.timeout, fallback.cancel_requested) == (60.0, None)


def test_an_unexpected_event_is_a_failure_naming_it() -> None:
    error = event_error({"status": "weird", "operation_names": [OP]})
    assert isinstance(error, CXOperationFailedError)
    assert error.code == "UNKNOWN"
    assert "unexpected trigger event" in error.status_message
