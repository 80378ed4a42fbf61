"""Stand-in for ``cx_release_promotion`` until the real pipeline lands: build, human approval, deploy."""

from __future__ import annotations

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, task

with DAG(dag_id="cx_demo_placeholder", schedule=None, catchup=False, tags=["cx-demo"]):

    @task
    def build() -> str:
        return "release-0"

    approval = ApprovalOperator(task_id="approve_release", subject="Promote {{ ti.xcom_pull('build') }}?")

    @task
    def deploy() -> str:
        return "deployed"

    build() >> approval >> deploy()
