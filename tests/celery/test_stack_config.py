"""AirflowStack with CeleryExecutor: the environment and components it would start (no running Airflow needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_cx.demo.stack import AirflowStack, CeleryWorkers, StackConfigError, StackPorts

DAGS = Path(__file__).resolve().parents[1] / "demo" / "dags"
PORTS = StackPorts(api=41011, worker_log_server=41012, trigger_log_server=41013)
DATABASE = "postgresql+psycopg2://airflow@127.0.0.1:5999/postgres"


def test_celery_workers_are_components_with_the_broker_and_database_in_their_environment(tmp_path: Path) -> None:
    stack = AirflowStack(
        DAGS,
        tmp_path / "home",
        ports=PORTS,
        database_url=DATABASE,
        celery=CeleryWorkers(broker_url="redis://127.0.0.1:6999/0", count=2, concurrency=3),
    )
    env = stack.environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == DATABASE
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6999/0"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + DATABASE
    assert env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "3"
    assert stack.component_names[-2:] == ("celery-worker-1", "celery-worker-2")
    assert stack.log_path("celery-worker-2") == stack.logs_dir / "celery-worker-2.log"
    with pytest.raises(StackConfigError, match="'celery-worker-3'"):
        stack.log_path("celery-worker-3")


def test_without_celery_the_stack_keeps_local_executor_and_sqlite(tmp_path: Path) -> None:
    stack = AirflowStack(DAGS, tmp_path / "home", ports=PORTS)
    env = stack.environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite:///")
    assert not any(key.startswith("AIRFLOW__CELERY__") for key in env)
    assert "celery-worker-1" not in stack.component_names
