"""CXDiffAgentPackagesOperator's ``substitutions``: the stages' change lists in the release notes, masked."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from operator_harness import make_context, render

from airflow_provider_cx.operators.diff_packages import CXDiffAgentPackagesOperator
from airflow_provider_cx.operators.errors import CXInvalidInputError
from airflow_provider_cx.operators.stage_package import CXStagePackageOperator
from airflow_provider_cx.sample_agent import sample_agent_path, sample_profile_path

AGENTS = {
    "staging": "projects/acme-bank-staging/locations/us-central1/agents/s",
    "prod": "projects/acme-bank-prod/locations/us-central1/agents/p",
}


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = secrets.token_hex(16)
    monkeypatch.setenv("AIRFLOW_CONN_ACME_BRANCH_API", json.dumps({"conn_type": "http", "password": key}))
    return key


def staged(tmp_path: Path, stage: str) -> dict[str, Any]:
    result: dict[str, Any] = CXStagePackageOperator(
        task_id=f"stage_package_{stage}",
        source=str(sample_agent_path()),
        target_agent=AGENTS[stage],
        destination=str(tmp_path / "release" / "stages" / f"{stage}.zip"),
        profile=str(sample_profile_path(stage)),
    ).execute(make_context())
    return result


def diff_task(tmp_path: Path, **kwargs: Any) -> CXDiffAgentPackagesOperator:
    return CXDiffAgentPackagesOperator(
        task_id="diff_release",
        base=str(sample_agent_path()),
        target=str(sample_agent_path()),
        report_to=str(tmp_path / "release" / "reports"),
        **kwargs,
    )


def test_release_notes_list_each_stages_substitutions_masked(tmp_path: Path, api_key: str) -> None:
    staging, prod = staged(tmp_path, "staging"), staged(tmp_path, "prod")
    task = diff_task(
        tmp_path, substitutions="{{ ti.xcom_pull(task_ids='stage_package_staging')['change_list']['json'] }}"
    )
    context = make_context(task)
    context["ti"].upstream[("stage_package_staging", "return_value")] = staging
    render(task, context)
    task.execute(context)
    rendered = Path(tmp_path / "release" / "reports" / "release-notes.md").read_text()
    assert task.substitutions == staging["change_list"]["json"]
    assert "### staging (1 change(s))" in rendered
    assert "### prod" not in rendered
    listed = diff_task(tmp_path, substitutions=[staging["change_list"]["json"], prod["change_list"]["json"]])
    result = listed.execute(make_context())

    notes = Path(tmp_path / "release" / "reports" / "release-notes.md").read_text()
    assert "## Stage substitutions" in notes
    assert "### staging (1 change(s))" in notes
    assert "### prod (4 change(s))" in notes
    assert "`https://branches.prod.acmebank.example/cx/v1/nearest`" in notes.replace('"', "")
    assert '[{"key": "X-Api-Key", "value": "***"}]' in notes
    document = json.loads(Path(result["reports"]["json"].removeprefix("file://")).read_text())
    assert [stage["stage"] for stage in document["stage_substitutions"]] == ["staging", "prod"]
    assert document["stage_substitutions"][1]["package"] == prod["uri"]
    assert api_key not in notes + json.dumps(document) + json.dumps(result)


def test_a_change_list_that_is_not_masked_is_masked_here(tmp_path: Path) -> None:
    """Defence in depth: values of secret fields and headers never reach the notes, whoever wrote the file."""
    leaked = secrets.token_hex(12)
    changes = [
        {
            "path": "webhooks/W.json",
            "resource": "webhook 'W'",
            "field": "genericWebService.password",
            "before": "(unset)",
            "after": json.dumps(leaked),
        },
        {
            "path": "webhooks/W.json",
            "resource": "webhook 'W'",
            "field": "genericWebService.requestHeaders",
            "before": "(unset)",
            "after": json.dumps([{"key": "Authorization", "value": leaked}]),
        },
        {
            "path": "webhooks/W.json",
            "resource": "webhook 'W'",
            "field": "genericWebService.requestHeaders[0].value",
            "before": '"old"',
            "after": json.dumps(leaked),
        },
    ]
    change_list = tmp_path / "prod.changes.json"
    change_list.write_text(json.dumps({"stage": "prod", "changes": changes}))

    result = diff_task(tmp_path, substitutions=str(change_list)).execute(make_context())

    notes = Path(result["reports"]["markdown"].removeprefix("file://")).read_text()
    document = Path(result["reports"]["json"].removeprefix("file://")).read_text()
    assert leaked not in notes + document
    assert "Authorization" in notes
    assert "`(unset)`" in notes


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("not json", "substitutions: "),
        ('{"stage": "prod"}', "not a stage package's change list"),
    ],
)
def test_a_bad_change_list_is_named_and_no_notes_are_written(tmp_path: Path, content: str | None, message: str) -> None:
    change_list = tmp_path / "prod.changes.json"
    if content is not None:
        change_list.write_text(content)

    with pytest.raises(CXInvalidInputError, match=message):
        diff_task(tmp_path, substitutions=str(change_list)).execute(make_context())
    assert not (tmp_path / "release" / "reports").exists()


def test_without_substitutions_the_notes_are_as_before(tmp_path: Path) -> None:
    result = diff_task(tmp_path).execute(make_context())
    notes = Path(result["reports"]["markdown"].removeprefix("file://")).read_text()
    assert "Stage substitutions" not in notes
    assert "stage_substitutions" not in Path(result["reports"]["json"].removeprefix("file://")).read_text()
