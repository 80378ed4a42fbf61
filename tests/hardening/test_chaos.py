"""Chaos: ``cx_release_promotion`` against an emulator that fails, slows down, or dies mid-run.

Each release runs under ``dag.test()`` in a fresh interpreter (``chaos_release.py``) with its own
AIRFLOW_HOME, the repository's dags/ and the same operators a scheduler would run; Airflow task retries
are off (the pipeline config's ``task_retries`` is 0), so only the hook's retry policy and the
operators' create-or-adopt logic stand between a fault and a failed run. Retry delays are kept small
through the connection's ``retry_*`` extras. The prod approval is answered as a person would answer
it: a named user approves through Airflow's REST API while ``dag.test()`` waits for input, and each
run that got that far is checked to have resumed with that answer.

Three sets of dev/staging/prod agents live on one emulator process (fixed port, ``--data-dir``):
one released without faults (the reference), one released while 30% of every RPC fails with
UNAVAILABLE or RESOURCE_EXHAUSTED after added latency (seeded), and one whose emulator is SIGKILLed
during staging's deploy and restarted on the same data. End states are compared by what they are
(flow display names, version numbers and descriptions, environment version configs, export bytes),
never by resource names, which differ between agents.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chaos_release import APPROVAL_TASK, APPROVER, SERVER_START_TIMEOUT

from airflow_provider_cx.demo.agents import (
    EmulatorAgents,
    StageAgent,
    create_stages,
    demo_change,
    pipeline_config,
    sample_package,
)
from airflow_provider_cx.demo.emulator_process import LISTENING, emulator_command

#: A release under dag.test takes about a minute; its API server starts alongside (up to
#: SERVER_START_TIMEOUT on a loaded machine) and the approval waits for it.
RELEASE_TIMEOUT = 150.0 + SERVER_START_TIMEOUT
EMULATOR_START_TIMEOUT = 120.0
# Tiers (chaos, e2e) come from tests/conftest.py. The first test also sets up the module (an Airflow DB
# migration, the emulator and its agents) and runs the reference release before its own.
pytestmark = pytest.mark.timeout(int(2 * RELEASE_TIMEOUT + 240))

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("chaos_release.py")
CONN_ID = "cx_emulator"
RELEASE_ID = "rel-chaos"
OPERATION_DELAY = 0.1
POLL_INTERVAL = 0.2
#: Small delays keep the run fast; the attempts and deadline outlast an emulator restart (a few seconds).
RETRY_EXTRAS = {"retry_max_attempts": 40, "retry_initial_delay": 0.02, "retry_max_delay": 0.5, "retry_deadline": 30}
FAULTS = {
    "seed": 20261125,
    "methods": {"*": {"error_rate": 0.3, "codes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"], "latency_ms": 15}},
}
RETRY_LINE = re.compile(r"failed with (UNAVAILABLE|RESOURCE_EXHAUSTED) \(attempt \d+ of \d+\)")
#: Where the emulator is killed: at the first call of one of these methods, with what may follow.
#: During staging's deploy an operation is in flight (the restarted emulator reports it ABORTED), so the
#: run may fail, but cleanly; during staging's validation nothing is in flight, so the hook's retries
#: must carry the run through the restart.
KILL_POINTS = {
    "killed-deploy": (
        ("Environments/UpdateEnvironment", "Environments/CreateEnvironment", "Environments/DeployFlow"),
        False,
    ),
    "killed-validate": (("Agents/ValidateAgent",), True),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RestartableEmulator:
    """``cx-emulator`` on a fixed port, so a restarted process is reachable at the same address."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = EMULATOR_START_TIMEOUT) -> None:
        """Start it and wait for "listening on"; fail at once, with its output, if it exits first."""
        argv = [*emulator_command(), "--port", str(self.port), "--data-dir", str(self.data_dir)]
        argv += ["--operation-delay", str(OPERATION_DELAY)]
        self.process = process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True
        )
        ready = threading.Event()
        threading.Thread(target=self._pump, args=(process, ready), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.2):
            if process.poll() is not None or time.monotonic() > deadline:
                exited = process.poll()
                self.kill()
                why = f"exited with {exited}" if exited is not None else f"was not listening within {timeout} s"
                pytest.fail(f"cx-emulator {why}; {self.log_path} ends:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        if not self.log_path.exists():
            return "(nothing logged)"
        return "".join(self.log_path.read_text(errors="replace").splitlines(keepends=True)[-lines:])

    def _pump(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        assert process.stdout is not None
        with self.log_path.open("a", encoding="utf-8") as log:
            for line in process.stdout:
                log.write(line)
                log.flush()
                if LISTENING.search(line):
                    ready.set()

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, whatever was in flight is lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


@dataclass
class ChaosWorld:
    root: Path
    emulator: RestartableEmulator
    agents: EmulatorAgents
    airflow_template: Path
    stage_sets: dict[str, dict[str, StageAgent]]


@dataclass
class ReleaseRun:
    """One ``dag.test`` of the release pipeline in its own interpreter."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def wait(self, timeout: float = RELEASE_TIMEOUT) -> dict[str, Any]:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"the release run did not finish within {timeout} s; see {self.log_path}")
        for line in self.log().splitlines():
            if line.startswith("CHAOS-RESULT "):
                return json.loads(line.removeprefix("CHAOS-RESULT "))
        pytest.fail(f"the release run exited {self.process.returncode} without a result; see {self.log_path}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def stage_parents(name: str) -> dict[str, str]:
    """Each set in its own projects; locations as in the demo (one global, two regional)."""
    return {
        "dev": f"projects/{name}-dev/locations/global",
        "staging": f"projects/{name}-staging/locations/us-central1",
        "prod": f"projects/{name}-prod/locations/us-central1",
    }


def migrated_airflow_home(root: Path) -> Path:
    """An AIRFLOW_HOME with a migrated sqlite DB, migrated once and copied for every run."""
    home = root / "airflow-template"
    home.mkdir()
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=airflow_environment(home),
        check=True,
        capture_output=True,
        timeout=120,
    )
    return home


def airflow_environment(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        # dag.test runs triggers inline, with no scheduler to race (apache/airflow#71580): no need to hold
        # CXOperationTrigger's events back for its default 10 s.
        AIRFLOW__DIALOGFLOW_CX__TRIGGER_MIN_DEFERRAL="0",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])),
    )
    env.update(extra or {})
    return env


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosWorld]:
    root = tmp_path_factory.mktemp("chaos")
    emulator = RestartableEmulator(root / "emulator-data", root / "emulator.log")
    emulator.start()
    agents = EmulatorAgents(emulator.address)
    try:
        template = migrated_airflow_home(root)
        dev_package = sample_package([demo_change()])
        stage_sets = {
            name: create_stages(agents, dev_package, parents=stage_parents(name))
            for name in ("clean", "faulty", *KILL_POINTS)
        }
        yield ChaosWorld(root, emulator, agents, template, stage_sets)
    finally:
        agents.close()
        emulator.kill()


def start_release(world: ChaosWorld, name: str) -> ReleaseRun:
    """Release stage set ``name`` (in the background): its own config, AIRFLOW_HOME and log."""
    run_root = world.root / name
    home = run_root / "airflow-home"
    shutil.copytree(world.airflow_template, home)
    config = pipeline_config(
        world.stage_sets[name],
        gcp_conn_id=CONN_ID,
        artifacts_base=(run_root / "artifacts").as_uri(),
        poll_interval=POLL_INTERVAL,
    )
    config_path = run_root / "cx_pipeline_config.json"
    config_path.write_text(json.dumps(config, indent=2))
    connection = {"conn_type": "dialogflow_cx", "extra": {"emulator_host": world.emulator.address, **RETRY_EXTRAS}}
    env = airflow_environment(
        home,
        {"CX_PIPELINE_CONFIG": str(config_path), f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(connection)},
    )
    log_path = run_root / "release.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(DRIVER), RELEASE_ID], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=run_root
        )
    return ReleaseRun(process, log_path)


# --- end states, free of resource names -----------------------------------------------------------


def version_number(name: str) -> int:
    return int(name.rsplit("/", 1)[-1])


def stage_state(agents: EmulatorAgents, stage: StageAgent) -> dict[str, Any]:
    """Per flow (display name): its versions (number, display name, description) and what the environment serves."""
    from google.cloud import dialogflowcx_v3 as cx

    flows = {flow.name: flow.display_name for flow in agents.client(cx.FlowsClient).list_flows(parent=stage.agent)}
    versions_client = agents.client(cx.VersionsClient)
    versions = {
        display: sorted(
            (version_number(v.name), v.display_name, v.description) for v in versions_client.list_versions(parent=flow)
        )
        for flow, display in flows.items()
    }
    environments = list(agents.client(cx.EnvironmentsClient).list_environments(parent=stage.agent))
    served = next(env for env in environments if env.name == stage.environment_name)
    return {
        "versions": versions,
        "environments": sorted(env.display_name for env in environments),
        "environment_config": sorted(
            (flows[config.version.split("/versions/")[0]], version_number(config.version))
            for config in served.version_configs
        ),
    }


def end_state(agents: EmulatorAgents, stages: dict[str, StageAgent]) -> dict[str, Any]:
    prod = stages["prod"]
    return {
        "staging": stage_state(agents, stages["staging"]),
        "prod": stage_state(agents, prod),
        "prod_export_sha256": hashlib.sha256(agents.export(prod.agent, prod.environment_name)).hexdigest(),
        "prod_draft_sha256": hashlib.sha256(agents.export(prod.agent)).hexdigest(),
    }


def duplicate_versions(state: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(stage, flow, version display name) seen more than once: a create that was repeated."""
    found = []
    for stage in ("staging", "prod"):
        for flow, versions in state[stage]["versions"].items():
            names = [display for _, display, _ in versions]
            found += [(stage, flow, name) for name in sorted(set(names)) if names.count(name) > 1]
    return found


def assert_approved_through_the_api(result: dict[str, Any]) -> None:
    """The approver's answer went through the REST API, and the approval task resumed with exactly it."""
    approval = result["approval"]
    assert approval["error"] is None, approval["error"]
    answer = approval["answer"]
    assert answer is not None, "the approval was never answered"
    assert (answer["chosen_options"], answer["responded_by"]["name"]) == (["Approve"], APPROVER)
    returned = approval["task_result"]  # what execute_complete returned from the response it was given
    assert (returned["chosen_options"], returned["responded_by_user"]["name"]) == (["Approve"], APPROVER)
    assert result["task_states"][APPROVAL_TASK] == "success"


@pytest.fixture(scope="module")
def clean_release(world: ChaosWorld) -> dict[str, Any]:
    """The reference: the same release on identical agents, without faults."""
    result = start_release(world, "clean").wait()
    assert result["succeeded"], result["task_states"]
    assert_approved_through_the_api(result)
    return end_state(world.agents, world.stage_sets["clean"])


# --- tests ---------------------------------------------------------------------------------------


def test_release_reaches_the_same_end_state_when_30_percent_of_rpcs_fail(
    world: ChaosWorld, clean_release: dict[str, Any]
) -> None:
    admin = world.agents.admin()
    admin.set_faults(FAULTS)
    try:
        run = start_release(world, "faulty")
        result = run.wait()
    finally:
        admin.set_faults(None)

    assert result["task_retries"] == [0]  # only the hook's retries were at work
    assert result["succeeded"], result["task_states"]
    assert_approved_through_the_api(result)
    retried = RETRY_LINE.findall(run.log())
    assert {"UNAVAILABLE", "RESOURCE_EXHAUSTED"} <= set(retried), "the faults never reached the hook"
    state = end_state(world.agents, world.stage_sets["faulty"])
    assert duplicate_versions(state) == []
    assert state == clean_release
    print(f"faulty release: {len(retried)} hook retries; end state identical to the clean release")


@pytest.mark.parametrize("scenario", list(KILL_POINTS))
def test_release_recovers_or_fails_cleanly_when_the_emulator_is_killed_and_restarted(
    world: ChaosWorld, clean_release: dict[str, Any], scenario: str
) -> None:
    methods, must_recover = KILL_POINTS[scenario]
    stages = world.stage_sets[scenario]
    before = end_state(world.agents, stages)
    admin = world.agents.admin()
    admin.reset_stats()
    run = start_release(world, scenario)

    deadline = time.monotonic() + 120
    while not any(key.endswith(methods) for key in admin.counts()):
        assert run.process.poll() is None, f"the run ended before calling {methods}; see {run.log_path}"
        assert time.monotonic() < deadline, f"no call of {methods} within 120 s"
        time.sleep(0.05)
    world.emulator.kill()
    killed_mid_run = run.process.poll() is None
    time.sleep(1.0)
    world.emulator.start()
    result = run.wait()

    assert killed_mid_run
    assert result["task_retries"] == [0]
    after = end_state(world.agents, stages)
    assert duplicate_versions(after) == []
    if must_recover:
        assert result["succeeded"], result["task_states"]
    if result["succeeded"]:
        assert_approved_through_the_api(result)
        assert after == clean_release
    else:
        # Failed cleanly: each environment serves either what it served before or the complete release.
        assert after["staging"]["environment_config"] in (
            before["staging"]["environment_config"],
            clean_release["staging"]["environment_config"],
        ), result["task_states"]
        assert after["prod"] == before["prod"], result["task_states"]
        assert after["prod_export_sha256"] == before["prod_export_sha256"]
    outcome = "recovered" if result["succeeded"] else "failed cleanly"
    failed = sorted(task for task, state in result["task_states"].items() if state == "failed")
    print(f"{scenario}: run {outcome}; failed tasks: {failed or 'none'}")
