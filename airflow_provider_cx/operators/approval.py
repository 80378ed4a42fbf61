"""CXReleaseApprovalOperator: Airflow's ApprovalOperator that records its answer, Approve or Reject.

Airflow's ApprovalOperator returns the answer as its XCom only when it is Approve: a Reject skips
the downstream tasks by raising, so its return value is never stored and a release record could
not say who rejected the release, or when. This operator pushes the answer first, under its own
key, whatever it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

#: XCom key of the answer: ``{"choice": "Approve" | "Reject", "by": user name or id, "at": ISO time}``.
APPROVAL_XCOM_KEY = "cx_approval"


def approval_answer(event: Mapping[str, Any]) -> dict[str, Any]:
    """``{"choice", "by", "at"}`` of a HITL response event.

    The event carries ``chosen_options``, ``responded_by_user`` (``{"id", "name"}``) and ``responded_at``.
    """
    chosen = event.get("chosen_options") or []
    user = event.get("responded_by_user") or {}
    when = event.get("responded_at")
    return {
        "choice": chosen[0] if chosen else None,
        "by": (user.get("name") or user.get("id")) if isinstance(user, Mapping) else str(user),
        "at": when.isoformat() if isinstance(when, datetime) else when,
    }


class CXReleaseApprovalOperator(ApprovalOperator):
    """Approve or Reject, like :class:`ApprovalOperator`; the answer is also pushed as XCom ``cx_approval``.

    Takes the arguments of :class:`ApprovalOperator` (``subject``, ``body``, ...). XCom ``cx_approval``
    (pushed before downstream tasks are skipped on Reject): ``{"choice": "Approve" | "Reject", "by":
    the user's name (or id), "at": ISO 8601 time of the answer}``.
    """

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if "error" not in event:
            context["ti"].xcom_push(key=APPROVAL_XCOM_KEY, value=approval_answer(event))
        return super().execute_complete(context, event)
