"""google.cloud.dialogflow.cx.v3.TestCases: test case CRUD, runs, results, coverage, import/export.

Split the way moto splits a service: :mod:`.models` holds the behaviour (test cases in the agent
package, runs on the conversation runtime, stored results, import/export content) and works on
package JSON only; :mod:`.responses` is the gRPC servicer that turns requests into model calls and
model answers into protos, with :mod:`.messages` (test cases and results), :mod:`.coverage`
(CalculateCoverage) and :mod:`.filters` (the filter languages) as its translators.
"""

from __future__ import annotations

from airflow_provider_cx.emulator.services.test_cases.responses import (
    TestCasesService,
    run_test_cases_for_environment,
)

__all__ = ["SERVICES", "TestCasesService", "run_test_cases_for_environment"]

SERVICES = [TestCasesService]
