"""CXRunContinuousTestOperator: run an environment's continuous tests now and gate on the result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_cx.links import CXAgentLink, CXEnvironmentLink, CXTestResultsLink
from airflow_provider_cx.operators.base import CXLongRunningOperator
from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError

#: XCom key of the run summary, pushed before the gate (also the return value).
SUMMARY_XCOM_KEY = "cx_continuous_test"
MAX_FAILING_IN_XCOM = 50


class CXRunContinuousTestOperator(CXLongRunningOperator):
    """RunContinuousTest on an environment: its ``test_cases_config`` test cases run against the flow
    versions it serves; the task fails (:class:`CXGateFailedError`) unless the aggregated result is PASSED.

    :param environment: display name, id or resource name of the environment (templated). It must
        list test cases in its ``test_cases_config``.
    :param deferrable: wait for the run in the triggerer.

    Besides those: ``agent``, ``gcp_conn_id``, ``impersonation_chain``, ``location``,
    ``poll_interval``, ``operation_timeout`` (see :class:`.CXLongRunningOperator`).

    XCom ``cx_continuous_test`` (pushed before the gate) and ``return_value``: ``{"environment":
    name, "continuous_test_result": name, "result": "PASSED" | "FAILED", "total": int, "passed":
    int, "failed": int, "failing": [{"test_case": display name, "first_difference": str}] (at most
    50)}``. Links: the agent, its environments and its test results in the CX console.
    """

    template_fields: Sequence[str] = (*CXLongRunningOperator.template_fields, "environment")
    operator_extra_links = (CXAgentLink(), CXEnvironmentLink(), CXTestResultsLink())

    def __init__(self, *, environment: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.environment = environment

    def check_inputs(self) -> None:
        super().check_inputs()
        if not isinstance(self.environment, str) or not self.environment.strip():
            raise CXInvalidInputError(f"environment must be a display name or resource name, got {self.environment!r}")

    def execute(self, context: Any) -> Any:
        from google.cloud.dialogflowcx_v3 import RunContinuousTestResponse

        self.check_inputs()
        self.persist_agent_link(context)
        environment = self.hook.resolve_environment(self.agent_name, self.environment)
        self.persist_environment_link(context, environment.name)
        self.persist_test_results_link(context)
        if not environment.test_cases_config.test_cases:
            raise CXInvalidInputError(
                f"environment {environment.name} ({environment.display_name!r}) lists no test cases in its "
                "test_cases_config, so a continuous test has nothing to run; add test cases to it"
            )
        operation = self.hook.run_continuous_test(environment.name)
        self.log.info(
            "running %d continuous test case(s) on %s", len(environment.test_cases_config.test_cases), environment.name
        )
        return self.wait_or_defer(
            context,
            operation,
            result_type=RunContinuousTestResponse,
            then="finish_run",
            state={"environment": environment.name},
        )

    def finish_run(self, context: Any, result: Any, environment: str) -> dict[str, Any]:
        from airflow_provider_cx.reports.test_case_report import outcomes_from_results

        run = result.continuous_test_result
        verdict = run.result.name
        results = [self.hook.get_test_case_result(name) for name in run.test_case_results]
        display_names = {case.name: case.display_name for case in self.hook.list_test_cases(self.agent_name)}
        outcomes = outcomes_from_results(results, display_names)
        failing = [o for o in outcomes if not o.passed]
        summary = {
            "environment": environment,
            "continuous_test_result": run.name,
            "result": verdict,
            "total": len(outcomes),
            "passed": len(outcomes) - len(failing),
            "failed": len(failing),
            "failing": [
                {"test_case": o.display_name, "first_difference": o.first_difference}
                for o in failing[:MAX_FAILING_IN_XCOM]
            ],
        }
        self.push_xcom(context, SUMMARY_XCOM_KEY, summary)
        self.log.info("continuous test %s: %s (%d of %d passed)", run.name, verdict, summary["passed"], len(outcomes))
        if verdict != "PASSED":
            names = ", ".join(repr(o.display_name) for o in failing[:10]) + (" ..." if len(failing) > 10 else "")
            raise CXGateFailedError(
                f"continuous test of {environment} ended {verdict}: {len(failing)} of {len(outcomes)} test case(s) "
                f"failed{': ' + names if names else ''}"
            )
        return summary
