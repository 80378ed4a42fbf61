"""What the CX pipelines report: release ids, release summaries, validation regressions, backup retention.

Pure functions over the small dicts the operators push to XCom (no Airflow, no network), so the
DAG files stay short and this logic is tested on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from airflow_provider_cx.package.markdown import md_code, md_text

FAILED_STATES = frozenset({"failed", "upstream_failed"})


# --- release ids -------------------------------------------------------------------------------


def release_id_for(run_id: str, run_after: datetime) -> str:
    """A release id that is stable for one DAG run (so a retried task reuses its versions).

    ``rel-<UTC time of the run>-<4 hex of the run id>``: sortable, readable, unique per run, and
    short enough for a version display name (64 characters).
    """
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:4]
    return f"rel-{run_after.strftime('%Y%m%d-%H%M%S')}-{digest}"


# --- release summary ---------------------------------------------------------------------------


def gate_detail(kind: str, result: Mapping[str, Any] | None) -> str:
    """One line saying what a gate found, from its XCom (``""`` when it pushed nothing)."""
    if not result:
        return ""
    if kind == "export":
        size = result.get("size_bytes")
        return f"{result.get('uri')} ({size} bytes)" if size is not None else str(result.get("uri"))
    if kind in ("lint", "validate"):
        counts = result.get("counts") or {}
        return ", ".join(f"{counts.get(level, 0)} {level.lower()}" for level in ("ERROR", "WARNING", "INFO"))
    if kind == "diff":
        if result.get("empty"):
            return "no changes"
        return "; ".join(
            f"{kind_}: +{n.get('added', 0)} -{n.get('removed', 0)} ~{n.get('changed', 0)}"
            for kind_, n in sorted((result.get("summary") or {}).items())
        )
    if kind == "stage_package":
        gate = result.get("gate") or {}
        if gate.get("failed"):
            return f"stage fit FAILED: {', '.join(f'{rule} {n}' for rule, n in (gate.get('by_rule') or {}).items())}"
        return f"{result.get('changes', 0)} substitution(s), stage fit passed: {result.get('uri')}"
    if kind == "restore":
        return f"backup {result.get('backup_uri')}" if result.get("backup_uri") else "restored"
    if kind == "test":
        text = f"{result.get('passed', 0)}/{result.get('total', 0)} passed"
        failing = [item.get("test_case", "?") for item in result.get("failing") or ()]
        return text + (f"; failing: {', '.join(failing)}" if failing else "")
    if kind == "version":
        return f"{len(result.get('created') or ())} created, {len(result.get('adopted') or ())} reused"
    if kind == "deploy":
        served = len(result.get("version_configs") or ())
        return f"{result.get('display_name')}: {served} flow versions" + (
            "" if result.get("changed") else " (unchanged)"
        )
    if kind == "approval":
        return ", ".join(result.get("chosen_options") or ()) or "answered"
    if kind == "smoke":
        return f"{result.get('passed', 0)}/{result.get('total', 0)} utterances matched"
    if kind == "rollback":
        restored = result.get("restored_from")
        return f"environment {result.get('environment_action')}" + (
            f", agent restored from {restored}" if restored else ""
        )
    return ""


def release_outcome(states: Mapping[str, str | None], gate_order: Sequence[str]) -> str:
    """``released``, ``rejected`` (prod skipped after the approval) or ``failed at <first failed gate>``."""
    for task_id in gate_order:
        if states.get(task_id) == "failed":
            return f"failed at {task_id}"
    if states.get(gate_order[-1]) == "success":
        return "released"
    if states.get("approve_prod") == "success" and states.get(gate_order[-1]) == "skipped":
        return "rejected"
    return "incomplete"


def release_summary(
    *,
    release_id: str,
    folder: str,
    stages: Mapping[str, Mapping[str, str]],
    gates: Sequence[tuple[str, str]],
    states: Mapping[str, str | None],
    results: Mapping[str, Mapping[str, Any] | None],
    versions: Mapping[str, Mapping[str, str] | None],
    substitutions: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything a reader of the release folder needs: outcome, each gate, versions deployed, reports.

    ``gates`` is ``[(task_id, kind), ...]`` in pipeline order; ``results`` maps task ids to their XCom;
    ``versions`` maps a stage to the ``{flow: version name}`` its version task returned;
    ``substitutions`` maps a stage to the change list its stage package task wrote (values masked).
    """
    rows = [
        {"task": task_id, "state": states.get(task_id), "detail": gate_detail(kind, results.get(task_id))}
        for task_id, kind in gates
    ]
    deployed = {
        stage: dict(versions.get(stage) or {})
        for stage in ("staging", "prod")
        if states.get(f"deploy_{stage}") == "success" and states.get(f"rollback_{stage}") != "success"
    }
    reports = sorted(
        {uri for result in results.values() if result for uri in (result.get("reports") or {}).values() if uri}
    )
    return {
        "release_id": release_id,
        "folder": folder,
        "outcome": release_outcome(states, [task_id for task_id, _ in gates if not task_id.startswith("rollback")]),
        "stages": {name: dict(stage) for name, stage in stages.items()},
        "gates": rows,
        "deployed": deployed,
        "failed_rollbacks": [
            row["task"] for row in rows if row["task"].startswith("rollback_") and row["state"] == "failed"
        ],
        "rolled_back": [
            row["task"] for row in rows if row["task"].startswith("rollback") and row["state"] == "success"
        ],
        "reports": reports,
        "stage_profiles": {
            stage: {
                "package": record.get("uri"),
                "sha256": record.get("sha256"),
                "changes": [dict(change) for change in record.get("changes") or ()],
            }
            for stage, record in (substitutions or {}).items()
        },
    }


def release_summary_markdown(summary: Mapping[str, Any]) -> str:
    """The summary as Markdown; every value is escaped, so none can add a heading, a link or a row."""
    lines = [
        f"# Release {md_text(summary['release_id'])}: {md_text(summary['outcome'])}",
        "",
        "| stage | agent | environment |",
        "| --- | --- | --- |",
        *(
            f"| {md_text(name)} | {md_code(stage['agent'], in_table=True)} | {md_text(stage['environment'])} |"
            for name, stage in summary["stages"].items()
        ),
        "",
        "| gate | state | detail |",
        "| --- | --- | --- |",
        *(
            f"| {md_text(row['task'])} | {md_text(row['state'] or 'not run')} | {md_text(row['detail'])} |"
            for row in summary["gates"]
        ),
        "",
    ]
    for stage, flows in summary["deployed"].items():
        served = (f"- {md_text(flow)}: {md_code(name)}" for flow, name in sorted(flows.items()))
        lines += [f"**{md_text(stage)}** now serves:", "", *served, ""]
    for stage, staged in (summary.get("stage_profiles") or {}).items():
        changes = staged["changes"]
        lines += [f"**{md_text(stage)}** package {md_code(staged['package'])}: {len(changes)} substitution(s)", ""]
        if changes:
            lines += ["| file | field | before | after |", "| --- | --- | --- | --- |"]
            lines += [_change_row(change) for change in changes] + [""]
    lines += ["Reports:", "", *(f"- {md_text(uri)}" for uri in summary["reports"]), ""]
    return "\n".join(lines)


def _change_row(change: Mapping[str, Any]) -> str:
    cells = [change.get(key, "") for key in ("path", "field", "before", "after")]
    return "| " + " | ".join(md_code(cell, in_table=True) for cell in cells) + " |"


# --- scheduled validation ------------------------------------------------------------------------


def validation_row(
    target: Mapping[str, str],
    validation: Mapping[str, Any] | None,
    tests: Mapping[str, Any] | None,
    coverage: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """One agent x environment line of the summary, from the three tasks' XComs (``None``: did not report)."""
    return {
        "key": target["key"],
        "agent": target["agent"],
        "environment": target["environment"],
        "validation_failed": None if validation is None else bool(validation.get("failed")),
        "validation_counts": (validation or {}).get("counts"),
        "passed": None if tests is None else tests.get("passed"),
        "total": None if tests is None else tests.get("total"),
        "failing": sorted(item.get("test_case", "?") for item in (tests or {}).get("failing") or ()),
        "coverage": {kind: (coverage or {}).get(kind, {}).get("score") for kind in ("intent", "page_transition")}
        if coverage
        else None,
    }


def validation_problems(rows: Iterable[Mapping[str, Any]], previous: Iterable[Mapping[str, Any]] = ()) -> list[str]:
    """What makes the scheduled validation fail, one sentence each.

    A target fails when a check did not report, validation failed its gate, or a test case fails. A
    regression is a test case that passed in the previous summary and fails now, or a coverage score
    that dropped; regressions are named as such.
    """
    before = {(row["key"], row["environment"]): row for row in previous}
    problems = []
    for row in rows:
        where = f"{row['key']}/{row['environment']}"
        if row["validation_failed"] is None or row["total"] is None or row["coverage"] is None:
            problems.append(f"{where}: a check did not report (see the failed tasks)")
        if row["validation_failed"]:
            problems.append(f"{where}: validation found blocking issues {row['validation_counts']}")
        old = before.get((row["key"], row["environment"]))
        newly_failing = set(row["failing"]) - set(old["failing"]) if old else set()
        for name in sorted(newly_failing):
            problems.append(f"{where}: regression: test case {name!r} passed last time and fails now")
        for name in sorted(set(row["failing"]) - newly_failing):
            problems.append(f"{where}: test case {name!r} fails")
        if old and old.get("coverage") and row["coverage"]:
            for kind, score in row["coverage"].items():
                was = old["coverage"].get(kind)
                if score is not None and was is not None and score < was:
                    problems.append(f"{where}: regression: {kind} coverage dropped from {was:.0%} to {score:.0%}")
    return problems


def validation_markdown(rows: Sequence[Mapping[str, Any]], problems: Sequence[str]) -> str:
    """The scheduled validation's summary as Markdown, every value escaped."""
    lines = [
        "# Scheduled validation",
        "",
        "| agent | environment | validation | test cases | intent coverage | transition coverage |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        coverage = row["coverage"] or {}
        validation = {None: "no result", True: "FAILED", False: "ok"}[row["validation_failed"]]
        tests = "no result" if row["total"] is None else f"{row['passed']}/{row['total']}"
        lines.append(
            f"| {md_text(row['key'])} | {md_text(row['environment'])} | {validation} | {tests} | "
            f"{_percent(coverage.get('intent'))} | {_percent(coverage.get('page_transition'))} |"
        )
    lines += ["", "## Problems" if problems else "No problems.", "", *(f"- {md_text(p)}" for p in problems), ""]
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


# --- backups -------------------------------------------------------------------------------------


def backups_to_prune(names: Iterable[str], keep_last: int) -> list[str]:
    """The backup folders (named by sortable timestamps) beyond the newest ``keep_last``, oldest first."""
    if keep_last < 1:
        raise ValueError(f"keep_last must be at least 1, got {keep_last}")
    ordered = sorted(names)
    return ordered[: max(0, len(ordered) - keep_last)]
