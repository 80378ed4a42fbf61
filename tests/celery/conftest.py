"""The CeleryExecutor tier: Redis, PostgreSQL, a Cloud Storage emulator, the CX emulator and a real Airflow.

Everything runs on loopback ports, in temp dirs, as processes this fixture starts and stops by id:
gcp-storage-emulator (``artifacts_base`` is ``gs://`` there; the CX emulator keeps its gs:// objects
there too, through ``STORAGE_EMULATOR_HOST``), ``redis-server`` (the broker), ``postgres`` (the
metadata DB), the CX emulator, and Airflow's scheduler, dag-processor, triggerer, API server and two
Celery workers, each worker in a working directory of its own. ``scripts/services.sh`` installs Redis
and PostgreSQL from the OS packages when they are missing.

A sampler thread records, while the stack runs, which processes descend from which worker and from
the triggerer: task processes live for seconds, so afterwards a pid can still be traced to where it ran.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
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
from airflow_provider_cx.demo.services import PostgresServer, RedisServer, StorageEmulator
from airflow_provider_cx.demo.stack import AirflowStack, CeleryWorkers

REPO_DAGS = Path(__file__).resolve().parents[2] / "dags"
CONN_ID = "cx_emulator"
BUCKET = "cx-artifacts"
ARTIFACTS_BASE = f"gs://{BUCKET}/pipelines"
PREVIEW = "preview"
WORKERS = CeleryWorkers(broker_url="", count=2, concurrency=2).names
SAMPLE_INTERVAL = 0.1


class ProcessSampler:
    """Which live processes descend from each root (``{name: pid}``), sampled until stopped."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self.seen: dict[str, set[int]] = {name: set() for name in roots}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="process-sampler", daemon=True)

    def start(self) -> ProcessSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def owner(self, pid: int) -> str | None:
        """The root a pid descended from, if it was ever seen."""
        return next((name for name, pids in self.seen.items() if pid in pids), None)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL):
            for name, root in self.roots.items():
                try:
                    self.seen[name].update(child.pid for child in psutil.Process(root).children(recursive=True))
                except psutil.Error:
                    continue


@dataclass
class CeleryWorld:
    stack: AirflowStack
    client: AirflowAPIClient
    emulator: EmulatorProcess
    agents: EmulatorAgents
    stages: dict[str, StageAgent]
    storage: StorageEmulator
    sampler: ProcessSampler
    runs: list[tuple[str, str]] = field(default_factory=list)

    def storage_client(self) -> Any:
        """A google-cloud-storage client of the storage emulator: what is really in the bucket."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": self.storage.endpoint}
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryWorld]:
    root = tmp_path_factory.mktemp("celery")
    with (
        StorageEmulator(root / "storage-emulator", buckets=[BUCKET]) as gcs,
        RedisServer(root / "redis") as redis,
        PostgresServer(root / "postgres") as postgres,
        pytest.MonkeyPatch.context() as patch,
    ):
        # This process (which reads the results) and the CX emulator process it starts use the storage
        # emulator; the Airflow components get the same variables through env= below.
        env = {**gcs.env, "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}
        for key, value in env.items():
            patch.setenv(key, value)
        with EmulatorProcess(root / "emulator-data", operation_delay=0.25) as emulator:
            agents = EmulatorAgents(emulator.address)
            stages = create_stages(agents, sample_package([demo_change()]))
            for name in ("staging", "prod"):
                agents.deploy_all_flows(stages[name].agent, PREVIEW, "preview")
            targets = [
                {"key": name, "agent": stages[name].agent, "environments": [stages[name].environment, PREVIEW]}
                for name in ("staging", "prod")
            ]
            config = pipeline_config(
                stages, gcp_conn_id=CONN_ID, artifacts_base=ARTIFACTS_BASE, poll_interval=0.5, targets=targets
            )
            config_path = root / "cx_pipeline_config.json"
            config_path.write_text(json.dumps(config, indent=2))
            with AirflowStack(
                REPO_DAGS,
                root / "airflow-home",
                env={"CX_PIPELINE_CONFIG": str(config_path), **env},
                connections={CONN_ID: emulator_connection(emulator.address)},
                database_url=postgres.sqlalchemy_url,
                celery=CeleryWorkers(broker_url=redis.url, count=len(WORKERS), concurrency=2),
                startup_timeout=240,
            ) as stack:
                roots = {name: stack.pid(name) for name in (*WORKERS, "triggerer", "scheduler", "api-server")}
                sampler = ProcessSampler(roots).start()
                try:
                    client = stack.client()
                    for dag_id in ("cx_release_promotion", "cx_scheduled_validation", "cx_agent_backup"):
                        client.wait_for_dag(dag_id, timeout=120)
                    yield CeleryWorld(stack, client, emulator, agents, stages, gcs, sampler)
                finally:
                    sampler.stop()
            agents.close()
