"""cx_agent_backup: export every configured agent's draft and environments, keeping the newest few.

One export task per target agent and per environment it lists, plus its draft. Each writes
``<artifacts_base>/backups/<target>/<environment or draft>/<run time>/agent.zip`` and updates an Airflow
Asset named ``cx_backup.<target>.<environment or draft>`` (its URI is that backup folder), so other DAGs
can run after a fresh backup::

    from cx_pipeline_config import load_config
    with DAG(..., schedule=[load_config().backup_asset("prod", "production")]): ...

Then the oldest backups beyond ``backup.keep_last`` are deleted from each folder.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, task
from cx_pipeline_config import DRAFT, load_config, slug

from airflow_provider_cx.operators.export_agent import CXExportAgentOperator

CONFIG = load_config()
#: (target key, environment display name or None for the draft) for every backup this DAG takes.
BACKUPS = [(t.key, env) for t in CONFIG.targets for env in (None, *t.environments)]


@task(trigger_rule="all_done")
def prune_backups(keep_last: int) -> dict[str, list[str]]:
    """Delete each backup folder's oldest run folders beyond the newest ``keep_last``; return what went.

    Each folder is listed and pruned with its target's connection, so ``gs://`` backups use the
    pipeline's credentials rather than whatever the worker's environment provides.
    """
    from cx_pipeline_results import backups_to_prune

    from airflow_provider_cx import storage

    pruned: dict[str, list[str]] = {}
    for key, environment in BACKUPS:
        folder = CONFIG.backup_folder(key, environment)
        conn_id = CONFIG.target(key).gcp_conn_id
        runs = storage.list_folders(folder, conn_id)
        if not runs:
            continue
        names = backups_to_prune(runs, keep_last)
        for name in names:
            storage.delete_folder(storage.join(folder, name), conn_id)
        pruned[folder] = names
    return pruned


with DAG(
    dag_id="cx_agent_backup",
    description="Export every configured CX agent and environment, with retention; updates backup Assets",
    doc_md=__doc__,
    schedule=CONFIG.backup.schedule,
    catchup=False,
    max_active_runs=1,
    default_args={"retries": CONFIG.task_retries, "retry_delay": timedelta(seconds=30)},
    tags=["dialogflow-cx", "backup"],
) as dag:
    exports: list[Any] = []
    for key, environment in BACKUPS:
        target = CONFIG.target(key)
        exports.append(
            CXExportAgentOperator(
                task_id=f"export_{slug(key)}_{slug(environment or DRAFT)}",
                agent=target.agent,
                environment=environment,
                gcp_conn_id=target.gcp_conn_id,
                destination=CONFIG.backup_folder(key, environment) + "/{{ dag_run.run_after | ts_nodash }}/agent.zip",
                outlets=[CONFIG.backup_asset(key, environment)],
                poll_interval=CONFIG.poll_interval,
            )
        )
    exports >> prune_backups(CONFIG.backup.keep_last)
