"""Run ``cx_release_promotion`` once under ``dag.test()`` and print its outcome as one JSON line.

Started by ``test_chaos.py`` in a fresh interpreter whose environment names its own AIRFLOW_HOME
(a migrated sqlite DB), the repository's dags/, the pipeline config and the emulator connection.
Tasks run in this process (deferrals included, through dag.test's inline triggerer); the approval
is the only task not executed: ``mark_success_pattern`` approves it, as a human would.

    python chaos_release.py <release_id>
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

APPROVAL_TASK = "approve_prod"


def main(release_id: str) -> None:
    sys.path.insert(0, os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    import cx_release_promotion
    from airflow.utils.state import DagRunState

    dag = cx_release_promotion.export_dev.dag  # the file builds its DAG in a bare ``with`` block
    retries = sorted({task.retries for task in dag.tasks})
    run = dag.test(run_conf={"release_id": release_id}, mark_success_pattern=APPROVAL_TASK)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    print(
        "CHAOS-RESULT "
        + json.dumps(
            {
                "state": str(run.state),
                "succeeded": run.state == DagRunState.SUCCESS,
                "task_states": states,
                "task_retries": retries,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    main(sys.argv[1])
