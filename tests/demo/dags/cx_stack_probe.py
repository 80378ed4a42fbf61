"""A throwaway DAG that exercises every part of the local stack the e2e tests stand on.

``record_pids`` proves the task ran in a process forked by LocalExecutor's supervisor and saw the stack's
extra environment and connections (``CX_STACK_PROBE``, connection ``cx_probe``), ``wait_deferred``
defers to the triggerer and resumes on a worker, ``approval`` waits for a human answer given through the
REST API, and ``after_approval`` only runs if the answer was "Approve".
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk import DAG, BaseOperator, Connection, Param, task


class WaitInTriggerer(BaseOperator):
    """Defers for ``params.wait_seconds`` counted from the deferral itself (not from a slow task start)."""

    def execute(self, context: Any) -> None:
        delta = timedelta(seconds=context["params"]["wait_seconds"])
        self.defer(trigger=TimeDeltaTrigger(delta), method_name="resume")

    def resume(self, context: Any, event: Any = None) -> str:
        return "resumed on a worker"


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

    wait_deferred = WaitInTriggerer(task_id="wait_deferred")

    approval = ApprovalOperator(
        task_id="approval",
        subject="Let the probe finish?",
        body="Run {{ run_id }} is waiting for an answer from the API.",
    )

    @task
    def after_approval() -> str:
        return "approved"

    record_pids() >> wait_deferred >> approval >> after_approval()
