"""The package CLI's overlay command and lint --target-agent: exit codes, output, no secret printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_cx.package import package_files, read_package, write_folder
from airflow_provider_cx.package.__main__ import main
from airflow_provider_cx.sample_agent import sample_agent_path, sample_profile_path

SECRET = "branch-api-s3cret-42"
PROD_AGENT = "projects/acme-bank-prod/locations/us-central1/agents/00000000-0000-4000-8000-00000000000p"
STAGING_AGENT = "projects/acme-bank-staging/locations/us-central1/agents/00000000-0000-4000-8000-00000000000s"


@pytest.fixture
def branch_secret(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ACME_BRANCH_API", f"https://cx:{SECRET}@branches.acmebank.example")


def _agent(shared_agents, name: str) -> Path:
    return next(p for p in shared_agents if p.name == name)


def test_overlay_writes_the_stage_package_and_prints_masked_changes(tmp_path, branch_secret, capsys):
    output = tmp_path / "prod.zip"
    assert (
        main(
            [
                "overlay",
                str(sample_agent_path()),
                "--profile",
                str(sample_profile_path("prod")),
                "--output",
                str(output),
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    assert "stage profile 'prod': 4 change(s)" in out
    assert "webhooks/Branch Locator.json: genericWebService.uri: " in out
    assert "https://branches.prod.acmebank.example/cx/v1/nearest" in out
    assert 'genericWebService.requestHeaders: (unset) -> [{"key": "X-Api-Key", "value": "***"}]' in out
    staged = read_package(output)
    service = staged.webhook("Branch Locator").data["genericWebService"]
    assert service["requestHeaders"] == [{"key": "X-Api-Key", "value": SECRET}]
    source, result = package_files(read_package(sample_agent_path())), package_files(staged)
    assert {p for p in source if source[p] != result.get(p)} == {"agent.json", "webhooks/Branch Locator.json"}


def test_overlay_with_secret_markers_writes_references_and_needs_no_secret(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_ACME_BRANCH_API", raising=False)
    output = tmp_path / "prod.zip"
    arguments = ["overlay", str(sample_agent_path()), "--profile", str(sample_profile_path("prod"))]

    assert main([*arguments, "--output", str(output), "--secret-markers"]) == 0

    out, _ = capsys.readouterr()
    assert "stage profile 'prod': 4 change(s)" in out
    service = read_package(output).webhook("Branch Locator").data["genericWebService"]
    assert service["requestHeaders"] == [{"key": "X-Api-Key", "value": "${secret:conn:acme_branch_api}"}]
    # Without the flag the same run needs the secret, and names it.
    assert main([*arguments, "--output", str(tmp_path / "values.zip")]) == 2
    assert "AIRFLOW_CONN_ACME_BRANCH_API" in capsys.readouterr().err
    assert not (tmp_path / "values.zip").exists()


def test_overlay_to_a_folder_and_again_changes_nothing(tmp_path, capsys):
    folder = tmp_path / "staging"
    profile = str(sample_profile_path("staging"))
    assert main(["overlay", str(sample_agent_path()), "--profile", profile, "--output", str(folder)]) == 0
    capsys.readouterr()
    assert main(["overlay", str(folder), "--profile", profile, "--output", str(tmp_path / "again.zip")]) == 0
    assert "0 change(s)" in capsys.readouterr().out
    assert package_files(read_package(folder)) == package_files(read_package(tmp_path / "again.zip"))


def test_overlay_refuses_what_it_cannot_use_and_writes_nothing(tmp_path, shared_agents, capsys, monkeypatch):
    output = tmp_path / "out.zip"
    qatar = str(_agent(shared_agents, "qatar-airways"))
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"webhooks": {"Branch Locator": {"uri": "https://x.example"}}}))
    assert main(["overlay", qatar, "--profile", str(wrong), "--output", str(output)]) == 2
    assert "webhook 'Branch Locator' is not in the package (it has: Apigee Integration)" in capsys.readouterr().err
    assert main(["overlay", str(tmp_path / "missing"), "--profile", str(wrong), "--output", str(output)]) == 2
    assert "agent package not found" in capsys.readouterr().err
    (tmp_path / "junk.json").write_text("{")
    assert main(["overlay", qatar, "--profile", str(tmp_path / "junk.json"), "--output", str(output)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    monkeypatch.delenv("AIRFLOW_CONN_ACME_BRANCH_API", raising=False)
    profile = str(sample_profile_path("prod"))
    assert main(["overlay", str(sample_agent_path()), "--profile", profile, "--output", str(output)]) == 2
    assert "AIRFLOW_CONN_ACME_BRANCH_API is not set" in capsys.readouterr().err
    assert not output.exists()


def test_lint_with_a_target_agent_fails_on_a_foreign_data_store(tmp_path, shared_agents, capsys):
    package = read_package(_agent(shared_agents, "qatar-airways"))
    store = "projects/acme-dev/locations/us-central1/collections/default_collection/dataStores/faq"
    package.flows[0].data["knowledgeConnectorSettings"] = {"dataStoreConnections": [{"dataStore": store}]}
    folder = write_folder(package, tmp_path / "qatar")
    assert main(["lint", str(folder)]) == 0  # without a target nothing is foreign
    capsys.readouterr()
    assert main(["lint", str(folder), "--target-agent", PROD_AGENT, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(f["rule_id"], f["severity"]) for f in report["findings"] if f["severity"] == "ERROR"] == [
        ("foreign-reference", "ERROR")
    ]
    dev_agent = "projects/acme-dev/locations/us-central1/agents/a"
    assert main(["lint", str(folder), "--target-agent", dev_agent]) == 0
    assert main(["lint", str(folder), "--target-agent", "projects/acme-dev/agents/a"]) == 2
    assert "is not projects/P/locations/L/agents/A" in capsys.readouterr().err


def test_lint_with_a_profile_checks_its_forbidden_hosts(tmp_path, branch_secret, capsys):
    dev = str(sample_agent_path())
    staging = str(sample_profile_path("staging"))
    # dev's package still calls dev's branch locator: staging forbids it.
    assert main(["lint", dev, "--target-agent", STAGING_AGENT, "--profile", staging]) == 1
    assert "forbidden-endpoint" in capsys.readouterr().out
    for stage, agent in (("staging", STAGING_AGENT), ("prod", PROD_AGENT)):
        output = tmp_path / f"{stage}.zip"
        profile = str(sample_profile_path(stage))
        assert main(["overlay", dev, "--profile", profile, "--output", str(output)]) == 0
        assert main(["lint", str(output), "--target-agent", agent, "--profile", profile]) == 0, stage
        out, err = capsys.readouterr()
        assert SECRET not in out + err
    # The prod package in staging: staging's profile forbids prod's host.
    assert main(["lint", str(tmp_path / "prod.zip"), "--target-agent", STAGING_AGENT, "--profile", staging]) == 1


def test_overlay_as_a_subprocess_never_prints_the_secret(tmp_path):
    env = {"AIRFLOW_CONN_ACME_BRANCH_API": f"https://cx:{SECRET}@b.example", "PYTHONPATH": ":".join(sys.path)}
    args = ["overlay", str(sample_agent_path()), "--profile", str(sample_profile_path("prod"))]
    done = subprocess.run(
        [sys.executable, "-m", "airflow_provider_cx.package", *args, "--output", str(tmp_path / "p.zip")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "4 change(s)" in done.stdout
    assert SECRET not in done.stdout + done.stderr


def test_lint_takes_the_stage_project_number_from_the_profile(tmp_path, shared_agents, capsys):
    package = read_package(_agent(shared_agents, "qatar-airways"))
    store = "projects/200000000002/locations/us-central1/collections/default_collection/dataStores/faq"
    package.flows[0].data["knowledgeConnectorSettings"] = {"dataStoreConnections": [{"dataStore": store}]}
    folder = write_folder(package, tmp_path / "qatar")
    profile = tmp_path / "prod.json"
    profile.write_text(json.dumps({"stage": "prod", "project_number": "200000000002"}))
    assert main(["lint", str(folder), "--target-agent", PROD_AGENT]) == 1  # a number it cannot place
    assert main(["lint", str(folder), "--target-agent", PROD_AGENT, "--profile", str(profile)]) == 0
    assert main(["lint", str(folder), "--target-agent", PROD_AGENT, "--project-alias", "200000000002"]) == 0
    capsys.readouterr()
