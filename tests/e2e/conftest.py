"""One CX emulator process and one real Airflow serving the repository's dags/, for the pipeline e2e tests.

The emulator holds dev, staging and prod agents made from the sample agent (dev carries the demo's
change); staging and prod also have a second environment, ``preview``, so scheduled validation covers
two agents x two environments. Tests leave the stages on a released state; each test captures what it
compares against itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cx.demo.agents import (
    EmulatorAgents,
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

REPO_DAGS = Path(__file__).resolve().parents[2] / "dags"
CONN_ID = "cx_emulator"
PREVIEW = "preview"
#: Fast operations keep a release run near a minute; test runs still defer (the config says so).
OPERATION_DELAY = 0.25
POLL_INTERVAL = 0.5


@dataclass
class PipelineWorld:
    stack: AirflowStack
    client: AirflowAPIClient
    emulator: EmulatorProcess
    agents: EmulatorAgents
    stages: dict[str, StageAgent]
    artifacts: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineWorld]:
    root = tmp_path_factory.mktemp("pipelines")
    with EmulatorProcess(root / "emulator-data", operation_delay=OPERATION_DELAY) as emulator:
        agents = EmulatorAgents(emulator.address)
        stages = create_stages(agents, sample_package([demo_change()]))
        for name in ("staging", "prod"):
            agents.deploy_all_flows(stages[name].agent, PREVIEW, "preview")
        targets = [
            {"key": name, "agent": stages[name].agent, "environments": [stages[name].environment, PREVIEW]}
            for name in ("staging", "prod")
        ]
        artifacts = root / "artifacts"
        config = pipeline_config(
            stages, gcp_conn_id=CONN_ID, artifacts_base=artifacts.as_uri(), poll_interval=POLL_INTERVAL, targets=targets
        )
        config_path = root / "cx_pipeline_config.json"
        config_path.write_text(json.dumps(config, indent=2))
        with AirflowStack(
            REPO_DAGS,
            root / "airflow-home",
            env={"CX_PIPELINE_CONFIG": str(config_path)},
            connections={CONN_ID: emulator_connection(emulator.address)},
        ) as stack:
            client = stack.client()
            for dag_id in ("cx_release_promotion", "cx_scheduled_validation", "cx_agent_backup"):
                client.wait_for_dag(dag_id, timeout=90)
            yield PipelineWorld(stack, client, emulator, agents, stages, artifacts)
        agents.close()


def task_log_lines(
    stack: AirflowStack, dag_id: str, run_id: str, task_id: str, map_index: int = -1
) -> list[dict[str, Any]]:
    """Every JSON log line of a task's first try, the triggerer's part included."""
    folder = stack.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    if map_index >= 0:
        folder /= f"map_index={map_index}"
    lines = []
    for path in sorted(folder.glob("attempt=1.log*")):
        for line in path.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
    return lines
