"""Every lint rule, registered in :data:`RULES` by importing the modules that define them."""

from __future__ import annotations

from airflow_provider_cx.package.lint.registry import RULES, Rule
from airflow_provider_cx.package.lint.rules import (  # noqa: F401 - imported to register the rules
    graph,
    handlers,
    languages,
    nlu,
    references,
    stage_fit,
    style,
    test_cases,
    webhooks,
)

__all__ = ["RULES", "Rule"]
