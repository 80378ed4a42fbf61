"""Lint configuration: which rules run, how severe they are, naming patterns and an allow-list.

A configuration is data (a dict, a JSON or a TOML file) so teams keep it next to their agent. It is
validated when built: a misspelt rule id or a regex that does not compile is a
:class:`LintConfigError` naming the key, not a rule that silently never runs.

Example (TOML)::

    disabled_rules = ["dangling-page"]
    min_training_phrases = 15
    agent_type = "voice"

    [severity_overrides]
    unused-intent = "WARNING"

    [naming_patterns]
    intent = '^(head|small_talk|redirect)\\.'

    [[allow]]
    rule = "unreachable-page"
    resource = "Legacy *"
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_cx.package.lint.findings import RESOURCE_TYPES, SEVERITIES

if TYPE_CHECKING:
    from airflow_provider_cx.package.lint.findings import Finding

AGENT_TYPES = ("chat", "voice")
_AGENT_NAME = re.compile(r"^projects/[^/\s]+/locations/[a-z][a-z0-9-]*/agents/[^/\s]+$")
DEFAULT_MIN_TRAINING_PHRASES = 10


class LintConfigError(ValueError):
    """A lint configuration that cannot be used (unknown key, rule, severity or a bad pattern)."""


@dataclass(frozen=True)
class AllowEntry:
    """Accepts findings of ``rule`` (an id or a glob) on a resource and/or path matching the globs.

    ``resource`` is matched against every display name the finding names and its flow; ``path``
    against the package file. An entry with neither accepts the rule everywhere.
    """

    rule: str
    resource: str | None = None
    path: str | None = None

    def matches(self, finding: Finding) -> bool:
        if not fnmatch.fnmatchcase(finding.rule_id, self.rule):
            return False
        if self.path is not None and not fnmatch.fnmatchcase(finding.path, self.path):
            return False
        if self.resource is not None:
            names = [*finding.resource_display_names, *([finding.flow] if finding.flow else [])]
            if not any(fnmatch.fnmatchcase(name, self.resource) for name in names):
                return False
        return True


@dataclass(frozen=True)
class LintConfig:
    """How to lint: see the module docstring for the file format.

    - ``disabled_rules``: rule ids that do not run.
    - ``severity_overrides``: rule id -> "ERROR" | "WARNING" | "INFO".
    - ``naming_patterns``: resource type ("flow", "page", "intent", "entityType", "webhook",
      "testCase", "transitionRouteGroup") -> regex the display name must contain (``re.search``).
    - ``allow``: findings accepted on purpose (see :class:`AllowEntry`).
    - ``min_training_phrases``: fewer phrases than this in a language is "too few".
    - ``agent_type``: "chat" (written punctuation) or "voice" (punctuation as intonation marks,
      the convention of the CX voice-agent design guide); picks which punctuation rules run.
    - ``target_agent``: ``projects/P/locations/L/agents/A`` the package is about to be restored
      into; turns on the stage-fit rules (references to other projects or locations).
    - ``target_project_aliases``: other ids of the target's project (its project number), since
      resource names carry either the id or the number.
    - ``forbid``: regexes no webhook URI or tool server URL may match (``re.search``), e.g. the
      other stages' hosts; a stage profile's ``forbid``.
    """

    disabled_rules: frozenset[str] = frozenset()
    severity_overrides: Mapping[str, str] = field(default_factory=dict)
    naming_patterns: Mapping[str, str] = field(default_factory=dict)
    allow: tuple[AllowEntry, ...] = ()
    min_training_phrases: int = DEFAULT_MIN_TRAINING_PHRASES
    agent_type: str = "chat"
    target_agent: str | None = None
    target_project_aliases: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        known = _known_rules()
        object.__setattr__(self, "disabled_rules", frozenset(self.disabled_rules))
        object.__setattr__(self, "allow", tuple(self.allow))
        for rule_id in self.disabled_rules:
            _check_rule(rule_id, known, "disabled_rules")
        overrides = {}
        for rule_id, severity in self.severity_overrides.items():
            _check_rule(rule_id, known, "severity_overrides")
            if not isinstance(severity, str) or severity.upper() not in SEVERITIES:
                raise LintConfigError(
                    f"severity_overrides.{rule_id}: {severity!r} is not one of {', '.join(SEVERITIES)}"
                )
            overrides[rule_id] = severity.upper()
        object.__setattr__(self, "severity_overrides", overrides)
        for resource_type, pattern in self.naming_patterns.items():
            if resource_type not in RESOURCE_TYPES:
                raise LintConfigError(
                    f"naming_patterns: unknown resource type {resource_type!r}; "
                    f"expected one of {', '.join(RESOURCE_TYPES)}"
                )
            try:
                re.compile(pattern)
            except (re.error, TypeError) as err:
                raise LintConfigError(f"naming_patterns.{resource_type}: {pattern!r} is not a regex: {err}") from err
        for entry in self.allow:
            if not isinstance(entry, AllowEntry):
                raise LintConfigError(f"allow: {entry!r} is not an AllowEntry")
            if not any(ch in entry.rule for ch in "*?[") and entry.rule not in known:
                _check_rule(entry.rule, known, "allow")
        if isinstance(self.min_training_phrases, bool) or not isinstance(self.min_training_phrases, int):
            raise LintConfigError(f"min_training_phrases must be an integer, not {self.min_training_phrases!r}")
        if self.min_training_phrases < 0:
            raise LintConfigError("min_training_phrases must not be negative")
        if self.agent_type not in AGENT_TYPES:
            raise LintConfigError(f"agent_type must be one of {', '.join(AGENT_TYPES)}, not {self.agent_type!r}")
        self._check_stage_target()

    def _check_stage_target(self) -> None:
        object.__setattr__(self, "target_project_aliases", tuple(self.target_project_aliases))
        object.__setattr__(self, "forbid", tuple(self.forbid))
        if self.target_agent is not None and not _AGENT_NAME.match(str(self.target_agent)):
            raise LintConfigError(f"target_agent: {self.target_agent!r} is not projects/P/locations/L/agents/A")
        for index, pattern in enumerate(self.forbid):
            try:
                re.compile(pattern)
            except (re.error, TypeError) as err:
                raise LintConfigError(f"forbid[{index}]: {pattern!r} is not a regex: {err}") from err

    # --- building -------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LintConfig:
        if not isinstance(data, Mapping):
            raise LintConfigError(f"a lint configuration must be a mapping, not {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise LintConfigError(
                f"unknown lint configuration keys: {', '.join(unknown)}; known: {', '.join(sorted(names))}"
            )
        kwargs: dict[str, Any] = dict(data)
        if "disabled_rules" in kwargs:
            kwargs["disabled_rules"] = frozenset(_string_list(kwargs["disabled_rules"], "disabled_rules"))
        for key in ("severity_overrides", "naming_patterns"):
            if key in kwargs and not isinstance(kwargs[key], Mapping):
                raise LintConfigError(f"{key} must be a mapping")
        for key in ("target_project_aliases", "forbid"):
            if key in kwargs:
                kwargs[key] = tuple(_string_list(kwargs[key], key))
        if "allow" in kwargs:
            kwargs["allow"] = tuple(_allow_entry(item) for item in _list(kwargs["allow"], "allow"))
        return cls(**kwargs)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> LintConfig:
        """Read a ``.json`` or ``.toml`` configuration (other suffixes: JSON, then TOML)."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise LintConfigError(f"cannot read lint configuration {file}: {err}") from err
        both = [("JSON", _parse_json), ("TOML", _parse_toml)]
        parsers = {".json": both[:1], ".toml": both[1:]}.get(file.suffix.lower(), both)
        errors = []
        for _, parse in parsers:
            try:
                data = parse(text)
            except ValueError as err:
                errors.append(str(err))
                continue
            except RecursionError:  # both parsers recurse per nesting level
                raise LintConfigError(f"{file} nests too deeply to be a lint configuration") from None
            try:
                return cls.from_dict(data)
            except LintConfigError as err:
                raise LintConfigError(f"{file}: {err}") from err
        labels = " or ".join(label for label, _ in parsers)
        raise LintConfigError(f"{file} is not valid {labels}: {'; '.join(errors)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "disabled_rules": sorted(self.disabled_rules),
            "severity_overrides": dict(sorted(self.severity_overrides.items())),
            "naming_patterns": dict(sorted(self.naming_patterns.items())),
            "allow": [{k: v for k, v in vars(e).items() if v is not None} for e in self.allow],
            "min_training_phrases": self.min_training_phrases,
            "agent_type": self.agent_type,
            **({"target_agent": self.target_agent} if self.target_agent else {}),
            **({"target_project_aliases": list(self.target_project_aliases)} if self.target_project_aliases else {}),
            **({"forbid": list(self.forbid)} if self.forbid else {}),
        }

    # --- use ------------------------------------------------------------------------------------
    def is_allowed(self, finding: Finding) -> bool:
        return any(entry.matches(finding) for entry in self.allow)


def _known_rules() -> set[str]:
    from airflow_provider_cx.package.lint.rules import RULES  # the rules import this module

    return set(RULES)


def _check_rule(rule_id: Any, known: set[str], key: str) -> None:
    if rule_id not in known:
        raise LintConfigError(f"{key}: unknown lint rule {rule_id!r}; known rules: {', '.join(sorted(known))}")


def _list(value: Any, key: str) -> list[Any]:
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise LintConfigError(f"{key} must be a list")
    return list(value)


def _string_list(value: Any, key: str) -> list[str]:
    items = _list(value, key)
    if not all(isinstance(item, str) for item in items):
        raise LintConfigError(f"{key} must be a list of strings")
    return items


def _allow_entry(item: Any) -> AllowEntry:
    if isinstance(item, AllowEntry):
        return item
    if not isinstance(item, Mapping) or not isinstance(item.get("rule"), str):
        raise LintConfigError(f"allow: each entry needs a 'rule' (id or glob), got {item!r}")
    unknown = sorted(set(item) - {"rule", "resource", "path"})
    if unknown:
        raise LintConfigError(f"allow: unknown keys {', '.join(unknown)} in {dict(item)!r}")
    for key in ("resource", "path"):
        if key in item and not isinstance(item[key], str):
            raise LintConfigError(f"allow: {key} must be a glob string in {dict(item)!r}")
    return AllowEntry(item["rule"], item.get("resource"), item.get("path"))


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"JSON: {err}") from err


def _parse_toml(text: str) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"TOML: {err}") from err
