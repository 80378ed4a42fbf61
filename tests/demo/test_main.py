"""The demo entry point's argument handling and error exit (the full run is covered end to end)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_cx.demo.__main__ import PLACEHOLDER_DAG_ID, PLACEHOLDER_DAGS, main, parse_args


def test_defaults_run_the_placeholder_dag() -> None:
    args = parse_args([])
    assert (args.dags_folder, args.dag_id, args.conf) == (PLACEHOLDER_DAGS, PLACEHOLDER_DAG_ID, {})
    assert (PLACEHOLDER_DAGS / f"{PLACEHOLDER_DAG_ID}.py").is_file()


def test_conf_is_parsed_as_json() -> None:
    assert parse_args(["--conf", '{"release": "r-7"}']).conf == {"release": "r-7"}


def test_a_missing_dags_folder_exits_2_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--dags-folder", str(tmp_path / "missing"), "--home", str(tmp_path / "home")])

    assert code == 2
    assert f"error: DAGs folder {tmp_path / 'missing'} does not exist" in capsys.readouterr().err
    assert not (tmp_path / "home").exists()
