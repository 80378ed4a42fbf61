"""``python -m airflow_provider_cx.demo`` (``bash scripts/demo``): a release promoted dev -> staging -> prod.

Starts the CX emulator (``cx-emulator --data-dir``), creates dev, staging and prod agents from the
sample agent (staging and prod serve it as the current release; dev adds a training phrase and
serves that from its environment), starts one loopback webhook backend per stage for the sample
agent's Branch Locator (dev's package calls dev's; the stage profiles point staging and prod at
theirs), writes a pipeline config naming the agents and profiles, starts a real Airflow
(scheduler with LocalExecutor, dag-processor, triggerer, API server), triggers
``cx_release_promotion``, approves its HITL step through the REST API, and prints each gate, the
versions deployed, which stage's backend each conversation reached, where the reports are and the
UI address. Exits 0 only if the run succeeded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow_provider_cx.demo.api import AirflowAPIClient, AirflowAPIError, DagRun, RunEndedError, WaitTimeoutError
from airflow_provider_cx.demo.stack import AirflowStack, StackError, StackPorts, free_port
from airflow_provider_cx.terminal_text import plain

REPO_DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_ID = "cx_release_promotion"
CONN_ID = "cx_emulator"
#: The connection whose password prod's profile sends as the Branch Locator's API key.
API_KEY_CONN_ID = "acme_branch_api"
CONFIG_ENV = "CX_PIPELINE_CONFIG"
#: Seconds the emulator's long-running operations take, and how often the pipeline checks on them.
OPERATION_DELAY = 0.25
POLL_INTERVAL = 0.5


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_cx.demo", description=plain(__doc__ or ""))
    parser.add_argument("--workdir", type=Path, default=Path(".demo"), help="emulator data, Airflow home, artifacts")
    parser.add_argument("--dags-folder", type=Path, default=REPO_DAGS)
    parser.add_argument("--port", type=int, default=0, help="API/UI port (default: a free one)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds the run may take")
    parser.add_argument("--reject", action="store_true", help="answer the approval with Reject instead")
    parser.add_argument("--keep-running", action="store_true", help="keep Airflow up after the run (Ctrl-C ends)")
    return parser.parse_args(argv)


def approve_until_done(client: AirflowAPIClient, run: DagRun, timeout: float, *, reject: bool = False) -> DagRun:
    """Answer each HITL step as it comes up (Approve, or Reject with ``reject``); return the finished run."""
    while True:
        try:
            request = client.wait_for_hitl(run.dag_id, run.run_id, timeout=timeout)
        except RunEndedError:
            return client.wait_for_run(run.dag_id, run.run_id, timeout=60)
        print(f"  {'rejecting' if reject else 'approving'} {request.task_id}: {request.subject}", flush=True)
        if request.body:
            print("    " + "\n    ".join(line for line in request.body.splitlines() if line.strip()), flush=True)
        (client.reject if reject else client.approve)(request)


def release_summary(client: AirflowAPIClient, run: DagRun) -> dict[str, Any] | None:
    """The run's summary.json from its release folder (``None`` if the run never got that far)."""
    from airflow_provider_cx import storage

    try:
        folder = client.xcom(run.dag_id, run.run_id, "prepare_release", key="folder")
        summary: dict[str, Any] = json.loads(storage.read_bytes(storage.join(folder, "summary.json")))
        return summary
    except (AirflowAPIError, FileNotFoundError, ValueError):
        return None


def run_seconds(run: DagRun) -> float:
    """How long the run took, from Airflow's start and end dates (0 if it has none)."""
    if not (run.start_date and run.end_date):
        return 0.0
    return (datetime.fromisoformat(run.end_date) - datetime.fromisoformat(run.start_date)).total_seconds()


def print_report(
    stack: AirflowStack, client: AirflowAPIClient, run: DagRun, elapsed: float, *, keep_running: bool = False
) -> None:
    states = client.task_states(run.dag_id, run.run_id)
    summary = release_summary(client, run) or {}
    details = {row["task"]: row["detail"] for row in summary.get("gates", [])}
    print(
        f"\nrun {run.run_id}: {run.state} after {run_seconds(run):.0f} s (demo: {elapsed:.0f} s); "
        f"release {summary.get('release_id', '?')}: {summary.get('outcome', 'no summary')}"
    )
    if summary:
        print(f"  started {summary.get('start')}, summary written {summary.get('end')}")
    print("\ngates:")
    order = [row["task"] for row in summary.get("gates", [])] or sorted(states)
    for task_id in order:
        print(f"  {task_id:<20} {states.get(task_id) or 'not run':<16} {details.get(task_id, '')}")
    if summary:
        print_record(summary)
    if summary:
        print(f"\nrelease folder: {summary['folder']} (summary.md, summary.json, package, backups, reports:)")
        for path in summary.get("reports", []):
            print(f"  {path}")
    later = "" if keep_running else "  (up while the demo runs: use --keep-running to browse it afterwards)"
    print(f"\nUI:   {stack.api_url}/dags/{run.dag_id}/runs/{run.run_id}{later}")
    print(f"logs: {stack.home / 'logs'} (tasks), {stack.logs_dir} (components)")


def approval_line(summary: dict[str, Any]) -> str:
    """``Approve by alice at <time>``, ``Reject by ...``, or why nobody answered."""
    approval = summary.get("approval") or {}
    if not approval.get("choice"):
        return f"none ({approval.get('reason', 'not recorded')})"
    return f"{approval['choice']} by {approval.get('by') or 'unknown'} at {approval.get('at') or '?'}"


def print_record(summary: dict[str, Any]) -> None:
    """The release record: approval, package, and each stage's flow versions before and after."""
    package = summary.get("package") or {}
    print(f"\napproval: {approval_line(summary)}")
    if summary.get("outcome") == "rejected":
        print("  rejected: nothing was promoted to prod")
    print(f"package:  {package.get('uri')} sha256 {package.get('sha256')} ({package.get('size_bytes')} bytes)")
    for stage, record in (summary.get("environments") or {}).items():
        environment = summary["stages"][stage]["environment"]
        before, after = record.get("versions_before") or {}, record.get("versions_after") or {}
        print(f"\n{stage} environment {environment!r}: flow versions before -> after")
        if record.get("note"):
            print(f"  ({record['note']})")
        for flow in sorted(set(before) | set(after)):
            old, new = before.get(flow), after.get(flow)
            change = "" if old == new else "  (changed)"
            print(f"  {flow:<20} {_version_id(old)} -> {_version_id(new)}{change}")


def _version_id(name: str | None) -> str:
    return "-" if not name else name.rsplit("/", 1)[-1]


def print_webhook_calls(counts: dict[str, dict[str, int]]) -> None:
    """Which stage's backend the conversations reached (test runs, smoke test), by webhook tag."""
    print("\nwebhook backends (calls answered per stage):")
    for stage, tags in counts.items():
        detail = ", ".join(f"{tag} {n}" for tag, n in sorted(tags.items())) or "no calls"
        answered = sum(n for tag, n in tags.items() if tag not in ("refused", "bad request"))
        print(f"  {stage:<8} {answered:>3}  ({detail})")


def prepare_workdir(workdir: Path) -> Path:
    """``workdir`` without what an earlier demo left: emulator state, Airflow's home and database, artifacts.

    A fresh database also means no run of an interrupted demo is still "running" and blocking this
    one (the release DAG allows one active run).
    """
    workdir = workdir.absolute()
    for stale in ("emulator-data", "airflow-home", "artifacts", "profiles"):
        shutil.rmtree(workdir / stale, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.dags_folder.is_dir():
        print(f"error: DAGs folder {args.dags_folder} does not exist", file=sys.stderr)
        return 2
    from airflow_provider_cx.demo.agents import (
        EmulatorAgents,
        create_stages,
        demo_change,
        emulator_connection,
        pipeline_config,
        sample_package,
    )
    from airflow_provider_cx.demo.emulator_process import EmulatorProcess, EmulatorStartError
    from airflow_provider_cx.demo.webhooks import (
        StageWebhooks,
        with_branch_lookup_test,
        with_webhook_uri,
        write_stage_profiles,
    )

    started = time.monotonic()
    workdir = prepare_workdir(args.workdir)
    ports = (
        StackPorts(api=args.port, worker_log_server=free_port(), trigger_log_server=free_port()) if args.port else None
    )
    api_key = secrets.token_hex(16)
    try:
        with (
            StageWebhooks(prod_api_key=api_key) as webhooks,
            EmulatorProcess(
                workdir / "emulator-data", operation_delay=OPERATION_DELAY, log_path=workdir / "emulator.log"
            ) as emulator,
        ):
            address = emulator.address
            if address is None:  # start() sets it or raises; this keeps the type checker informed
                raise EmulatorStartError("the emulator did not report its address")
            print(f"CX emulator at {address} (data in {emulator.data_dir})", flush=True)
            agents = EmulatorAgents(address)
            dev_changes = [demo_change(), with_webhook_uri(webhooks.url("dev")), with_branch_lookup_test()]
            stages = create_stages(agents, sample_package(dev_changes))
            agents.close()
            for stage in stages.values():
                print(f"  {stage.stage:<8} {stage.agent}  environment {stage.environment!r}", flush=True)
                print(f"           webhook backend {webhooks.url(stage.stage)}", flush=True)
            config = workdir / "cx_pipeline_config.json"
            artifacts = (workdir / "artifacts").as_uri()
            document = pipeline_config(
                stages, gcp_conn_id=CONN_ID, artifacts_base=artifacts, poll_interval=POLL_INTERVAL
            )
            for name, profile in write_stage_profiles(webhooks, workdir / "profiles").items():
                document["stages"][name]["profile"] = str(profile)
            config.write_text(json.dumps(document, indent=2))
            print(f"pipeline config: {config}\nstarting Airflow (home {workdir / 'airflow-home'}) ...", flush=True)
            with AirflowStack(
                args.dags_folder,
                workdir / "airflow-home",
                env={CONFIG_ENV: str(config)},
                connections={
                    CONN_ID: emulator_connection(address),
                    API_KEY_CONN_ID: {"conn_type": "http", "password": api_key},
                },
                ports=ports,
            ) as stack:
                client = stack.client()
                print(f"Airflow is up at {stack.api_url}", flush=True)
                client.wait_for_dag(DAG_ID)
                run = client.trigger(DAG_ID)
                print(f"triggered {DAG_ID} run {run.run_id}", flush=True)
                run = approve_until_done(client, run, args.timeout, reject=args.reject)
                print_report(stack, client, run, time.monotonic() - started, keep_running=args.keep_running)
                print_webhook_calls(webhooks.counts())
                if args.keep_running:
                    print("\nAirflow and the emulator keep running; press Ctrl-C to stop them.", flush=True)
                    with contextlib.suppress(KeyboardInterrupt):
                        stack.wait_while_alive()
                return 0 if run.state == "success" else 1
    except (StackError, AirflowAPIError, WaitTimeoutError, EmulatorStartError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; Airflow and the emulator stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
