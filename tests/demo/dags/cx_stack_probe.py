"""A throwaway DAG that exercises every part of the local stack the e2e tests stand on.

``record_pids`` proves the task ran in a process forked by LocalExecutor's supervisor and saw the stack's
extra environment and connections (``CX_STACK_PROBE``, connection ``cx_probe``), ``wait_deferred``
defers to the triggerer and resumes on a worker, ``approval`` waits for a human answer given through the
REST API, and ``after_approval`` only runs if the answer was "Approve".
"""

from __future__ import annotations

import os
import time

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import DAG, Connection, Param, task

with DAG(
    dag_id="cx_stack_probe",
    schedule=None,
    catchup=False,
    params={
        "wait_seconds": Param(6, type="integer", minimum=0),
        "hold_seconds": Param(0, type="integer", minimum=0),
    },
    tags=["cx-test"],
):

    @task
    def record_pids(params: dict[str, int] | None = None) -> dict[str, int | str]:
        import psutil

        parent = psutil.Process(os.getppid())
        time.sleep((params or {}).get("hold_seconds", 0))  # lets a test find this process still running
        return {
            "pid": os.getpid(),
            "ppid": parent.pid,
            "parent_ppid": parent.ppid(),
            "parent_cmdline": " ".join(parent.cmdline()),
            "cwd": os.getcwd(),
            "probe_env": os.environ.get("CX_STACK_PROBE", ""),
            "probe_conn_host": Connection.get("cx_probe").host or "",
        }

    wait_deferred = DateTimeSensorAsync(
        task_id="wait_deferred",
        target_time="{{ (ti.start_date + macros.timedelta(seconds=params.wait_seconds)).isoformat() }}",
    )

    approval = ApprovalOperator(
        task_id="approval",
        subject="Let the probe finish?",
        body="Run {{ run_id }} is waiting for an answer from the API.",
    )

    @task
    def after_approval() -> str:
        return "approved"

    record_pids() >> wait_deferred >> approval >> after_approval()
