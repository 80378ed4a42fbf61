"""Running the rules over a package: configuration applied, findings deduplicated and ordered."""

from __future__ import annotations

from airflow_provider_cx.package.lint.config import LintConfig
from airflow_provider_cx.package.lint.context import LintContext
from airflow_provider_cx.package.lint.findings import Finding, sort_key
from airflow_provider_cx.package.lint.rules import RULES
from airflow_provider_cx.package.model import AgentPackage


def lint_package(package: AgentPackage, config: LintConfig | None = None) -> list[Finding]:
    """Every finding of every enabled rule on ``package``, most severe first.

    Pure: reads the package, changes nothing, touches no network. Findings the configuration
    allow-lists are left out; severities are the configured ones.
    """
    config = config or LintConfig()
    ctx = LintContext(package, config)
    findings: set[Finding] = set()
    for rule in RULES.values():
        if rule.id in config.disabled_rules:
            continue
        severity = config.severity_overrides.get(rule.id, rule.severity)
        for hit in rule.check(ctx):
            finding = Finding(
                rule_id=rule.id,
                severity=severity,
                message=hit.message,
                path=hit.path,
                resource_type=hit.resource_type,
                resource_display_names=tuple(hit.names),
                flow=hit.flow,
            )
            if not config.is_allowed(finding):
                findings.add(finding)
    return sorted(findings, key=sort_key)
