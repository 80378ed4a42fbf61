"""``python -m airflow_provider_cx.package lint|diff gs://...`` against the storage emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from airflow_provider_cx.demo.services import StorageEmulator

from .conftest import BUCKET, gcs_client, sample_zip


def run_cli(emulator: StorageEmulator, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **emulator.env}
    return subprocess.run(
        [sys.executable, "-m", "airflow_provider_cx.package", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_lint_and_diff_read_packages_that_exist_only_in_cloud_storage(
    storage_emulator: StorageEmulator, tmp_path: Path
) -> None:
    content = sample_zip(tmp_path)
    gcs_client(storage_emulator).bucket(BUCKET).blob("cli/path/agent.zip").upload_from_string(content)
    uri = f"gs://{BUCKET}/cli/path/agent.zip"

    lint = run_cli(storage_emulator, "lint", uri, "--format", "json", "--fail-on", "WARNING", cwd=tmp_path)
    (tmp_path / "agent.zip").write_bytes(content)
    local = run_cli(storage_emulator, "lint", "agent.zip", "--format", "json", "--fail-on", "WARNING", cwd=tmp_path)
    assert lint.returncode == local.returncode == 1, lint.stderr  # the sample agent has warnings
    report = json.loads(lint.stdout)
    assert report["source"] == uri
    assert report["findings"] == json.loads(local.stdout)["findings"]
    assert report["summary"]["WARNING"] > 0

    diff = run_cli(storage_emulator, "diff", uri, "agent.zip", "--format", "json", cwd=tmp_path)
    assert diff.returncode == 0, diff.stderr
    notes = json.loads(diff.stdout)
    assert (notes["base"], notes["empty"]) == ("Acme Bank Support", True)  # the same agent on both sides


def test_lint_of_a_missing_object_exits_2_naming_it(storage_emulator: StorageEmulator, tmp_path: Path) -> None:
    result = run_cli(storage_emulator, "lint", f"gs://{BUCKET}/cli/missing.zip", cwd=tmp_path)
    assert result.returncode == 2
    assert f"gs://{BUCKET}/cli/missing.zip does not exist" in result.stderr
    assert "Traceback" not in result.stderr
