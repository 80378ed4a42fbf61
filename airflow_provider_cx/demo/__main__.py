"""``python -m airflow_provider_cx.demo``: run a DAG through a real local Airflow, approving its HITL steps.

For now it runs a placeholder DAG; the release-promotion demo will take its place.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from airflow_provider_cx.demo.api import AirflowAPIClient, AirflowAPIError, DagRun, RunEndedError, WaitTimeoutError
from airflow_provider_cx.demo.stack import AirflowStack, StackError, StackPorts, free_port

PLACEHOLDER_DAGS = Path(__file__).parent / "placeholder_dags"
PLACEHOLDER_DAG_ID = "cx_demo_placeholder"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_cx.demo", description=__doc__)
    parser.add_argument("--dags-folder", type=Path, default=PLACEHOLDER_DAGS)
    parser.add_argument("--dag-id", default=PLACEHOLDER_DAG_ID)
    parser.add_argument("--home", type=Path, default=Path(".demo/airflow-home"), help="AIRFLOW_HOME to use")
    parser.add_argument("--conf", type=json.loads, default={}, help="DAG run conf as JSON")
    parser.add_argument("--port", type=int, default=0, help="API/UI port (default: a free one)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds the run may take")
    parser.add_argument("--keep-running", action="store_true", help="keep Airflow up after the run (Ctrl-C ends)")
    return parser.parse_args(argv)


def approve_until_done(client: AirflowAPIClient, run: DagRun, timeout: float) -> DagRun:
    """Approve each HITL step as it comes up; return the finished run."""
    while True:
        try:
            request = client.wait_for_hitl(run.dag_id, run.run_id, timeout=timeout)
        except RunEndedError:
            return client.wait_for_run(run.dag_id, run.run_id, timeout=60)
        print(f"  approving {request.task_id}: {request.subject}", flush=True)
        client.approve(request)


def report(stack: AirflowStack, client: AirflowAPIClient, run: DagRun) -> None:
    print(f"\nrun {run.run_id}: {run.state}")
    for ti in sorted(client.task_instances(run.dag_id, run.run_id), key=lambda ti: ti.start_date or "~"):
        print(f"  {ti.task_id:<32} {ti.state or 'not run'}")
    print(f"\nUI:   {stack.api_url}/dags/{run.dag_id}/runs/{run.run_id}")
    print(f"logs: {stack.home / 'logs'} (tasks), {stack.logs_dir} (components)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ports = None
    if args.port:
        ports = StackPorts(api=args.port, worker_log_server=free_port(), trigger_log_server=free_port())
    print(f"starting Airflow (home {args.home}, DAGs {args.dags_folder}) ...", flush=True)
    try:
        with AirflowStack(args.dags_folder, args.home, ports=ports) as stack:
            client = stack.client()
            print(f"Airflow is up at {stack.api_url}; waiting for DAG {args.dag_id} ...", flush=True)
            client.wait_for_dag(args.dag_id)
            run = client.trigger(args.dag_id, conf=args.conf)
            print(f"triggered {run.run_id}", flush=True)
            run = approve_until_done(client, run, args.timeout)
            report(stack, client, run)
            if args.keep_running:
                print("\nAirflow keeps running; press Ctrl-C to stop it.", flush=True)
                with contextlib.suppress(KeyboardInterrupt):
                    stack.wait_while_alive()
            return 0 if run.state == "success" else 1
    except (StackError, AirflowAPIError, WaitTimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; Airflow stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
