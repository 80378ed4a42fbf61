"""Lint for Dialogflow CX agent packages: rules, their configuration, and the runner.

``lint_package(package, config) -> list[Finding]`` is the whole API; the emulator's ValidateAgent,
the CLI and the lint operator all call it.
"""

from __future__ import annotations

from airflow_provider_cx.package.lint.config import AllowEntry, LintConfig, LintConfigError
from airflow_provider_cx.package.lint.findings import (
    ERROR,
    INFO,
    SEVERITIES,
    WARNING,
    Finding,
    any_reaches,
    highest_severity,
    severity_rank,
)
from airflow_provider_cx.package.lint.rules import RULES, Rule
from airflow_provider_cx.package.lint.runner import lint_package
from airflow_provider_cx.package.lint.stage_gate import check_stage_fit

__all__ = [
    "ERROR",
    "INFO",
    "RULES",
    "SEVERITIES",
    "WARNING",
    "AllowEntry",
    "Finding",
    "LintConfig",
    "LintConfigError",
    "Rule",
    "any_reaches",
    "check_stage_fit",
    "highest_severity",
    "lint_package",
    "severity_rank",
]
