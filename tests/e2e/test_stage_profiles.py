"""End to end: stage profiles in cx_release_promotion under the real scheduler (issue 13).

Each stage has its own webhook backend (the demo's loopback servers, counting calls); dev's package
names dev's, and the pipeline config gives staging and prod the demo's profiles, which point each
stage at its own backend and forbid the others. Prod's profile sends an API key from an Airflow
connection. Driven only through Airflow's REST API, the emulator and the files the runs write.
"""

from __future__ import annotations

import json
import secrets
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cx import storage
from airflow_provider_cx.demo.__main__ import approve_until_done
from airflow_provider_cx.demo.agents import (
    EmulatorAgents,
    PackageChange,
    StageAgent,
    create_stages,
    demo_change,
    emulator_connection,
    pipeline_config,
    sample_package,
)
from airflow_provider_cx.demo.api import AirflowAPIClient
from airflow_provider_cx.demo.emulator_process import EmulatorProcess
from airflow_provider_cx.demo.stack import AirflowStack
from airflow_provider_cx.demo.webhooks import (
    StageWebhooks,
    with_branch_lookup_test,
    with_webhook_uri,
    write_stage_profiles,
)
from airflow_provider_cx.emulator.testing import zip_files_as_json

from .conftest import CONN_ID, OPERATION_DELAY, POLL_INTERVAL, REPO_DAGS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

RELEASE = "cx_release_promotion"
API_KEY_CONN_ID = "acme_branch_api"
START_FLOW = "flows/Default Start Flow/Default Start Flow.json"
DEV_STORE = "projects/acme-bank-dev/locations/global/collections/default_collection/dataStores/faq"
STAGING_STORE = "projects/acme-bank-staging/locations/us-central1/collections/default_collection/dataStores/faq"


@dataclass
class ProfiledWorld:
    stack: AirflowStack
    client: AirflowAPIClient
    agents: EmulatorAgents
    stages: dict[str, StageAgent]
    webhooks: StageWebhooks
    profiles: dict[str, Path]
    api_key: str
    artifacts: Path


def dev_changes(webhooks: StageWebhooks, *more: PackageChange) -> list[PackageChange]:
    return [demo_change(), with_webhook_uri(webhooks.url("dev")), with_branch_lookup_test(), *more]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProfiledWorld]:
    root = tmp_path_factory.mktemp("stage-profiles")
    api_key = secrets.token_hex(16)
    with (
        StageWebhooks(prod_api_key=api_key) as webhooks,
        EmulatorProcess(root / "emulator-data", operation_delay=OPERATION_DELAY) as emulator,
    ):
        assert emulator.address is not None
        agents = EmulatorAgents(emulator.address)
        stages = create_stages(agents, sample_package(dev_changes(webhooks)))
        artifacts = root / "artifacts"
        config = pipeline_config(
            stages, gcp_conn_id=CONN_ID, artifacts_base=artifacts.as_uri(), poll_interval=POLL_INTERVAL
        )
        profiles = write_stage_profiles(webhooks, root / "profiles")
        for stage, path in profiles.items():
            config["stages"][stage]["profile"] = str(path)
        config_path = root / "cx_pipeline_config.json"
        config_path.write_text(json.dumps(config, indent=2))
        with AirflowStack(
            REPO_DAGS,
            root / "airflow-home",
            env={"CX_PIPELINE_CONFIG": str(config_path)},
            connections={
                CONN_ID: emulator_connection(emulator.address),
                API_KEY_CONN_ID: {"conn_type": "http", "password": api_key},
            },
        ) as stack:
            client = stack.client()
            client.wait_for_dag(RELEASE, timeout=90)
            yield ProfiledWorld(stack, client, agents, stages, webhooks, profiles, api_key, artifacts)
        agents.close()


def webhook_of(world: ProfiledWorld, agent: str, environment: str | None = None) -> dict[str, Any]:
    files = zip_files_as_json(world.agents.export(agent, environment))
    return files["webhooks/Branch Locator.json"]["genericWebService"]


def files_under(folder: Path, skip_suffix: str | None = None) -> dict[str, str]:
    """Each file as text; a zip also member by member, unpacked (compressed bytes would hide a secret)."""
    texts = {}
    for path in folder.rglob("*"):
        if not path.is_file() or (skip_suffix and path.name.endswith(skip_suffix)):
            continue
        texts[str(path)] = path.read_text(errors="replace")
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                for member in archive.infolist():
                    texts[f"{path}!{member.filename}"] = archive.read(member).decode(errors="replace")
    return texts


def test_each_stage_converses_only_with_its_own_backend_and_the_key_stays_secret(world: ProfiledWorld) -> None:
    before = world.webhooks.counts()
    run = world.client.trigger(RELEASE)
    finished = approve_until_done(world.client, run, timeout=240)

    states = world.client.task_states(RELEASE, run.run_id)
    assert finished.state == "success", states
    assert before == {"dev": {}, "staging": {}, "prod": {}}
    counts = world.webhooks.counts()
    # Staging's test run and prod's test run and smoke test each asked for the nearest branch (the
    # "Find a branch by ZIP code" test case has its webhook enabled; the smoke test says "find a
    # branch near 10001"), each at its own stage's backend; dev's was never called.
    assert counts["dev"] == {}
    assert set(counts["staging"]) == set(counts["prod"]) == {"nearest-branch"}
    assert counts["staging"]["nearest-branch"] >= 1
    assert counts["prod"]["nearest-branch"] >= 2
    tests = {
        stage: world.client.xcom(RELEASE, run.run_id, f"test_{stage}", key="cx_test_run")
        for stage in ("staging", "prod")
    }
    assert {stage: (t["passed"], t["total"]) for stage, t in tests.items()} == {"staging": (11, 11), "prod": (11, 11)}
    smoke = world.client.xcom(RELEASE, run.run_id, "smoke_test_prod", key="cx_detect_intent")
    assert (smoke["passed"], smoke["total"]) == (3, 3)

    # Each stage's draft and environment name its own backend; prod sends the key.
    prod, staging = world.stages["prod"], world.stages["staging"]
    assert webhook_of(world, prod.agent, prod.environment_name)["uri"] == world.webhooks.url("prod")
    assert webhook_of(world, prod.agent)["requestHeaders"] == [{"key": "X-Api-Key", "value": world.api_key}]
    assert webhook_of(world, staging.agent, staging.environment_name)["uri"] == world.webhooks.url("staging")

    # The substitutions are in the summary, masked; the stage packages are archived.
    folder = world.client.xcom(RELEASE, run.run_id, "prepare_release", key="folder")
    summary = json.loads(storage.read_bytes(storage.join(folder, "summary.json")))
    prod_changes = {change["field"]: change for change in summary["stage_profiles"]["prod"]["changes"]}
    assert prod_changes["genericWebService.uri"]["after"] == json.dumps(world.webhooks.url("prod"))
    assert prod_changes["genericWebService.requestHeaders"]["after"] == '[{"key": "X-Api-Key", "value": "***"}]'
    staged = world.client.xcom(RELEASE, run.run_id, "stage_package_prod")
    assert staged["uri"] == storage.uri_of(storage.join(folder, "stages", "prod.zip"))
    assert staged["gate"]["failed"] is False
    summary_md = storage.read_bytes(storage.join(folder, "summary.md")).decode()
    assert "**prod** package" in summary_md

    # The stage package holds a marker where the key goes; the restore put the key in in memory.
    stored = zip_files_as_json(storage.read_bytes(staged["uri"]))
    assert stored["webhooks/Branch Locator.json"]["genericWebService"]["requestHeaders"] == [
        {"key": "X-Api-Key", "value": "${secret:conn:acme_branch_api}"}
    ]
    # The release notes list staging's substitutions (masked).
    notes = storage.read_bytes(storage.join(folder, "reports", "release-notes.md")).decode()
    assert "## Stage substitutions" in notes
    assert world.webhooks.url("staging") in notes

    # The key is nowhere but in prod's agent: not in any artifact of the run (the stage packages,
    # backups and exports unpacked, reports, summary, change lists), XCom or task log.
    artifacts = files_under(world.artifacts)
    assert any(where.endswith("stages/prod.zip!webhooks/Branch Locator.json") for where in artifacts)
    leaks = [where for where, text in artifacts.items() if world.api_key in text]
    leaks += [
        where
        for where, text in files_under(world.stack.home / "logs", skip_suffix=".none").items()
        if world.api_key in text
    ]
    leaks += [
        task
        for task in ("stage_package_staging", "stage_package_prod", "restore_prod", "diff_release", "summarize_release")
        if world.api_key in json.dumps(world.client.xcom(RELEASE, run.run_id, task))
    ]
    assert leaks == []


def test_a_data_store_of_dev_fails_prods_gate_before_prod_changes(world: ProfiledWorld) -> None:
    dev, prod = world.stages["dev"], world.stages["prod"]

    def with_dev_store(flow: Any) -> Any:
        connection = {"dataStoreType": "UNSTRUCTURED", "dataStore": DEV_STORE}
        return {**flow, "knowledgeConnectorSettings": {"dataStoreConnections": [connection]}}

    world.agents.restore(dev.agent, sample_package(dev_changes(world.webhooks, (START_FLOW, with_dev_store))))
    world.agents.deploy_all_flows(dev.agent, dev.environment, "dev with a data store")
    # Staging's profile maps dev's data store to staging's (read when the task runs); prod's does not.
    staging_profile = json.loads(world.profiles["staging"].read_text())
    staging_profile["data_stores"] = {DEV_STORE: STAGING_STORE}
    world.profiles["staging"].write_text(json.dumps(staging_profile))
    prod_draft, prod_served = world.agents.export(prod.agent), world.agents.export(prod.agent, prod.environment_name)
    prod_versions = world.agents.served_versions(prod.environment_name)
    before = world.webhooks.counts()

    run = world.client.trigger(RELEASE)
    finished = approve_until_done(world.client, run, timeout=240)

    states = world.client.task_states(RELEASE, run.run_id)
    assert finished.state == "failed"
    assert states["deploy_staging"] == "success"  # staging took it, with its own data store
    staging_flow = zip_files_as_json(world.agents.export(world.stages["staging"].agent))[START_FLOW]
    assert staging_flow["knowledgeConnectorSettings"]["dataStoreConnections"][0]["dataStore"] == STAGING_STORE
    assert states["stage_package_prod"] == "failed"
    assert {states[task] for task in ("restore_prod", "deploy_prod", "smoke_test_prod")} == {"upstream_failed"}
    assert states["rollback_prod"] == "skipped"  # nothing in prod changed, so nothing to roll back
    gate = world.client.xcom(RELEASE, run.run_id, "stage_package_prod")["gate"]
    assert gate["failed"] is True
    assert gate["by_rule"] == {"foreign-reference": 1}
    assert "acme-bank-dev" in gate["blocking"][0]
    folder = world.client.xcom(RELEASE, run.run_id, "prepare_release", key="folder")
    summary = json.loads(storage.read_bytes(storage.join(folder, "summary.json")))
    assert summary["outcome"] == "failed at stage_package_prod"
    assert not Path(storage.local_path(storage.join(folder, "stages", "prod.zip"))).exists()
    # Prod is byte for byte what it was; its backend was not called by this run, dev's never.
    assert world.agents.export(prod.agent) == prod_draft
    assert world.agents.export(prod.agent, prod.environment_name) == prod_served
    assert world.agents.served_versions(prod.environment_name) == prod_versions
    after = world.webhooks.counts()
    assert after["prod"] == before["prod"]
    assert after["dev"] == {}
