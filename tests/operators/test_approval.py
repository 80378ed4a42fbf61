"""CXReleaseApprovalOperator: the answer, Approve or Reject, is pushed before anything is skipped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from airflow.providers.standard.exceptions import HITLTimeoutError
from airflow.sdk import DAG
from airflow.sdk.bases.operator import BaseOperator
from airflow.sdk.exceptions import DownstreamTasksSkipped

from airflow_provider_cx.operators.approval import APPROVAL_XCOM_KEY, CXReleaseApprovalOperator, approval_answer

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class RecordingTaskInstance:
    map_index = -1

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def event(choice: str) -> dict[str, Any]:
    return {
        "chosen_options": [choice],
        "params_input": {},
        "responded_at": WHEN,
        "responded_by_user": {"id": "7", "name": "alice"},
    }


def test_an_approval_is_recorded_with_who_and_when() -> None:
    op = CXReleaseApprovalOperator(task_id="approve", subject="Promote?")
    ti = RecordingTaskInstance()

    returned = op.execute_complete({"ti": ti, "task": op}, event("Approve"))

    assert ti.xcom[APPROVAL_XCOM_KEY] == {"choice": "Approve", "by": "alice", "at": "2026-01-02T03:04:05+00:00"}
    assert returned["chosen_options"] == ["Approve"]


def test_a_rejection_is_recorded_although_airflow_skips_the_rest_by_raising() -> None:
    with DAG("approval_test", schedule=None):
        op = CXReleaseApprovalOperator(task_id="approve", subject="Promote?")
        op >> BaseOperator(task_id="deploy")
    ti = RecordingTaskInstance()

    # Airflow skips the downstream tasks by raising, which is why a return value would be lost.
    with pytest.raises(DownstreamTasksSkipped):
        op.execute_complete({"ti": ti, "task": op}, event("Reject"))

    assert ti.xcom[APPROVAL_XCOM_KEY] == {"choice": "Reject", "by": "alice", "at": "2026-01-02T03:04:05+00:00"}


def test_a_timed_out_request_records_no_answer() -> None:
    op = CXReleaseApprovalOperator(task_id="approve", subject="Promote?")
    ti = RecordingTaskInstance()

    with pytest.raises(HITLTimeoutError):
        op.execute_complete({"ti": ti, "task": op}, {"error": "timed out", "error_type": "timeout"})

    assert APPROVAL_XCOM_KEY not in ti.xcom


def test_an_answer_by_a_user_without_a_name_is_recorded_by_id() -> None:
    answer = approval_answer({"chosen_options": ["Reject"], "responded_by_user": {"id": "42", "name": ""}})
    assert answer == {"choice": "Reject", "by": "42", "at": None}
