"""What the CX pipelines report: release ids, release summaries, validation regressions, backup retention.

Pure functions over the small dicts the operators push to XCom (no Airflow, no network), so the
DAG files stay short and this logic is tested on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

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


def gate_detail(kind: str, result: Mapping[str, Any] | None, approval: Mapping[str, Any] | None = None) -> str:
    """One line saying what a gate found, from its XCom (``""`` when it pushed nothing).

    The approval gate says the answer, who gave it and when (``approval``, see :func:`approval_record`).
    """
    if kind == "approval" and approval and approval.get("choice"):
        by = f" by {approval['by']}" if approval.get("by") else ""
        at = f" at {approval['at']}" if approval.get("at") else ""
        return f"{approval['choice']}{by}{at}"
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
        made = f"{len(result.get('created') or ())} created, {len(result.get('adopted') or ())} reused"
        if not result.get("only_changed"):
            return made
        impacted, unchanged = len(result.get("impacted") or ()), len(result.get("unchanged") or {})
        return f"{made}; {impacted} flow(s) impacted, {unchanged} unchanged"
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


def relative_uri(folder: str, uri: str) -> str:
    """``uri`` relative to the release ``folder`` when it lies inside it (else unchanged).

    The release folder is copied, moved and read from object storage: only paths relative to it
    still point at the right file there.
    """
    base = folder.rstrip("/") + "/"
    return uri[len(base) :] if uri.startswith(base) else uri


def approval_record(result: Mapping[str, Any] | None, state: str | None) -> dict[str, Any]:
    """``{"choice", "by", "at"}`` of the answer (``cx_approval`` XCom), or ``choice: None`` and the reason."""
    if result and result.get("choice"):
        return {"choice": result["choice"], "by": result.get("by"), "at": result.get("at")}
    reasons = {
        None: "the approval was never reached",
        "skipped": "the approval was never reached",
        "upstream_failed": "not asked: an earlier gate failed",
        "failed": "the approval failed or timed out without an answer",
    }
    return {"choice": None, "by": None, "at": None, "reason": reasons.get(state, f"no answer recorded ({state})")}


def flow_versions(version_names: Iterable[str], flow_names: Mapping[str, str]) -> dict[str, str]:
    """``{flow display name: version name}`` of the versions an environment serves.

    A version's resource name holds its flow's (``.../flows/F/versions/V``); ``flow_names`` maps
    flow resource names to display names, and a flow it lacks is named by its id.
    """
    served = {}
    for version in version_names:
        flow = version.rsplit("/versions/", 1)[0]
        served[flow_names.get(flow, flow.rsplit("/", 1)[-1])] = version
    return dict(sorted(served.items()))


def stage_versions(
    *,
    before: Sequence[str] | None,
    now: Sequence[str] | None,
    flow_names: Mapping[str, str],
    deploy_ran: bool,
    error: str = "",
) -> dict[str, Any]:
    """``{"versions_before", "versions_after", "note"?}`` of one stage's environment, as ``{flow: version}``.

    ``before`` is what the deploy recorded before changing the environment (``None``: it did not
    run); ``now`` is what the environment serves when the summary is written (``None``: it could not
    be read, ``error`` says why). A stage the release never deployed serves what it served before.
    """
    record: dict[str, Any] = {
        "versions_before": None if before is None else flow_versions(before, flow_names),
        "versions_after": None if now is None else flow_versions(now, flow_names),
    }
    if not deploy_ran:
        record["versions_before"] = record["versions_after"]
        record["note"] = "not deployed by this release: the environment serves what it served before"
    if now is None:
        record["note"] = f"what the environment serves now could not be read: {error or 'unknown error'}"
    return record


def gate_times(
    started: Mapping[str, str | None], breadcrumbs: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, str | None]]:
    """``{task: {"start", "end"}}`` (ISO 8601, UTC) from each task's recorded start and Airflow's duration.

    ``started`` holds the start each task recorded when it began; ``breadcrumbs`` are Airflow's
    ``{"task_id", "duration"}`` rows of the finished tasks. A task that never ran has neither.
    """
    durations = {row["task_id"]: row.get("duration") for row in breadcrumbs if row.get("map_index", -1) == -1}
    times: dict[str, dict[str, str | None]] = {}
    for task_id, start in started.items():
        if not start:
            continue
        duration = durations.get(task_id)
        end = None if duration is None else (datetime.fromisoformat(start) + timedelta(seconds=duration)).isoformat()
        times[task_id] = {"start": start, "end": end}
    return times


def gate_report(result: Mapping[str, Any] | None) -> str | None:
    """The report a reader opens for a gate: its Markdown report, else the first one it wrote."""
    reports = (result or {}).get("reports") or {}
    if not isinstance(reports, Mapping) or not reports:
        return None
    return str(reports.get("markdown") or next(iter(reports.values())))


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
    run: Mapping[str, Any] | None = None,
    times: Mapping[str, Mapping[str, str | None]] | None = None,
    approval: Mapping[str, Any] | None = None,
    package: Mapping[str, Any] | None = None,
    environments: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything a reader of the release folder needs: outcome, each gate, versions deployed, reports.

    ``gates`` is ``[(task_id, kind), ...]`` in pipeline order; ``results`` maps task ids to their XCom;
    ``versions`` maps a stage to the ``{flow: version name}`` its version task returned;
    ``substitutions`` maps a stage to the change list its stage package task wrote (values masked);
    ``run`` is ``{"run_id", "start", "end"}`` of the DAG run; ``times`` maps task ids to their
    ``{"start", "end"}``; ``approval`` is the approval's answer (see :func:`approval_record`);
    ``package`` is the release package's export result (``uri``, ``sha256``, ``size_bytes``);
    ``environments`` maps a stage to ``{"versions_before", "versions_after"}`` (``{flow: version}``,
    ``None`` when unknown) and an optional ``note``. Every URI inside ``folder`` is recorded
    relative to it, so the folder can be copied or moved.
    """
    times = times or {}
    approval_row = approval_record(approval, states.get("approve_prod"))
    rows = [
        {
            "task": task_id,
            "state": states.get(task_id),
            "outcome": states.get(task_id) or "not run",
            "start": (times.get(task_id) or {}).get("start"),
            "end": (times.get(task_id) or {}).get("end"),
            "detail": _relative_text(folder, gate_detail(kind, results.get(task_id), approval_row)),
            "report": _relative_or_none(folder, gate_report(results.get(task_id))),
        }
        for task_id, kind in gates
    ]
    deployed = {
        stage: dict(versions.get(stage) or {})
        for stage in ("staging", "prod")
        if states.get(f"deploy_{stage}") == "success" and states.get(f"rollback_{stage}") != "success"
    }
    reports = sorted(
        {
            relative_uri(folder, uri)
            for result in results.values()
            if result
            for uri in (result.get("reports") or {}).values()
            if uri
        }
    )
    outcome = release_outcome(states, [task_id for task_id, _ in gates if not task_id.startswith("rollback")])
    if approval_row["choice"] == "Reject" and not outcome.startswith("failed"):
        outcome = "rejected"
    return {
        "release_id": release_id,
        "folder": folder,
        "run_id": (run or {}).get("run_id"),
        "start": (run or {}).get("start"),
        "end": (run or {}).get("end"),
        "outcome": outcome,
        "approval": approval_row,
        "package": _package_record(folder, package),
        "stages": {name: dict(stage) for name, stage in stages.items()},
        "gates": rows,
        "deployed": deployed,
        "environments": {stage: dict(record) for stage, record in (environments or {}).items()},
        "failed_rollbacks": [
            row["task"] for row in rows if row["task"].startswith("rollback_") and row["state"] == "failed"
        ],
        "rolled_back": [
            row["task"] for row in rows if row["task"].startswith("rollback") and row["state"] == "success"
        ],
        "reports": reports,
        "flows": {stage: _flow_impact(results.get(f"version_{stage}")) for stage in ("staging", "prod")},
        "stage_profiles": {
            stage: {
                "package": _relative_or_none(folder, record.get("uri")),
                "sha256": record.get("sha256"),
                "changes": [dict(change) for change in record.get("changes") or ()],
            }
            for stage, record in (substitutions or {}).items()
        },
    }


def _flow_impact(versions: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Which flows a stage's version task versioned (``impacted``) and which kept their version."""
    if not versions:
        return None
    return {
        "impacted": list(versions.get("impacted") or ()),
        "unchanged": dict(versions.get("unchanged") or {}),
        "only_changed": bool(versions.get("only_changed")),
    }


def _package_record(folder: str, package: Mapping[str, Any] | None) -> dict[str, Any]:
    package = package or {}
    return {
        "uri": _relative_or_none(folder, package.get("uri")),
        "sha256": package.get("sha256"),
        "size_bytes": package.get("size_bytes"),
    }


def _relative_or_none(folder: str, uri: Any) -> str | None:
    return relative_uri(folder, str(uri)) if uri else None


def _relative_text(folder: str, text: str) -> str:
    # Details quote URIs in prose; inside the folder they must read as relative paths too.
    return text.replace(folder.rstrip("/") + "/", "") if folder else text


def release_summary_markdown(summary: Mapping[str, Any]) -> str:
    """The summary as Markdown; every value is escaped, so none can add a heading, a link or a row.

    Links point at files of the release folder by relative paths, so they work wherever the
    folder is read.
    """
    lines = [
        f"# Release {md_text(summary['release_id'])}: {md_text(summary['outcome'])}",
        "",
        *_run_lines(summary),
        "",
        "| stage | agent | environment |",
        "| --- | --- | --- |",
        *(
            f"| {md_text(name)} | {md_code(stage['agent'], in_table=True)} | {md_text(stage['environment'])} |"
            for name, stage in summary["stages"].items()
        ),
        "",
        "| gate | outcome | start | end | detail | report |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            f"| {md_text(row['task'])} | {md_text(row['state'] or 'not run')} | {_text_or_dash(row.get('start'))} | "
            f"{_text_or_dash(row.get('end'))} | {md_text(row['detail'])} | {_link(row.get('report'))} |"
            for row in summary["gates"]
        ),
        "",
    ]
    if summary.get("outcome") == "rejected":
        lines += ["**Rejected**: nothing was promoted to prod.", ""]
    for stage, record in (summary.get("environments") or {}).items():
        lines += _environment_lines(stage, record)
    for stage, impact in (summary.get("flows") or {}).items():
        lines += _impact_lines(stage, impact)
    for stage, flows in summary["deployed"].items():
        served = (f"- {md_text(flow)}: {md_code(name)}" for flow, name in sorted(flows.items()))
        lines += [f"**{md_text(stage)}** now serves:", "", *served, ""]
    for stage, staged in (summary.get("stage_profiles") or {}).items():
        changes = staged["changes"]
        lines += [f"**{md_text(stage)}** package {_link(staged['package'])}: {len(changes)} substitution(s)", ""]
        if changes:
            lines += ["| file | field | before | after |", "| --- | --- | --- | --- |"]
            lines += [_change_row(change) for change in changes] + [""]
    lines += ["Reports:", "", *(f"- {_link(uri)}" for uri in summary["reports"]), ""]
    return "\n".join(lines)


def _impact_lines(stage: str, impact: Mapping[str, Any] | None) -> list[str]:
    if not impact:
        return []
    impacted = ", ".join(md_text(flow) for flow in impact["impacted"]) or "none"
    lines = [f"**{md_text(stage)}** versioned the flows this release changed: {impacted}", ""]
    if impact["unchanged"]:
        kept = (f"- {md_text(flow)}: {md_code(name)}" for flow, name in sorted(impact["unchanged"].items()))
        lines += ["Unchanged, kept the version they served:", "", *kept, ""]
    return lines


def _run_lines(summary: Mapping[str, Any]) -> list[str]:
    approval = summary.get("approval") or {}
    if approval.get("choice"):
        who = md_text(approval.get("by") or "unknown")
        answer = f"{md_text(approval['choice'])} by {who} at {_text_or_dash(approval.get('at'))}"
    else:
        answer = f"none ({md_text(approval.get('reason') or 'not recorded')})"
    package = summary.get("package") or {}
    size = package.get("size_bytes")
    return [
        f"- Airflow run: {md_code(summary.get('run_id') or '-')}",
        f"- Started: {_text_or_dash(summary.get('start'))}; ended: {_text_or_dash(summary.get('end'))}",
        f"- Approval: {answer}",
        f"- Package: {_link(package.get('uri'))}, sha256 {md_code(package.get('sha256') or '-')}, "
        f"{'-' if size is None else size} bytes",
    ]


def _environment_lines(stage: str, record: Mapping[str, Any]) -> list[str]:
    before = record.get("versions_before") or {}
    after = record.get("versions_after") or {}
    lines = [f"**{md_text(stage)}** flow versions:", ""]
    if record.get("note"):
        lines += [md_text(record["note"]), ""]
    flows = sorted(set(before) | set(after))
    if flows:
        lines += ["| flow | before | after |", "| --- | --- | --- |"]
        lines += [
            f"| {md_text(flow)} | {_code_or_dash(before.get(flow))} | {_code_or_dash(after.get(flow))} |"
            for flow in flows
        ]
        lines.append("")
    return lines


def _code_or_dash(value: Any) -> str:
    return md_code(value, in_table=True) if value else "-"


def _text_or_dash(value: Any) -> str:
    return md_text(value) if value else "-"


def _link(path: str | None) -> str:
    """A Markdown link to ``path`` (relative inside the folder), its text escaped and its target quoted."""
    if not path:
        return "-"
    return f"[{md_text(path)}]({quote(path, safe='/:' if '://' in path else '/')})"


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
