"""The stage-fit gate in one call: only the stage-fit findings for one target agent.

An operator about to restore a package into a stage runs this before anything in the stage
changes; any finding is an ERROR (unless the team's lint configuration says otherwise).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from airflow_provider_cx.package.lint.config import LintConfig
from airflow_provider_cx.package.lint.findings import Finding
from airflow_provider_cx.package.lint.rules import RULES
from airflow_provider_cx.package.lint.rules.stage_fit import STAGE_FIT_RULES
from airflow_provider_cx.package.lint.runner import lint_package
from airflow_provider_cx.package.model import AgentPackage


def check_stage_fit(
    package: AgentPackage,
    target_agent: str,
    *,
    forbid: Iterable[str] = (),
    project_aliases: Iterable[str] = (),
    config: LintConfig | None = None,
) -> list[Finding]:
    """Stage-fit findings of ``package`` for ``target_agent`` (``projects/P/locations/L/agents/A``).

    ``forbid``: a stage profile's forbidden URL patterns; ``project_aliases``: the target project's
    number; ``config``: a team's lint configuration (its allow-list and severities still apply).
    """
    base = config or LintConfig()
    stage = dataclasses.replace(
        base,
        target_agent=target_agent,
        target_project_aliases=(*base.target_project_aliases, *project_aliases),
        forbid=(*base.forbid, *forbid),
        disabled_rules=frozenset(base.disabled_rules) | (set(RULES) - set(STAGE_FIT_RULES)),
    )
    return lint_package(package, stage)
