"""Testing an agent on the sync hook: test cases, their results and coverage, and DetectIntent.

``batch_run_test_cases`` starts a long-running operation and returns api_core's ``Operation``;
``hook.wait_for_result(operation, BatchRunTestCasesResponse)`` turns it into the results.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_cx.hooks.operation_calls import OperationCalls
from airflow_provider_cx.hooks.retry import CallKind

if TYPE_CHECKING:
    from google.api_core.operation import Operation
    from google.cloud.dialogflowcx_v3 import CalculateCoverageResponse, DetectIntentResponse, TestCase, TestCaseResult

#: Coverage kinds CalculateCoverage reports.
COVERAGE_TYPES = ("INTENT", "PAGE_TRANSITION", "TRANSITION_ROUTE_GROUP")


class TestCaseCalls(OperationCalls):
    """Test cases, coverage and DetectIntent."""

    def list_test_cases(self, agent: str) -> list[TestCase]:
        """ListTestCases (a READ): every test case of the agent.

        :param agent: ``projects/P/locations/L/agents/A``.
        """
        client = self.get_test_cases_client(agent)
        request = {"parent": agent, "page_size": 1000}
        return self.list_all(f"agent {agent} does not exist", client.list_test_cases, request)

    def batch_run_test_cases(self, agent: str, test_cases: Sequence[str], environment: str | None = None) -> Operation:
        """Start BatchRunTestCases (IDEMPOTENT) on the draft, or on ``environment``; the operation.

        Its response is a ``BatchRunTestCasesResponse`` (one ``TestCaseResult`` per test case).
        """
        client = self.get_test_cases_client(agent)
        request = {"parent": agent, "environment": environment or "", "test_cases": list(test_cases)}
        return self.call_naming(f"running test cases of {agent}", client.batch_run_test_cases, request=request)

    def get_test_case_result(self, name: str) -> TestCaseResult:
        """GetTestCaseResult (a READ), e.g. one of a continuous test's ``test_case_results``.

        :param name: ``.../testCases/T/results/R``.
        """
        client = self.get_test_cases_client(name)
        return self.call_naming(f"test case result {name}", client.get_test_case_result, name=name)

    def calculate_coverage(self, agent: str, coverage_type: str) -> CalculateCoverageResponse:
        """CalculateCoverage (a READ) of one of :data:`COVERAGE_TYPES`."""
        from google.cloud.dialogflowcx_v3 import CalculateCoverageRequest

        client = self.get_test_cases_client(agent)
        request = CalculateCoverageRequest(agent=agent, type_=CalculateCoverageRequest.CoverageType[coverage_type])  # type: ignore[misc]
        return self.call_naming(f"coverage of agent {agent}", client.calculate_coverage, request=request)

    def detect_intent(self, parent: str, text: str, language_code: str) -> DetectIntentResponse:
        """DetectIntent of ``text`` in a new session of ``parent`` (the agent's draft, or an environment).

        Each attempt uses a fresh session, which makes a repeat safe (nothing of a lost attempt carries
        over), so it is retried as IDEMPOTENT. Safe to call from several threads at once.
        """
        client = self.get_sessions_client(parent)
        timeout = self.retry_policy.attempt_timeout
        query: dict[str, Any] = {"text": {"text": text}, "language_code": language_code}

        def detect_in_new_session() -> DetectIntentResponse:
            session = f"{parent}/sessions/{uuid.uuid4()}"
            return client.detect_intent(request={"session": session, "query_input": query}, retry=None, timeout=timeout)

        detect_in_new_session.__name__ = "detect_intent"
        return self.call_naming(f"{parent}", detect_in_new_session, kind=CallKind.IDEMPOTENT)
