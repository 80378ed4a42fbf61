"""Command line for agent packages: lint a package, diff two, list the lint rules.

    python -m airflow_provider_cx.package lint PATH [--config F] [--format json|markdown|junit]
                                                    [--fail-on ERROR|WARNING|INFO|NONE] [--output F]
                                                    [--target-agent AGENT [--project-alias N]] [--profile P]
    python -m airflow_provider_cx.package overlay SOURCE --profile PROFILE.json --output DEST.zip
    python -m airflow_provider_cx.package diff BASE TARGET [--format markdown|json] [--output F]
    python -m airflow_provider_cx.package rules

Exit codes: 0 success (for lint: no finding reaches the gate), 1 a finding reaches the gate,
2 the input (package, configuration, arguments) cannot be read.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_cx.package.io import read_package
from airflow_provider_cx.package.model import PackageError

if TYPE_CHECKING:
    from airflow_provider_cx.package.lint import LintConfig

EXIT_OK, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2
_GATES = ("ERROR", "WARNING", "INFO", "NONE")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (PackageError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_UNREADABLE


def _lint(args: argparse.Namespace) -> int:
    from airflow_provider_cx.package.lint import LintConfig, LintConfigError, lint_package
    from airflow_provider_cx.package.reports import render_findings

    try:
        config = LintConfig.from_file(args.config) if args.config else LintConfig()
    except LintConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.target_agent or args.profile or args.project_alias:
        try:
            config = _stage_config(config, args)
        except (LintConfigError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_UNREADABLE
    package = read_package(args.path)
    findings = lint_package(package, config)
    gate = args.fail_on.upper()
    report_gate = "ERROR" if gate == "NONE" else gate
    _emit(render_findings(findings, args.format, fail_on=report_gate, source=str(args.path)), args.output)
    failed = gate != "NONE" and any(f.reaches(gate) for f in findings)
    return EXIT_FINDINGS if failed else EXIT_OK


def _stage_config(config: LintConfig, args: argparse.Namespace) -> LintConfig:
    """The lint configuration plus the stage-fit inputs: target agent, project aliases, the profile's
    forbid patterns and project number."""
    from airflow_provider_cx.package.profile import load_profile

    profile = load_profile(args.profile) if args.profile else None
    number = [profile.project_number] if profile and profile.project_number else []
    return dataclasses.replace(
        config,
        target_agent=args.target_agent or config.target_agent,
        target_project_aliases=(*config.target_project_aliases, *args.project_alias, *number),
        forbid=(*config.forbid, *(profile.forbid if profile else ())),
    )


def _overlay(args: argparse.Namespace) -> int:
    from airflow_provider_cx.package.io import write_folder, write_zip
    from airflow_provider_cx.package.profile import ProfileError, apply_profile, env_resolver, load_profile

    try:
        overlay = apply_profile(read_package(args.source), load_profile(args.profile), resolve=env_resolver())
    except ProfileError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.output.suffix.lower() == ".zip":
        args.output.write_bytes(write_zip(overlay.package))
    else:
        write_folder(overlay.package, args.output)
    sys.stdout.write(overlay.describe())
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    from airflow_provider_cx.package.diff import diff_packages

    diff = diff_packages(read_package(args.base), read_package(args.target))
    if args.format == "json":
        text = json.dumps(diff.to_dict(), indent=2, ensure_ascii=False) + "\n"
    else:
        text = diff.to_markdown(title=args.title)
    _emit(text, args.output)
    return EXIT_OK


def _rules(args: argparse.Namespace) -> int:
    from airflow_provider_cx.package.lint import RULES

    width = max(len(rule_id) for rule_id in RULES)
    for rule in sorted(RULES.values(), key=lambda r: r.id):
        print(f"{rule.id:<{width}}  {rule.severity:<7}  {rule.summary}")
    return EXIT_OK


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _gate(value: str) -> str:
    if value.upper() not in _GATES:
        raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(_GATES)}")
    return value.upper()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_cx.package", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    lint = commands.add_parser("lint", help="lint an agent package (a zip or a folder)")
    lint.add_argument("path", type=Path, help="the agent package: a .zip export or an unzipped folder")
    lint.add_argument("--config", type=Path, help="lint configuration (.json or .toml)")
    lint.add_argument("--format", choices=("json", "markdown", "junit"), default="markdown")
    lint.add_argument(
        "--fail-on", type=_gate, default="ERROR", help="exit 1 when a finding is at least this severe (NONE: never)"
    )
    lint.add_argument("--output", type=Path, help="write the report here instead of stdout")
    lint.add_argument("--target-agent", help="projects/P/locations/L/agents/A: report references to other projects")
    lint.add_argument("--project-alias", action="append", default=[], help="the target project's number")
    lint.add_argument("--profile", type=Path, help="stage profile: its forbid patterns and project number")
    lint.set_defaults(run=_lint)

    overlay = commands.add_parser("overlay", help="apply a stage profile: write the stage's package")
    overlay.add_argument("source", type=Path, help="the agent package: a .zip export or a folder")
    overlay.add_argument("--profile", type=Path, required=True, help="the stage profile (JSON)")
    overlay.add_argument("--output", type=Path, required=True, help="the stage's package (.zip, else a folder)")
    overlay.set_defaults(run=_overlay)

    diff = commands.add_parser("diff", help="release notes: what changed from BASE to TARGET")
    diff.add_argument("base", type=Path)
    diff.add_argument("target", type=Path)
    diff.add_argument("--format", choices=("markdown", "json"), default="markdown")
    diff.add_argument("--title", help="heading of the Markdown release notes")
    diff.add_argument("--output", type=Path, help="write the notes here instead of stdout")
    diff.set_defaults(run=_diff)

    rules = commands.add_parser("rules", help="list the lint rules with their default severity")
    rules.set_defaults(run=_rules)
    return parser


if __name__ == "__main__":
    sys.exit(main())
