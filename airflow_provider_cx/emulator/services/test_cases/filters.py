"""The filter languages of ListTestCaseResults and ExportTestCases (AIP-160 subsets the API documents).

ListTestCaseResults, case-insensitive, clauses joined by ``AND`` only::

    environment = draft | environment = <env> | environment IN (<env>, <env>…)
    test_time > <unix seconds> | test_time < <unix seconds>      (RFC 3339 times are accepted too)
    latest                                                        the newest result per test case

``draft`` means results run on the draft agent; ``<env>`` is an environment resource name or its id.

ExportTestCases: ``name = <test case name> [OR name = <test case name>]…``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_cx.emulator.errors import InvalidArgument

Result = dict[str, Any]
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_OR = re.compile(r"\s+or\s+", re.IGNORECASE)
_ENV_EQ = re.compile(r"^environment\s*=\s*(?P<value>\S+)$", re.IGNORECASE)
_ENV_IN = re.compile(r"^environment\s+in\s*\((?P<values>[^)]*)\)$", re.IGNORECASE)
_TIME = re.compile(r"^test_time\s*(?P<op>[<>])\s*(?P<value>\S+)$", re.IGNORECASE)
_NAME_EQ = re.compile(r"^name\s*=\s*(?P<value>\S+)$", re.IGNORECASE)


@dataclass
class ResultFilter:
    """A parsed ListTestCaseResults filter: a conjunction of predicates, plus ``latest``."""

    predicates: list[Callable[[Result], bool]] = field(default_factory=list)
    latest: bool = False

    @classmethod
    def parse(cls, text: str) -> ResultFilter:
        selected = cls()
        text = text.strip()
        if not text:
            return selected
        for clause in _AND.split(text):
            selected._add(clause.strip(), text)
        return selected

    def _add(self, clause: str, text: str) -> None:
        if clause.lower() == "latest":
            self.latest = True
        elif match := _ENV_EQ.match(clause):
            self.predicates.append(_environment_in([_unquote(match["value"])]))
        elif match := _ENV_IN.match(clause):
            values = [_unquote(v.strip()) for v in match["values"].split(",") if v.strip()]
            if not values:
                raise InvalidArgument(f"filter {text!r}: 'environment IN ()' needs at least one environment")
            self.predicates.append(_environment_in(values))
        elif match := _TIME.match(clause):
            bound = _seconds(_unquote(match["value"]), text)
            if match["op"] == ">":
                self.predicates.append(lambda r: float(r.get("testTime", 0)) > bound)
            else:
                self.predicates.append(lambda r: float(r.get("testTime", 0)) < bound)
        else:
            raise InvalidArgument(
                f"filter {text!r}: cannot understand {clause!r}; supported: environment = <env|draft>, "
                "environment IN (<env>, …), test_time > <unix seconds>, test_time < <unix seconds>, latest "
                "(joined by AND)"
            )

    def apply(self, results: list[Result]) -> list[Result]:
        """Matching results, newest first (``latest``: only each test case's newest match)."""
        kept = [r for r in results if all(p(r) for p in self.predicates)]
        kept.sort(key=lambda r: float(r.get("testTime", 0)), reverse=True)
        if self.latest:
            seen: set[str] = set()
            newest = []
            for result in kept:
                if result.get("testCase") not in seen:
                    seen.add(str(result.get("testCase")))
                    newest.append(result)
            kept = newest
        return kept


def _environment_in(values: list[str]) -> Callable[[Result], bool]:
    wanted = {"" if v.lower() == "draft" else v for v in values}

    def check(result: Result) -> bool:
        env = str(result.get("environment", ""))
        return env in wanted or (env != "" and env.rsplit("/", 1)[-1] in wanted)

    return check


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _seconds(value: str, text: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as err:
        raise InvalidArgument(
            f"filter {text!r}: test_time must be compared with unix seconds or an RFC 3339 time, got {value!r}"
        ) from err


def export_names(text: str) -> set[str] | None:
    """Test case names an ExportTestCases filter selects (None: no filter, export all)."""
    text = text.strip()
    if not text:
        return None
    names = set()
    for clause in _OR.split(text):
        match = _NAME_EQ.match(clause.strip())
        if match is None:
            raise InvalidArgument(
                f"filter {text!r}: cannot understand {clause.strip()!r}; supported: name = <test case name> "
                "[OR name = <test case name>]…"
            )
        names.add(_unquote(match["value"]))
    return names
