"""Command line for agent packages: lint a package, diff two, list the lint rules.

    python -m airflow_provider_cx.package lint PATH [--config F] [--format json|markdown|junit]
                                                    [--fail-on ERROR|WARNING|INFO|NONE] [--output F]
                                                    [--target-agent AGENT [--project-alias N]] [--profile P]
    python -m airflow_provider_cx.package overlay SOURCE --profile PROFILE.json --output DEST.zip
    python -m airflow_provider_cx.package diff BASE TARGET [--format markdown|json] [--output F]
    python -m airflow_provider_cx.package rules

lint on a folder that holds several agents (agent folders or .zip exports, no agent.json of its own)
lints each: one report section per agent (a JSON list with --format json), the worst exit code.

lint and diff take the reading limits --max-bytes, --max-entry-bytes, --max-files, --max-ratio and
--max-json-depth (defaults: those of ReadLimits); a package past one is refused, not read.

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

from airflow_provider_cx import storage
from airflow_provider_cx.package.io import ReadLimits, agent_sources, read_package
from airflow_provider_cx.package.model import AgentPackage, PackageError
from airflow_provider_cx.terminal_text import plain

if TYPE_CHECKING:
    from airflow_provider_cx.package.lint import LintConfig

EXIT_OK, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2
_GATES = ("ERROR", "WARNING", "INFO", "NONE")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except (PackageError, OSError, ValueError) as err:  # ValueError: a limit flag out of range, a bad location
        print(f"error: {_one_line(str(err))}", file=sys.stderr)
        return EXIT_UNREADABLE
    return code


def _one_line(text: str) -> str:
    """``text`` on one line with control characters shown escaped: it names untrusted paths."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _limits(args: argparse.Namespace) -> ReadLimits:
    return ReadLimits(
        max_total_bytes=args.max_bytes,
        max_entry_bytes=args.max_entry_bytes,
        max_files=args.max_files,
        max_compression_ratio=args.max_ratio,
        max_json_depth=args.max_json_depth,
    )


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
    sources = [args.path] if isinstance(args.path, str) else agent_sources(args.path)
    if len(sources) > 1 and args.format == "junit":
        raise PackageError(
            f"{args.path} holds {len(sources)} agent packages; JUnit output takes one: "
            "lint each, or use --format markdown or json"
        )
    gate = args.fail_on.upper()
    report_gate = "ERROR" if gate == "NONE" else gate
    reports, codes = [], []
    for source in sources:  # a folder of several agents: one report section each, the worst exit code
        try:
            findings = lint_package(_read(source, _limits(args)), config)
        except PackageError as err:
            print(f"error: {_one_line(str(err))}", file=sys.stderr)
            codes.append(EXIT_UNREADABLE)
            continue
        reports.append(render_findings(findings, args.format, fail_on=report_gate, source=str(source)))
        codes.append(EXIT_FINDINGS if gate != "NONE" and any(f.reaches(gate) for f in findings) else EXIT_OK)
    if len(sources) == 1 or args.format != "json":
        _emit("\n".join(reports), args.output)
    else:
        _emit(json.dumps([json.loads(report) for report in reports], indent=2, ensure_ascii=False) + "\n", args.output)
    return max(codes)


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
        overlay = apply_profile(
            read_package(args.source, _limits(args)),
            load_profile(args.profile),
            resolve=None if args.secret_markers else env_resolver(),
            secret_markers=args.secret_markers,
        )
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

    limits = _limits(args)
    diff = diff_packages(_read(args.base, limits), _read(args.target, limits))
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
        print(f"{rule.id:<{width}}  {rule.severity:<7}  {plain(rule.summary)}")
    return EXIT_OK


def _source(value: str) -> Path | str:
    """A local path, or a gs:// URI kept as text (Path would fold its ``//``)."""
    return value if storage.is_gcs(value) else Path(value)


def _read(source: Path | str, limits: ReadLimits) -> AgentPackage:
    """The package at a local path, or in Cloud Storage through :mod:`airflow_provider_cx.storage`."""
    return read_package(storage.read_bytes(source) if isinstance(source, str) else source, limits)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _gate(value: str) -> str:
    if value.upper() not in _GATES:
        raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(_GATES)}")
    return value.upper()


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    defaults = ReadLimits()
    limits = parser.add_argument_group("reading limits (a package past one is refused, exit 2)")
    for flag, field, what in (
        ("--max-bytes", "max_total_bytes", "bytes all files may inflate to"),
        ("--max-entry-bytes", "max_entry_bytes", "bytes one file may inflate to"),
        ("--max-files", "max_files", "files in the package"),
        ("--max-ratio", "max_compression_ratio", "compression ratio of a file and of the archive, past 1 MiB"),
        ("--max-json-depth", "max_json_depth", "nesting of a JSON file"),
    ):
        default = getattr(defaults, field)
        limits.add_argument(flag, type=int, default=default, metavar="N", help=f"{what} (default {default})")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_cx.package", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    lint = commands.add_parser("lint", help="lint an agent package (a zip or a folder)")
    lint.add_argument(
        "path", type=_source, help="the agent package: a .zip export, an unzipped folder or a gs:// object"
    )
    lint.add_argument("--config", type=Path, help="lint configuration (.json or .toml)")
    lint.add_argument("--format", choices=("json", "markdown", "junit"), default="markdown")
    lint.add_argument(
        "--fail-on", type=_gate, default="ERROR", help="exit 1 when a finding is at least this severe (NONE: never)"
    )
    lint.add_argument("--output", type=Path, help="write the report here instead of stdout")
    _add_limit_options(lint)
    lint.add_argument("--target-agent", help="projects/P/locations/L/agents/A: report references to other projects")
    lint.add_argument("--project-alias", action="append", default=[], help="the target project's number")
    lint.add_argument("--profile", type=Path, help="stage profile: its forbid patterns and project number")
    lint.set_defaults(run=_lint)

    overlay = commands.add_parser("overlay", help="apply a stage profile: write the stage's package")
    overlay.add_argument("source", type=Path, help="the agent package: a .zip export or a folder")
    overlay.add_argument("--profile", type=Path, required=True, help="the stage profile (JSON)")
    overlay.add_argument("--output", type=Path, required=True, help="the stage's package (.zip, else a folder)")
    overlay.add_argument(
        "--secret-markers",
        action="store_true",
        help="write ${secret:<ref>} where the profile sets a secret, not its value (a package to store; "
        "CXRestoreAgentOperator's stage_profile puts the values in); the secrets need not be set",
    )
    _add_limit_options(overlay)
    overlay.set_defaults(run=_overlay)

    diff = commands.add_parser("diff", help="release notes: what changed from BASE to TARGET")
    diff.add_argument("base", type=_source)
    diff.add_argument("target", type=_source)
    diff.add_argument("--format", choices=("markdown", "json"), default="markdown")
    diff.add_argument("--title", help="heading of the Markdown release notes")
    diff.add_argument("--output", type=Path, help="write the notes here instead of stdout")
    _add_limit_options(diff)
    diff.set_defaults(run=_diff)

    rules = commands.add_parser("rules", help="list the lint rules with their default severity")
    rules.set_defaults(run=_rules)
    return parser


if __name__ == "__main__":
    sys.exit(main())
