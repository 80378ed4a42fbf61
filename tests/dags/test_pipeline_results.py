"""Release ids, release summaries, validation problems and backup retention (pure functions of dags/)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cx_pipeline_config import check_release_id
from cx_pipeline_results import (
    backups_to_prune,
    gate_detail,
    release_outcome,
    release_summary,
    release_summary_markdown,
    validation_markdown,
    validation_problems,
    validation_row,
)

GATES = [
    ("export_dev", "export"),
    ("test_staging", "test"),
    ("deploy_staging", "deploy"),
    ("approve_prod", "approval"),
    ("deploy_prod", "deploy"),
    ("smoke_test_prod", "smoke"),
    ("rollback_staging", "rollback"),
    ("rollback_prod", "rollback"),
]
STAGES = {
    name: {"agent": f"projects/{name}/locations/global/agents/a", "environment": name}
    for name in ("dev", "staging", "prod")
}


def test_release_ids_are_stable_per_run_and_distinct_between_runs() -> None:
    from cx_pipeline_results import release_id_for

    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    first = release_id_for("manual__2025-03-04T05:06:07+00:00", when)

    assert first == release_id_for("manual__2025-03-04T05:06:07+00:00", when)
    assert first.startswith("rel-20250304-050607-")
    assert first != release_id_for("manual__other", when)
    assert check_release_id(first) == first


@pytest.mark.parametrize("bad", ["", "a" * 65, "rel 1", "rel/1", "r]1"])
def test_a_release_id_that_cannot_name_versions_and_folders_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="release_id"):
        check_release_id(bad)


def test_outcome_names_the_first_failed_gate_or_a_rejection() -> None:
    order = [task for task, _ in GATES if not task.startswith("rollback")]
    released = dict.fromkeys(order, "success")
    assert release_outcome(released, order) == "released"
    assert release_outcome({**released, "test_staging": "failed", "deploy_staging": "upstream_failed"}, order) == (
        "failed at test_staging"
    )
    rejected = {**released, "deploy_prod": "skipped", "smoke_test_prod": "skipped"}
    assert release_outcome(rejected, order) == "rejected"


def test_the_summary_records_each_gate_what_is_deployed_and_every_report() -> None:
    states = {task: "success" for task, _ in GATES} | {"rollback_staging": "skipped", "rollback_prod": "skipped"}
    results = {
        "export_dev": {"uri": "file:///r/dev-export.zip", "size_bytes": 10},
        "test_staging": {"passed": 11, "total": 11, "failing": [], "reports": {"junit": "file:///r/t.xml"}},
        "deploy_prod": {"display_name": "production", "version_configs": ["v1", "v2"], "changed": True},
        "smoke_test_prod": {"passed": 3, "total": 3},
    }
    versions = {"staging": {"Default Start Flow": ".../versions/2"}, "prod": {"Default Start Flow": ".../versions/5"}}

    summary = release_summary(
        release_id="rel-1",
        folder="file:///r",
        stages=STAGES,
        gates=GATES,
        states=states,
        results=results,
        versions=versions,
    )

    assert summary["outcome"] == "released"
    assert summary["deployed"] == versions
    assert summary["reports"] == ["t.xml"]  # relative to the release folder
    details = {row["task"]: row["detail"] for row in summary["gates"]}
    assert details["test_staging"] == "11/11 passed"
    assert details["deploy_prod"] == "production: 2 flow versions"
    assert details["export_dev"] == "dev-export.zip (10 bytes)"
    assert summary["rolled_back"] == summary["failed_rollbacks"] == []
    markdown = release_summary_markdown(summary)
    assert "# Release rel-1: released" in markdown
    assert "- Default Start Flow: `.../versions/5`" in markdown


def test_the_summary_lists_the_flows_each_stage_versioned_and_kept() -> None:
    states = {task: "success" for task, _ in GATES} | {"rollback_staging": "skipped", "rollback_prod": "skipped"}
    kept = {"Branch Finder": "projects/p/locations/l/agents/a/flows/b/versions/3"}
    results = {
        "version_staging": {
            "created": ["Transfers"],
            "adopted": [],
            "impacted": ["Transfers"],
            "unchanged": kept,
            "only_changed": True,
        }
    }

    gates = [*GATES, ("version_staging", "version")]
    states["version_staging"] = "success"
    summary = release_summary(
        release_id="rel-2", folder="file:///r", stages=STAGES, gates=gates, states=states, results=results, versions={}
    )

    assert summary["flows"]["staging"] == {"impacted": ["Transfers"], "unchanged": kept, "only_changed": True}
    assert summary["flows"]["prod"] is None  # its version task left no result
    details = {row["task"]: row["detail"] for row in summary["gates"]}
    assert details["version_staging"] == "1 created, 0 reused; 1 flow(s) impacted, 1 unchanged"
    markdown = release_summary_markdown(summary)
    assert "**staging** versioned the flows this release changed: Transfers" in markdown
    assert "- Branch Finder: `projects/p/locations/l/agents/a/flows/b/versions/3`" in markdown


def test_the_summary_lists_each_stage_profiles_substitutions() -> None:
    states = {task: "success" for task, _ in GATES}
    change = {"path": "webhooks/Branch Locator.json", "field": "genericWebService.requestHeaders"}
    substitutions = {
        "prod": {
            "uri": "file:///r/stages/prod.zip",
            "sha256": "ab" * 32,
            "changes": [{**change, "before": "(unset)", "after": '[{"key": "X-Api-Key", "value": "***"}]'}],
        }
    }

    summary = release_summary(
        release_id="rel-1",
        folder="file:///r",
        stages=STAGES,
        gates=GATES,
        states=states,
        results={},
        versions={},
        substitutions=substitutions,
    )

    assert summary["stage_profiles"] == {
        "prod": {
            "package": "stages/prod.zip",  # relative to the release folder
            "sha256": "ab" * 32,
            "changes": substitutions["prod"]["changes"],
        }
    }
    markdown = release_summary_markdown(summary)
    assert "**prod** package [stages/prod.zip](stages/prod.zip): 1 substitution(s)" in markdown
    assert "| `webhooks/Branch Locator.json` | `genericWebService.requestHeaders` | `(unset)` | " in markdown
    assert '`[{"key": "X-Api-Key", "value": "***"}]` |' in markdown


def test_a_rolled_back_stage_is_not_reported_as_deployed() -> None:
    states = {task: "success" for task, _ in GATES} | {
        "smoke_test_prod": "failed",
        "rollback_staging": "skipped",
        "rollback_prod": "success",
    }
    results = {
        "rollback_prod": {"environment_action": "updated", "restored_from": "file:///r/backups/prod-before.zip"},
        "smoke_test_prod": {"passed": 1, "total": 3},
    }

    summary = release_summary(
        release_id="rel-2",
        folder="f",
        stages=STAGES,
        gates=GATES,
        states=states,
        results=results,
        versions={"staging": {"F": "s"}, "prod": {"F": "p"}},
    )

    assert summary["outcome"] == "failed at smoke_test_prod"
    assert summary["deployed"] == {"staging": {"F": "s"}}
    assert summary["rolled_back"] == ["rollback_prod"]
    assert gate_detail("rollback", results["rollback_prod"]) == (
        "environment updated, agent restored from file:///r/backups/prod-before.zip"
    )


@pytest.mark.parametrize(
    ("kind", "result", "detail"),
    [
        ("lint", {"counts": {"ERROR": 1, "WARNING": 2}}, "1 error, 2 warning, 0 info"),
        ("diff", {"empty": True}, "no changes"),
        ("diff", {"summary": {"intent": {"changed": 1}}}, "intent: +0 -0 ~1"),
        (
            "test",
            {"passed": 10, "total": 11, "failing": [{"test_case": "Greeting"}]},
            "10/11 passed; failing: Greeting",
        ),
        ("version", {"created": ["a"], "adopted": ["b", "c"]}, "1 created, 2 reused"),
        ("approval", {"chosen_options": ["Approve"]}, "Approve"),
        ("restore", {"backup_uri": "file:///b.zip"}, "backup file:///b.zip"),
        (
            "stage_package",
            {"changes": 3, "uri": "file:///r/stages/prod.zip", "gate": {"failed": False}},
            "3 substitution(s), stage fit passed: file:///r/stages/prod.zip",
        ),
        (
            "stage_package",
            {"changes": 0, "gate": {"failed": True, "by_rule": {"foreign-reference": 2}}},
            "stage fit FAILED: foreign-reference 2",
        ),
        ("test", None, ""),
    ],
)
def test_gate_details_say_what_each_gate_found(kind: str, result: dict | None, detail: str) -> None:
    assert gate_detail(kind, result) == detail


def _row(key: str, environment: str, failing: list[str], intent: float = 1.0, failed: bool = False) -> dict:
    return validation_row(
        {"key": key, "agent": f"projects/p/locations/l/agents/{key}", "environment": environment},
        {"failed": failed, "counts": {"ERROR": int(failed)}},
        {"passed": 11 - len(failing), "total": 11, "failing": [{"test_case": name} for name in failing]},
        {"intent": {"score": intent}, "page_transition": {"score": 0.5}},
    )


def test_a_clean_validation_has_no_problems() -> None:
    rows = [_row("staging", "staging", []), _row("prod", "production", [])]
    assert validation_problems(rows, previous=rows) == []
    assert "No problems." in validation_markdown(rows, [])


def test_regressions_against_the_previous_summary_are_named_as_such() -> None:
    previous = [_row("prod", "production", ["Known flaky"], intent=1.0)]
    current = [_row("prod", "production", ["Known flaky", "Greeting"], intent=0.9)]

    problems = validation_problems(current, previous)

    assert problems == [
        "prod/production: regression: test case 'Greeting' passed last time and fails now",
        "prod/production: test case 'Known flaky' fails",
        "prod/production: regression: intent coverage dropped from 100% to 90%",
    ]
    assert "## Problems" in validation_markdown(current, problems)


def test_a_check_that_did_not_report_or_a_failed_validation_is_a_problem() -> None:
    silent = validation_row({"key": "a", "agent": "x", "environment": "e"}, None, None, None)
    failed = _row("b", "e", [], failed=True)

    problems = validation_problems([silent, failed])

    assert problems[0] == "a/e: a check did not report (see the failed tasks)"
    assert problems[1].startswith("b/e: validation found blocking issues")


def test_retention_keeps_the_newest_backups() -> None:
    runs = ["20250103T020000", "20250101T020000", "20250102T020000", "20250104T020000"]

    assert backups_to_prune(runs, keep_last=2) == ["20250101T020000", "20250102T020000"]
    assert backups_to_prune(runs, keep_last=10) == []
    with pytest.raises(ValueError, match="keep_last"):
        backups_to_prune(runs, keep_last=0)


# --- the release record: run, approval, package, versions, times, relative links ----------------


def _full_summary(approval: dict | None, states: dict[str, str]) -> dict:
    return release_summary(
        release_id="rel-3",
        folder="file:///base/releases/rel-3",
        stages=STAGES,
        gates=GATES,
        states=states,
        results={
            "export_dev": {"uri": "file:///base/releases/rel-3/dev-export.zip", "sha256": "cd" * 32, "size_bytes": 42},
            "test_staging": {
                "passed": 1,
                "total": 1,
                "reports": {
                    "junit": "file:///base/releases/rel-3/reports/staging/test_cases.junit.xml",
                    "markdown": "file:///base/releases/rel-3/reports/staging/test cases.md",
                },
            },
        },
        versions={},
        run={"run_id": "manual__1", "start": "2026-01-01T00:00:00+00:00", "end": "2026-01-01T00:05:00+00:00"},
        times={"export_dev": {"start": "2026-01-01T00:00:01+00:00", "end": "2026-01-01T00:00:03+00:00"}},
        approval=approval,
        package={"uri": "file:///base/releases/rel-3/dev-export.zip", "sha256": "cd" * 32, "size_bytes": 42},
        environments={
            "prod": {
                "versions_before": {"Default Start Flow": "projects/p/locations/l/agents/a/flows/f/versions/1"},
                "versions_after": {"Default Start Flow": "projects/p/locations/l/agents/a/flows/f/versions/2"},
            }
        },
    )


def test_the_summary_records_the_run_the_approval_the_package_and_each_gates_times_and_report() -> None:
    states = {task: "success" for task, _ in GATES} | {"rollback_staging": "skipped", "rollback_prod": "skipped"}
    answer = {"choice": "Approve", "by": "alice", "at": "2026-01-01T00:02:00+00:00"}

    summary = _full_summary(answer, states)

    assert (summary["run_id"], summary["start"], summary["end"]) == (
        "manual__1",
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:05:00+00:00",
    )
    assert summary["approval"] == answer
    assert summary["package"] == {"uri": "dev-export.zip", "sha256": "cd" * 32, "size_bytes": 42}
    assert summary["environments"]["prod"]["versions_after"]["Default Start Flow"].endswith("/versions/2")
    rows = {row["task"]: row for row in summary["gates"]}
    assert rows["export_dev"]["start"] == "2026-01-01T00:00:01+00:00"
    assert rows["export_dev"]["end"] == "2026-01-01T00:00:03+00:00"
    assert rows["export_dev"]["outcome"] == "success"
    assert rows["test_staging"]["report"] == "reports/staging/test cases.md"
    assert rows["approve_prod"]["detail"] == "Approve by alice at 2026-01-01T00:02:00+00:00"
    markdown = release_summary_markdown(summary)
    assert "- Approval: Approve by alice at 2026-01-01T00:02:00+00:00" in markdown
    assert "- Airflow run: `manual__1`" in markdown
    assert f"sha256 `{'cd' * 32}`, 42 bytes" in markdown
    assert "[reports/staging/test cases.md](reports/staging/test%20cases.md)" in markdown
    assert "file:///base" not in markdown  # nothing points at the machine that wrote it
    assert "| Default Start Flow | `projects/p/locations/l/agents/a/flows/f/versions/1` | " in markdown


def test_a_rejected_release_says_who_rejected_it_and_that_nothing_was_promoted() -> None:
    states = {task: "success" for task, _ in GATES if task != "deploy_prod"} | {
        "deploy_prod": "skipped",
        "smoke_test_prod": "skipped",
        "rollback_staging": "skipped",
        "rollback_prod": "skipped",
    }

    summary = _full_summary({"choice": "Reject", "by": "bob", "at": "2026-01-01T00:03:00+00:00"}, states)

    assert summary["outcome"] == "rejected"
    assert summary["approval"]["choice"] == "Reject"
    assert "prod" not in summary["deployed"]
    markdown = release_summary_markdown(summary)
    assert markdown.startswith("# Release rel-3: rejected")
    assert "**Rejected**: nothing was promoted to prod." in markdown
    assert "| approve\\_prod | success | - | - | Reject by bob at 2026-01-01T00:03:00+00:00 |" in markdown


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ("upstream_failed", "not asked: an earlier gate failed"),
        (None, "the approval was never reached"),
        ("failed", "the approval failed or timed out without an answer"),
    ],
)
def test_an_approval_without_an_answer_says_why(state: str | None, reason: str) -> None:
    from cx_pipeline_results import approval_record

    assert approval_record(None, state) == {"choice": None, "by": None, "at": None, "reason": reason}
    summary = _full_summary(None, {"approve_prod": state} if state else {})
    assert f"- Approval: none ({reason})" in release_summary_markdown(summary)


def test_gate_times_add_airflows_duration_to_the_recorded_start() -> None:
    from cx_pipeline_results import gate_times

    times = gate_times(
        {"a": "2026-01-01T00:00:00+00:00", "b": "2026-01-01T00:01:00+00:00", "c": None},
        [{"task_id": "a", "map_index": -1, "duration": 2.5}, {"task_id": "c", "map_index": -1, "duration": 1.0}],
    )

    assert times == {
        "a": {"start": "2026-01-01T00:00:00+00:00", "end": "2026-01-01T00:00:02.500000+00:00"},
        "b": {"start": "2026-01-01T00:01:00+00:00", "end": None},  # still running: no duration yet
    }


def test_stage_versions_name_flows_and_a_stage_never_deployed_keeps_what_it_served() -> None:
    from cx_pipeline_results import stage_versions

    agent = "projects/p/locations/l/agents/a"
    names = {f"{agent}/flows/start": "Default Start Flow"}
    deployed = stage_versions(
        before=[f"{agent}/flows/start/versions/1", f"{agent}/flows/x/versions/7"],
        now=[f"{agent}/flows/start/versions/2", f"{agent}/flows/x/versions/7"],
        flow_names=names,
        deploy_ran=True,
    )
    assert deployed == {
        "versions_before": {
            "Default Start Flow": f"{agent}/flows/start/versions/1",
            "x": f"{agent}/flows/x/versions/7",
        },
        "versions_after": {"Default Start Flow": f"{agent}/flows/start/versions/2", "x": f"{agent}/flows/x/versions/7"},
    }
    untouched = stage_versions(before=None, now=[f"{agent}/flows/start/versions/1"], flow_names=names, deploy_ran=False)
    assert (
        untouched["versions_before"]
        == untouched["versions_after"]
        == {"Default Start Flow": f"{agent}/flows/start/versions/1"}
    )
    assert "not deployed by this release" in untouched["note"]
    unread = stage_versions(before=None, now=None, flow_names={}, deploy_ran=False, error="UNAVAILABLE")
    assert unread["versions_after"] is None
    assert unread["note"].endswith("could not be read: UNAVAILABLE")


@pytest.mark.parametrize(
    ("uri", "relative"),
    [
        ("file:///base/rel/reports/a.md", "reports/a.md"),
        ("file:///base/rel-2/a.md", "file:///base/rel-2/a.md"),  # a sibling folder is not inside
        ("gs://other/a.md", "gs://other/a.md"),
    ],
)
def test_only_uris_inside_the_release_folder_become_relative(uri: str, relative: str) -> None:
    from cx_pipeline_results import relative_uri

    assert relative_uri("file:///base/rel/", uri) == relative
