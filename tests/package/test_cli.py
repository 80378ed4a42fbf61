"""The package CLI: lint exit codes 0 / 1 / 2, report formats, diff output."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from package_builder import START_FLOW, clean_agent, route

from airflow_provider_cx.package import write_folder, write_zip
from airflow_provider_cx.package.__main__ import main


@pytest.fixture
def clean_zip(tmp_path: Path) -> Path:
    path = tmp_path / "clean.zip"
    path.write_bytes(write_zip(clean_agent()))
    return path


@pytest.fixture
def broken_folder(tmp_path: Path) -> Path:
    """A folder export with one ERROR (a route to a missing page) and nothing else."""
    package = clean_agent()
    package.flow(START_FLOW).page("Done").data["transitionRoutes"].append(route(condition="x", page="Nowhere"))
    return write_folder(package, tmp_path / "broken")


def _agent(shared_agents, name: str) -> Path:
    return next(p for p in shared_agents if p.name == name)


def test_lint_exit_codes(clean_zip, broken_folder, shared_agents, capsys):
    assert main(["lint", str(clean_zip)]) == 0
    assert main(["lint", str(broken_folder)]) == 1
    assert "route-to-missing-page" in capsys.readouterr().out
    assert main(["lint", str(broken_folder), "--fail-on", "none"]) == 0
    qatar = str(_agent(shared_agents, "qatar-airways"))
    assert main(["lint", qatar]) == 0  # warnings and infos only
    assert main(["lint", qatar, "--fail-on", "warning"]) == 1
    assert main(["lint", str(_agent(shared_agents, "goodbye-graffiti.zip"))]) == 1  # placeholder webhook URIs


def test_lint_cannot_read_its_input(tmp_path, capsys):
    assert main(["lint", str(tmp_path / "missing.zip")]) == 2
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert main(["lint", str(tmp_path / "junk.zip")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["lint", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "not found" in err
    assert "not a zip" in err
    assert "agent.json" in err


def test_lint_with_a_bad_config_or_gate_exits_2(clean_zip, tmp_path, capsys):
    config = tmp_path / "lint.json"
    config.write_text('{"disabled_rules": ["no-such-rule"]}')
    assert main(["lint", str(clean_zip), "--config", str(config)]) == 2
    assert "no-such-rule" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["lint", str(clean_zip), "--fail-on", "fatal"])
    assert exit_info.value.code == 2


def test_lint_config_changes_the_outcome(broken_folder, tmp_path):
    config = tmp_path / "lint.toml"
    config.write_text('[severity_overrides]\nroute-to-missing-page = "WARNING"\n')
    assert main(["lint", str(broken_folder), "--config", str(config)]) == 0
    config.write_text('[[allow]]\nrule = "route-to-missing-page"\nresource = "Done"\n')
    assert main(["lint", str(broken_folder), "--config", str(config)]) == 0


def test_lint_formats(broken_folder, tmp_path, capsys):
    assert main(["lint", str(broken_folder), "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert [f["rule_id"] for f in document["findings"]] == ["route-to-missing-page"]
    assert document["failed"] is True
    report = tmp_path / "report.xml"
    assert main(["lint", str(broken_folder), "--format", "junit", "--output", str(report)]) == 1
    assert capsys.readouterr().out == ""
    assert ET.parse(report).getroot().get("failures") == "1"
    assert main(["lint", str(broken_folder), "--format", "markdown"]) == 1
    assert "| ERROR | `route-to-missing-page` |" in capsys.readouterr().out


def test_diff_command(clean_zip, broken_folder, tmp_path, capsys):
    assert main(["diff", str(clean_zip), str(broken_folder)]) == 0
    notes = capsys.readouterr().out
    assert notes.startswith("# Release notes")
    assert "**added** route on condition `x` → page `Nowhere`" in notes
    assert main(["diff", str(clean_zip), str(clean_zip), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["empty"] is True
    out = tmp_path / "notes.md"
    assert main(["diff", str(clean_zip), str(broken_folder), "--title", "v2", "--output", str(out)]) == 0
    assert out.read_text().startswith("# v2\n")
    assert main(["diff", str(clean_zip), str(tmp_path / "missing")]) == 2


def test_rules_command_lists_every_rule(capsys):
    from airflow_provider_cx.package.lint import RULES

    assert main(["rules"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == sorted(RULES)


def test_module_entry_point_runs(broken_folder):
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_cx.package", "lint", str(broken_folder), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["summary"]["ERROR"] == 1


# --- issue 17: a folder of several agents, plain-text rules ------------------------------------------------
def test_lint_on_a_folder_of_several_agents_lints_each(shared_agents, capsys):
    folder = shared_agents[0].parent
    assert main(["lint", str(folder)]) == 1  # dsi-dialogflow and goodbye-graffiti have errors
    out = capsys.readouterr().out
    sections = [line for line in out.splitlines() if line.startswith("Package: ")]
    assert sections == [f"Package: `{path}`" for path in shared_agents]
    assert main(["lint", str(folder), "--format", "json", "--fail-on", "none"]) == 0
    documents = json.loads(capsys.readouterr().out)
    assert [d["source"] for d in documents] == [str(path) for path in shared_agents]
    assert main(["lint", str(folder), "--format", "junit"]) == 2
    assert f"{folder} holds {len(shared_agents)} agent packages" in capsys.readouterr().err


def test_a_folder_of_clean_agents_passes_and_one_nested_agent_is_one_package(tmp_path, clean_zip, capsys):
    several = tmp_path / "several"
    several.mkdir()
    (several / "a.zip").write_bytes(clean_zip.read_bytes())
    write_folder(clean_agent(), several / "exports" / "b")
    assert main(["lint", str(several)]) == 0
    assert capsys.readouterr().out.count("# Agent lint report") == 2
    (several / "broken.zip").write_bytes(b"not a zip")
    assert main(["lint", str(several)]) == 2  # the worst: one package cannot be read
    captured = capsys.readouterr()
    assert captured.out.count("# Agent lint report") == 2
    assert "broken.zip is not a zip archive" in captured.err
    single = tmp_path / "single"
    write_folder(clean_agent(), single / "agent")
    assert main(["lint", str(single)]) == 0
    assert capsys.readouterr().out.count("# Agent lint report") == 1


def test_rules_and_help_are_plain_text(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "``" not in out
    assert "no sys.no-input reprompt handler" in out
    for command in (["--help"], ["lint", "--help"], ["diff", "--help"]):
        with pytest.raises(SystemExit):
            main(command)
        assert "``" not in capsys.readouterr().out


def test_a_deeply_nested_lint_config_is_a_config_error(clean_zip, tmp_path, capsys):
    for name, text in (("deep.json", '{"a":' * 100_000 + "1" + "}" * 100_000), ("deep.toml", "a = " + "[" * 100_000)):
        config = tmp_path / name
        config.write_text(text)
        assert main(["lint", str(clean_zip), "--config", str(config)]) == 2
        err = capsys.readouterr().err
        assert err == f"error: {config} nests too deeply to be a lint configuration\n"
