"""CXLintAgentPackageOperator: gate, configuration, reports; no network."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from operator_harness import make_context, render

from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError
from airflow_provider_cx.operators.lint_package import CXLintAgentPackageOperator
from airflow_provider_cx.package import read_package, write_zip
from airflow_provider_cx.sample_agent import sample_agent_path

FEW_PHRASES = "intent-few-training-phrases"


def lint_task(source: Any, **kwargs: Any) -> CXLintAgentPackageOperator:
    return CXLintAgentPackageOperator(task_id="lint", source=source, **kwargs)


def broken_zip(tmp_path: Path) -> Path:
    package = read_package(sample_agent_path())
    transfers = next(flow for flow in package.flows if flow.display_name == "Transfers")
    transfers.pages[0].data.setdefault("transitionRoutes", []).append({"condition": "true", "targetPage": "Nowhere"})
    path = tmp_path / "broken.zip"
    path.write_bytes(write_zip(package))
    return path


def test_sample_agent_passes_the_error_gate_with_reports(tmp_path: Path) -> None:
    result = lint_task(str(sample_agent_path()), report_to=tmp_path / "r").execute(make_context())

    assert result["failed"] is False
    assert result["counts"]["ERROR"] == 0
    assert result["by_rule"][FEW_PHRASES] >= 1
    assert result["findings"] == sum(result["counts"].values()) == sum(result["by_rule"].values())
    assert result["source"] == sample_agent_path().as_uri()
    assert set(result["reports"]) == {"json", "markdown", "junit"}
    document = json.loads((tmp_path / "r" / "lint-report.json").read_text())
    assert len(document["findings"]) == result["findings"]
    assert "Agent lint report" in (tmp_path / "r" / "lint-report.md").read_text()
    suites = ET.parse(tmp_path / "r" / "lint-report.xml").getroot()
    assert int(suites.get("tests")) == result["findings"]
    assert int(suites.get("failures")) == 0


def test_warning_gate_fails_and_pushes_the_summary(tmp_path: Path) -> None:
    context = make_context()
    with pytest.raises(CXGateFailedError, match="at or above WARNING"):
        lint_task(sample_agent_path(), fail_on="WARNING", report_to=tmp_path).execute(context)
    pushed = context["ti"].xcom["return_value"]
    assert pushed["failed"] is True
    assert pushed["blocking"]
    suites = ET.parse(tmp_path / "lint-report.xml").getroot()
    assert int(suites.get("failures")) == pushed["counts"]["WARNING"]


def test_planted_error_in_a_zip_fails_the_default_gate(tmp_path: Path) -> None:
    with pytest.raises(CXGateFailedError, match="Nowhere"):
        lint_task(broken_zip(tmp_path).as_uri()).execute(make_context())


def test_configuration_from_a_mapping_and_a_file(tmp_path: Path) -> None:
    allowed = {"allow": [{"rule": FEW_PHRASES}]}
    assert lint_task(sample_agent_path(), fail_on="WARNING", config=allowed).execute(make_context())["failed"] is False
    toml = tmp_path / "lint.toml"
    toml.write_text(f'disabled_rules = ["{FEW_PHRASES}"]\n')
    result = lint_task(sample_agent_path(), config=str(toml)).execute(make_context())
    assert FEW_PHRASES not in result["by_rule"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"config": {"disabled_rules": ["no-such-rule"]}}, "config: .*no-such-rule"),
        ({"fail_on": "FATAL"}, "fail_on 'FATAL'"),
        ({"report_formats": ["html"]}, "report_formats"),
        ({"source": "/nonexistent/agent.zip"}, "source: .*does not exist"),
    ],
)
def test_bad_input(kwargs: dict, message: str) -> None:
    kwargs = {"source": sample_agent_path(), **kwargs}
    with pytest.raises(CXInvalidInputError, match=message):
        CXLintAgentPackageOperator(task_id="lint", **kwargs).execute(make_context())


def test_malformed_zip_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CXInvalidInputError, match="source"):
        lint_task(bad).execute(make_context())


def test_a_real_agent_lints_without_crashing(shared_agents: list[Path]) -> None:
    context = make_context()
    try:
        summary = lint_task(shared_agents[0], fail_on="ERROR").execute(context)
    except CXGateFailedError:
        summary = context["ti"].xcom["return_value"]
        assert summary["counts"]["ERROR"] > 0
    assert summary["findings"] == sum(summary["counts"].values())


def test_templated_fields_render(tmp_path: Path) -> None:
    task = lint_task(
        "{{ ti.xcom_pull(task_ids='export')['uri'] }}",
        fail_on="{{ params.gate }}",
        report_to=f"{tmp_path}/{{{{ ds }}}}",
        config={"disabled_rules": ["{{ params.rule }}"]},
    )
    context = make_context(task, params={"gate": "WARNING", "rule": FEW_PHRASES})
    context["ti"].upstream[("export", "return_value")] = {"uri": "file:///x/agent.zip"}
    render(task, context)
    assert (task.source, task.fail_on) == ("file:///x/agent.zip", "WARNING")
    assert task.report_to == f"{tmp_path}/2024-05-17"
    assert task.config == {"disabled_rules": [FEW_PHRASES]}
