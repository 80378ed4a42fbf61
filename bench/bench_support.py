"""What the hardening benches share: an emulator in its own process, stock clients, a task context.

The emulator always runs as a separate process, so that what a bench measures in its own process (or
in the task processes it starts) is the client side only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CONN_ID = "cx_bench"
PARENT = "projects/bench-project/locations/global"
SAMPLE_AGENT = REPO / "airflow_provider_cx" / "sample_agent" / "acme-bank-support"


@contextmanager
def emulator_process(*args: str):
    """Start ``python -m airflow_provider_cx.emulator --port 0 ARGS``; yield its address; stop it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_cx.emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def use_airflow_home() -> None:
    """A throwaway AIRFLOW_HOME (set before Airflow is imported)."""
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="cx-bench-airflow-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")


def connection_env(address: str, conn_id: str = CONN_ID) -> dict[str, str]:
    """The environment variable defining an Airflow connection to the emulator at ``address``."""
    body = {"conn_type": "dialogflow_cx", "extra": {"emulator_host": address, "project": "bench-project"}}
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(body)}


def stock_client(address: str, client_cls: Any) -> Any:
    import grpc

    channel = grpc.insecure_channel(
        address, options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
    )
    return client_cls(transport=client_cls.get_transport_class("grpc")(channel=channel))


def admin_client(address: str) -> Any:
    import grpc

    from airflow_provider_cx.emulator.admin import AdminClient

    return AdminClient(grpc.insecure_channel(address))


def wait_for(operation: Any, timeout: float = 600.0) -> Any:
    from google.api_core.future.polling import DEFAULT_POLLING

    polling = DEFAULT_POLLING.with_delay(initial=0.02, maximum=0.2, multiplier=1.5).with_timeout(timeout)
    return operation.result(polling=polling)


def new_agent(address: str, content: bytes | None = None, display_name: str = "bench") -> str:
    """Create an agent on the emulator (restoring ``content`` into it when given); return its name."""
    import uuid

    from google.cloud import dialogflowcx_v3 as cx

    agents = stock_client(address, cx.AgentsClient)
    agent = cx.Agent(display_name=f"{display_name}-{uuid.uuid4().hex[:8]}", default_language_code="en", time_zone="UTC")
    name = agents.create_agent(parent=PARENT, agent=agent).name
    if content is not None:
        wait_for(agents.restore_agent(request={"name": name, "agent_content": content}))
    return name


@dataclass
class TaskInstance:
    """Stands in for ``context["ti"]`` of a worker: records XCom pushes."""

    task_id: str = "task"
    dag_id: str = "bench"
    run_id: str = "manual__bench"
    try_number: int = 1
    map_index: int = -1
    xcom: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value

    def xcom_pull(self, *args: Any, **kwargs: Any) -> Any:
        return None


def task_context(task: Any = None) -> dict[str, Any]:
    from airflow.sdk.execution_time.context import OutletEventAccessors

    ti = TaskInstance(task_id=getattr(task, "task_id", "task"))
    return {"ti": ti, "task_instance": ti, "task": task, "params": {}, "outlet_events": OutletEventAccessors()}


def sample_package_bytes() -> bytes:
    from airflow_provider_cx.package import read_package, write_zip

    return write_zip(read_package(SAMPLE_AGENT))
