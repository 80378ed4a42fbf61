"""CXDiffAgentPackagesOperator: release notes of a changed copy; no network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from operator_harness import make_context, render

from airflow_provider_cx.operators.diff_packages import CXDiffAgentPackagesOperator
from airflow_provider_cx.operators.errors import CXInvalidInputError
from airflow_provider_cx.package import read_package, write_zip
from airflow_provider_cx.sample_agent import sample_agent_path


def diff_task(base: Any, target: Any, **kwargs: Any) -> CXDiffAgentPackagesOperator:
    return CXDiffAgentPackagesOperator(task_id="diff", base=base, target=target, **kwargs)


def changed_copy(tmp_path: Path) -> Path:
    """The sample agent without the page 'Nearest Branch', as a zip."""
    package = read_package(sample_agent_path())
    finder = next(flow for flow in package.flows if flow.display_name == "Branch Finder")
    finder.pages = [page for page in finder.pages if page.display_name != "Nearest Branch"]
    path = tmp_path / "target.zip"
    path.write_bytes(write_zip(package))
    return path


def test_release_notes_name_the_change(tmp_path: Path) -> None:
    target = changed_copy(tmp_path)
    result = diff_task(sample_agent_path(), target, report_to=tmp_path / "release", title="Release 42").execute(
        make_context()
    )
    assert result["empty"] is False
    assert result["summary"]["page"] == {"removed": 1}
    assert result["base"] == sample_agent_path().as_uri()
    assert result["target"] == target.as_uri()
    notes = (tmp_path / "release" / "release-notes.md").read_text()
    assert "Release 42" in notes
    assert "Nearest Branch" in notes
    document = json.loads((tmp_path / "release" / "release-notes.json").read_text())
    removed = [r for r in document["resources"] if r["change"] == "removed"]
    assert [r["display_name"] for r in removed] == ["Nearest Branch"]
    assert result["reports"]["json"] == (tmp_path / "release" / "release-notes.json").as_uri()


def test_identical_packages_are_an_empty_diff(tmp_path: Path) -> None:
    zipped = tmp_path / "same.zip"
    zipped.write_bytes(write_zip(read_package(sample_agent_path())))
    result = diff_task(str(sample_agent_path()), zipped.as_uri()).execute(make_context())
    assert result["empty"] is True
    assert result["summary"] == {}
    assert result["reports"] == {}


def test_unreadable_base_is_named(tmp_path: Path) -> None:
    with pytest.raises(CXInvalidInputError, match="base: "):
        diff_task(tmp_path / "missing.zip", sample_agent_path()).execute(make_context())
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CXInvalidInputError, match="target: "):
        diff_task(sample_agent_path(), bad).execute(make_context())


def test_templated_fields_render(tmp_path: Path) -> None:
    task = diff_task("{{ params.base }}", "{{ params.target }}", report_to="{{ params.out }}", title="{{ run_id }}")
    render(task, make_context(task, params={"base": "a.zip", "target": "b.zip", "out": str(tmp_path)}))
    assert (task.base, task.target, task.report_to, task.title) == ("a.zip", "b.zip", str(tmp_path), "manual__test")
