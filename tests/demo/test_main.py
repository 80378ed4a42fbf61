"""The demo entry point's argument handling and error exit (the full run is covered end to end in tests/e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_cx.demo.__main__ import DAG_ID, REPO_DAGS, main, parse_args, prepare_workdir, run_seconds
from airflow_provider_cx.demo.api import DagRun


def test_defaults_run_the_release_promotion_dag_of_the_repository() -> None:
    args = parse_args([])
    assert (args.dags_folder, args.workdir, args.reject) == (REPO_DAGS, Path(".demo"), False)
    assert (REPO_DAGS / f"{DAG_ID}.py").is_file()


def test_reject_and_port_are_parsed() -> None:
    args = parse_args(["--reject", "--port", "8081"])
    assert (args.reject, args.port) == (True, 8081)


def test_a_missing_dags_folder_exits_2_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--dags-folder", str(tmp_path / "missing"), "--workdir", str(tmp_path / "work")])

    assert code == 2
    assert f"error: DAGs folder {tmp_path / 'missing'} does not exist" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()


def test_the_workdir_starts_without_anything_an_earlier_demo_left(tmp_path: Path) -> None:
    for stale in ("emulator-data/agents.zip", "artifacts/releases/r1/summary.json", "airflow-home/airflow.db"):
        (tmp_path / stale).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / stale).write_text("old")
    (tmp_path / "notes.txt").write_text("mine")

    prepare_workdir(tmp_path)

    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]


def test_a_runs_duration_comes_from_airflows_dates() -> None:
    finished = DagRun("d", "r", "success", {}, "2026-01-01T10:00:00.5Z", "2026-01-01T10:01:03Z")
    assert run_seconds(finished) == 62.5
    assert run_seconds(DagRun("d", "r", "queued", {}, None, None)) == 0.0


def test_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "python -m airflow_provider_cx.demo (bash scripts/demo)" in " ".join(text.split())
    assert "``" not in text
