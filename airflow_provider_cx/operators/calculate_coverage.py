"""CXCalculateCoverageOperator: how much of the agent its test cases exercise, with minimums per kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_cx.links import CXAgentLink, CXTestResultsLink
from airflow_provider_cx.operators.base import CXBaseOperator
from airflow_provider_cx.operators.errors import CXGateFailedError
from airflow_provider_cx.reports.thresholds import check_fraction

#: XCom key of the coverage summary, pushed before the gate is applied (also the return value).
SUMMARY_XCOM_KEY = "cx_coverage"
#: (summary key, CalculateCoverageRequest.CoverageType name, threshold parameter)
KINDS = (
    ("intent", "INTENT", "min_intent_coverage"),
    ("page_transition", "PAGE_TRANSITION", "min_transition_coverage"),
    ("route_group", "TRANSITION_ROUTE_GROUP", "min_route_group_coverage"),
)
#: How many uncovered intents the XCom names.
MAX_UNCOVERED_IN_XCOM = 50


class CXCalculateCoverageOperator(CXBaseOperator):
    """Calculate intent, page-transition and route-group coverage of the agent's test cases; gate on minimums.

    :param min_intent_coverage: least fraction (0..1) of intents the test cases must use (templated).
    :param min_transition_coverage: least fraction of page transitions they must take (templated).
    :param min_route_group_coverage: least fraction of route-group routes they must take (templated).

    Defaults are 0 (report only). Besides those: ``agent``, ``gcp_conn_id``,
    ``impersonation_chain``, ``location`` (see :class:`.CXBaseOperator`).

    XCom ``cx_coverage`` (pushed before the gate) and ``return_value``: ``{"intent":
    {"score", "covered", "total", "minimum"}, "page_transition": {...}, "route_group": {...},
    "uncovered_intents": [display names, at most 50]}`` (scores are fractions 0..1). Links: the
    agent and its test cases in the CX console.
    """

    template_fields: Sequence[str] = (
        *CXBaseOperator.template_fields,
        "min_intent_coverage",
        "min_transition_coverage",
        "min_route_group_coverage",
    )
    operator_extra_links = (CXAgentLink(), CXTestResultsLink())

    def __init__(
        self,
        *,
        min_intent_coverage: float = 0.0,
        min_transition_coverage: float = 0.0,
        min_route_group_coverage: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.min_intent_coverage = min_intent_coverage
        self.min_transition_coverage = min_transition_coverage
        self.min_route_group_coverage = min_route_group_coverage

    def check_inputs(self) -> None:
        super().check_inputs()
        self.minimums  # noqa: B018  (validates)

    @property
    def minimums(self) -> dict[str, float]:
        return {key: check_fraction(parameter, getattr(self, parameter)) for key, _, parameter in KINDS}

    def execute(self, context: Any) -> dict[str, Any]:
        self.check_inputs()
        self.persist_agent_link(context)
        self.persist_test_results_link(context)
        minimums = self.minimums
        responses = {key: self.coverage(kind) for key, kind, _ in KINDS}
        summary: dict[str, Any] = {
            "intent": _counts(responses["intent"].intent_coverage.intents),
            "page_transition": _counts(responses["page_transition"].transition_coverage.transitions),
            "route_group": _counts(
                [t for group in responses["route_group"].route_group_coverage.coverages for t in group.transitions]
            ),
        }
        summary["intent"]["score"] = round(responses["intent"].intent_coverage.coverage_score, 4)
        summary["page_transition"]["score"] = round(responses["page_transition"].transition_coverage.coverage_score, 4)
        summary["route_group"]["score"] = round(responses["route_group"].route_group_coverage.coverage_score, 4)
        for key, minimum in minimums.items():
            summary[key]["minimum"] = minimum
        summary["uncovered_intents"] = self.uncovered_intents(responses["intent"].intent_coverage.intents)
        self.push_xcom(context, SUMMARY_XCOM_KEY, summary)
        for key, _, _ in KINDS:
            self.log.info("%s coverage: %.1f%% (minimum %.1f%%)", key, 100 * summary[key]["score"], 100 * minimums[key])
        below = [
            f"{key} coverage {summary[key]['score']:.1%} < {minimums[key]:.1%}"
            for key in minimums
            if summary[key]["score"] < minimums[key]
        ]
        if below:
            raise CXGateFailedError(f"test coverage of {self.agent_name} is below its minimum: {'; '.join(below)}")
        return summary

    def coverage(self, kind: str) -> Any:
        return self.hook.calculate_coverage(self.agent_name, kind)

    def uncovered_intents(self, intents: Sequence[Any]) -> list[str]:
        uncovered = [item.intent for item in intents if not item.covered]
        if not uncovered:
            return []
        names = {intent.name: intent.display_name for intent in self.hook.list_intents(self.agent_name)}
        return sorted(names.get(name, name) for name in uncovered)[:MAX_UNCOVERED_IN_XCOM]


def _counts(items: Sequence[Any]) -> dict[str, Any]:
    return {"covered": sum(1 for item in items if item.covered), "total": len(items)}
