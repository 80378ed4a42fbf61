"""The rule registry: every rule is a function of a :class:`LintContext` that yields :class:`Hit`s.

A rule only says *what* is wrong and *where*; the runner attaches the rule id and the severity the
configuration asks for. Registering happens at import time with :func:`rule`, and the rule's
docstring is its documentation (why the check exists), which the reports and the CLI show.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from airflow_provider_cx.package.lint.findings import SEVERITIES

if TYPE_CHECKING:
    from airflow_provider_cx.package.lint.context import LintContext


class Hit(NamedTuple):
    """A rule's raw report: a Finding without rule id and severity."""

    message: str
    path: str
    resource_type: str
    names: tuple[str, ...]
    flow: str | None = None


Check = Callable[["LintContext"], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    check: Check

    @property
    def doc(self) -> str:
        """Why the rule exists: the check function's docstring."""
        return inspect.cleandoc(self.check.__doc__ or "")

    @property
    def summary(self) -> str:
        return self.doc.split("\n\n", 1)[0].replace("\n", " ")


RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: str) -> Callable[[Check], Check]:
    """Register ``check`` under ``rule_id`` with a default ``severity``."""
    if severity not in SEVERITIES:
        raise ValueError(f"rule {rule_id}: unknown severity {severity!r}")

    def register(check: Check) -> Check:
        if rule_id in RULES:
            raise ValueError(f"lint rule {rule_id!r} is registered twice")
        if not (check.__doc__ or "").strip():
            raise ValueError(f"lint rule {rule_id!r} needs a docstring saying why it exists")
        RULES[rule_id] = Rule(rule_id, severity, check)
        return check

    return register
