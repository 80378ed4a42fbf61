"""Operators read and write artifacts with their own connection, and refuse oversize sources unread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from operator_harness import make_context

from airflow_provider_cx import storage
from airflow_provider_cx.operators.diff_packages import CXDiffAgentPackagesOperator
from airflow_provider_cx.operators.errors import CXInvalidInputError
from airflow_provider_cx.operators.lint_package import CXLintAgentPackageOperator
from airflow_provider_cx.operators.restore_agent import restore_source
from airflow_provider_cx.package import write_zip
from airflow_provider_cx.package.io import ReadLimits, read_package
from airflow_provider_cx.sample_agent import sample_agent_path


@pytest.fixture
def object_store(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """gs:// reads and writes recorded with the connection they used (no Cloud Storage needed)."""
    sample = write_zip(read_package(sample_agent_path()))
    calls: dict[str, Any] = {"read": [], "write": []}

    def read_bytes(source: Any, gcp_conn_id: str | None = None) -> bytes:
        calls["read"].append((str(source), gcp_conn_id))
        return sample

    def write_bytes(destination: Any, data: bytes, gcp_conn_id: str | None = None) -> str:
        calls["write"].append((str(destination), gcp_conn_id))
        return str(destination)

    monkeypatch.setattr(storage, "read_bytes", read_bytes)
    monkeypatch.setattr(storage, "write_bytes", write_bytes)
    return calls


def test_lint_reads_and_writes_gcs_with_its_connection(object_store: dict[str, Any]) -> None:
    CXLintAgentPackageOperator(
        task_id="lint", source="gs://b/release/agent.zip", report_to="gs://b/release", gcp_conn_id="cx_artifacts"
    ).execute(make_context())
    assert object_store["read"] == [("gs://b/release/agent.zip", "cx_artifacts")]
    assert {conn for _, conn in object_store["write"]} == {"cx_artifacts"}
    assert len(object_store["write"]) == 3


def test_diff_reads_both_packages_with_its_connection(object_store: dict[str, Any]) -> None:
    CXDiffAgentPackagesOperator(
        task_id="diff", base="gs://b/prod.zip", target="gs://b/dev.zip", report_to="gs://b/notes", gcp_conn_id="c"
    ).execute(make_context())
    assert sorted(object_store["read"]) == [("gs://b/dev.zip", "c"), ("gs://b/prod.zip", "c")]
    assert {conn for _, conn in object_store["write"]} == {"c"}


def test_an_oversize_restore_source_is_refused_before_it_is_read(tmp_path: Path, monkeypatch) -> None:
    source = tmp_path / "huge.zip"
    with source.open("wb") as handle:  # sparse: no disk used, but stat() reports the size
        handle.truncate(ReadLimits().max_total_bytes + 1)
    monkeypatch.setattr(storage, "read_bytes", lambda *_a, **_k: pytest.fail("the source was read"))
    with pytest.raises(CXInvalidInputError, match=r"huge\.zip is \d+ bytes, over the \d+-byte package limit"):
        restore_source(source)
