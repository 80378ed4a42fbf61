"""The stack launcher's input checks, environment and failure reports (no running Airflow needed)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from airflow_provider_cx.demo.stack import (
    AirflowStack,
    StackConfigError,
    StackError,
    StackPorts,
    StackStartError,
    log_tail,
)

DAGS = Path(__file__).parent / "dags"
PORTS = StackPorts(api=41001, worker_log_server=41002, trigger_log_server=41003)


def test_a_missing_dags_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StackConfigError, match=r"DAGs folder .*nowhere does not exist"):
        AirflowStack(tmp_path / "nowhere", tmp_path / "home")


def test_a_home_that_is_a_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory")
    with pytest.raises(StackConfigError, match="is not a directory"):
        AirflowStack(DAGS, home)


def test_a_connection_id_that_cannot_be_an_env_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StackConfigError, match="'my conn'"):
        AirflowStack(DAGS, tmp_path, connections={"my conn": "generic://"})


def test_urls_and_environment_need_ports(tmp_path: Path) -> None:
    stack = AirflowStack(DAGS, tmp_path)
    with pytest.raises(StackError, match="not been started"):
        _ = stack.api_url
    with pytest.raises(StackError, match="not been started"):
        stack.environment()


def test_environment_drops_the_callers_airflow_settings_and_adds_the_stacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "1")
    monkeypatch.setenv("AIRFLOW_CONN_LEAKED", "generic://leaked")
    monkeypatch.setenv("CX_UNRELATED", "kept")
    stack = AirflowStack(
        DAGS,
        tmp_path / "home",
        env={"DIALOGFLOW_CX_EMULATOR_HOST": "127.0.0.1:9999", "AIRFLOW__CORE__PARALLELISM": "4"},
        connections={"cx_dev": "google-cloud-platform://?project=dev", "cx_prod": {"conn_type": "generic"}},
        ports=PORTS,
    )

    env = stack.environment()

    assert stack.api_url == "http://127.0.0.1:41001"
    assert env["AIRFLOW__API__BASE_URL"] == stack.api_url
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:41001/execution/"
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "41002"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "41003"
    assert env["AIRFLOW_HOME"] == str(tmp_path / "home")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(DAGS.resolve())
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__UNIT_TEST_MODE"] == "False"  # conftest sets True for in-process tests
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4"  # the caller's own value is gone, `env` wins
    assert "AIRFLOW_CONN_LEAKED" not in env
    assert env["CX_UNRELATED"] == "kept"
    assert env["DIALOGFLOW_CX_EMULATOR_HOST"] == "127.0.0.1:9999"
    assert env["AIRFLOW_CONN_CX_DEV"] == "google-cloud-platform://?project=dev"
    assert json.loads(env["AIRFLOW_CONN_CX_PROD"]) == {"conn_type": "generic"}


def test_picked_ports_are_distinct() -> None:
    ports = StackPorts.pick()
    assert len({ports.api, ports.worker_log_server, ports.trigger_log_server}) == 3


def test_a_fixed_port_in_use_is_reported_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        stack = AirflowStack(DAGS, tmp_path / "home", ports=StackPorts(taken, PORTS.worker_log_server, 41004))
        with pytest.raises(StackStartError, match=f"port {taken} on 127.0.0.1 is in use"):
            stack.start()
    assert not (tmp_path / "home").exists()


def test_a_failed_migration_is_reported_with_its_last_log_lines(tmp_path: Path) -> None:
    stack = AirflowStack(
        DAGS,
        tmp_path / "home",
        env={"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/no/such/dir/airflow.db"},
    )
    with pytest.raises(StackStartError, match=r"(?s)`airflow db migrate` failed .*db-migrate\.log.*last lines:\n.+"):
        stack.start()
    assert stack.stack_processes() == []


def test_log_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert log_tail(log, 3) == "line 97\nline 98\nline 99"
    assert log_tail(tmp_path / "missing.log") == ""


def test_unknown_component_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StackConfigError, match="'webserver'"):
        AirflowStack(DAGS, tmp_path).log_path("webserver")
