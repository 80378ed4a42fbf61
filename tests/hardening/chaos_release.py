"""Run ``cx_release_promotion`` once under ``dag.test()`` and print its outcome as one JSON line.

Started by ``test_chaos.py`` in a fresh interpreter whose environment names its own AIRFLOW_HOME
(a migrated sqlite DB), the repository's dags/, the pipeline config and the emulator connection.
Tasks run in this process (deferrals included, through dag.test's inline triggerer).

The approval is answered as a person answers it: through Airflow's public REST API (``PATCH
.../hitlDetails``, what the Required Actions UI sends), served here by Airflow's own API app on a local
port and logged into as a named user. In Airflow 3.3 ``ApprovalOperator`` parks its task in
``awaiting_input`` and ``dag.test()`` waits until a response recorded in the metadata DB flips it back
to scheduled; the API's handler does exactly that, so the task resumes in ``execute_complete`` with
the answer. The outcome line reports what was answered and what the approval task returned.

    python chaos_release.py <release_id>
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

APPROVAL_TASK = "approve_prod"
APPROVER = "release-manager"
#: Longest wait for the approval request; the whole run is bounded by the test's own timeout.
APPROVAL_TIMEOUT = 240.0
#: Longest wait for the API server to answer its health endpoint. Building the app takes seconds on an
#: idle machine but passed a fixed 60 s twice on a loaded 2-core CI machine; the wait ends as soon as the
#: server answers, or at once if its thread died, so a generous budget costs nothing when all is well.
SERVER_START_TIMEOUT = float(os.environ.get("CX_CHAOS_SERVER_START_TIMEOUT", "300"))


class Stopped(Exception):
    """The run ended: the approver stops waiting."""


def log_in_as_approver(home: Path) -> str:
    """Configure the simple auth manager with one named user (before Airflow reads its config); its password."""
    password = secrets.token_urlsafe(16)
    passwords_file = home / "approver-passwords.json"
    passwords_file.write_text(json.dumps({APPROVER: password}))
    os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = f"{APPROVER}:admin"
    os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(passwords_file)
    os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "False"
    os.environ["AIRFLOW__API__HOST"] = "127.0.0.1"  # where it listens (and what the auth manager checks)
    return password


class LocalAPIServer:
    """Airflow's REST API (core app) served by uvicorn from a thread on a free local port.

    :meth:`start` builds the app in the calling thread, before ``dag.test()`` begins: built in the
    server thread while the run's tasks used the same metadata database, the server twice never
    reported started on a loaded CI machine (300 s). Serving then runs in its own thread.
    """

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server: Any = None
        self.error: str | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> None:
        import uvicorn
        from airflow.api_fastapi.app import create_app

        self.server = uvicorn.Server(uvicorn.Config(create_app("core"), log_level="warning"))
        self.thread.start()

    def _serve(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException:  # surfaced by wait_ready with the end of its traceback (uvicorn exits on failure)
            self.error = traceback.format_exc()

    def wait_ready(self, timeout: float, stopped: threading.Event) -> None:
        """Return once the server answers ``/api/v2/monitor/health``; fail at once if its thread died.

        Raises :class:`Stopped` if the run ended first, RuntimeError naming the cause otherwise.
        """
        from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

        started = time.monotonic()
        last_answer = ["no answer yet"]

        def ready() -> bool:
            if stopped.is_set():
                raise Stopped
            if self.error or not self.thread.is_alive():
                tail = "\n".join((self.error or "the thread ended without an error").splitlines()[-15:])
                raise RuntimeError(f"the API server failed to start:\n{tail}")
            if self.server is None or not self.server.started:
                return False
            last_answer[0] = self._health()
            return last_answer[0] == "200"

        def give_up(_: Any) -> None:
            raise RuntimeError(
                f"the API server did not answer {self.base_url}/api/v2/monitor/health within {timeout:.0f} s "
                f"(last answer: {last_answer[0]}; set CX_CHAOS_SERVER_START_TIMEOUT for a slower machine)"
            )

        Retrying(
            retry=retry_if_result(lambda answered: not answered),
            stop=stop_after_delay(timeout),
            wait=wait_fixed(0.25),
            retry_error_callback=give_up,
        )(ready)
        print(f"approver: API server ready after {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)

    def _health(self) -> str:
        """The health endpoint's HTTP status, or why it did not answer."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=10) as response:
                return str(response.status)
        except urllib.error.HTTPError as error:
            return str(error.code)
        except (urllib.error.URLError, OSError) as error:
            return f"{type(error).__name__}: {error}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


class Approver:
    """Waits for the run's approval request and approves it through the REST API, in a thread."""

    def __init__(self, api: LocalAPIServer, password: str, dag_id: str, run_id: str) -> None:
        from airflow_provider_cx.demo.api import AirflowAPIClient

        self.api = api
        self.stopped = threading.Event()
        self.client = AirflowAPIClient(api.base_url, username=APPROVER, password=password, liveness_check=self._check)
        self.dag_id, self.run_id = dag_id, run_id
        self.answer: dict[str, Any] | None = None
        self.error: str | None = None
        self.thread = threading.Thread(target=self._approve, daemon=True)

    def _check(self) -> None:
        if self.stopped.is_set():
            raise Stopped

    def _approve(self) -> None:
        # No settling delay: dag.test() has no scheduler that could race an early answer.
        try:
            self.api.wait_ready(SERVER_START_TIMEOUT, self.stopped)
            self._wait_for_run()
            request = self.client.wait_for_hitl(
                self.dag_id, self.run_id, APPROVAL_TASK, timeout=APPROVAL_TIMEOUT, poll_interval=0.5, settle_seconds=0
            )
            self.answer = self.client.approve(request)
        except Stopped:
            pass  # the run ended without asking (a gate failed first)
        except Exception as error:  # reported in the outcome line, which the test checks
            self.error = f"{type(error).__name__}: {error}"
            print(f"approver: {self.error}", file=sys.stderr, flush=True)

    def _wait_for_run(self) -> None:
        """Until dag.test() has created the run: the server may answer before it exists (404 until then)."""
        from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

        from airflow_provider_cx.demo.api import AirflowAPIError

        def missing(error: BaseException) -> bool:
            return isinstance(error, AirflowAPIError) and error.status == 404 and not self.stopped.is_set()

        Retrying(
            retry=retry_if_exception(missing),
            stop=stop_after_delay(APPROVAL_TIMEOUT),
            wait=wait_fixed(0.5),
            reraise=True,
        )(self.client.dag_run, self.dag_id, self.run_id)

    def approval_result(self) -> Any:
        """What the approval task returned (its XCom), or None if it never completed."""
        from airflow_provider_cx.demo.api import AirflowAPIError

        if self.api.server is None or not self.api.server.started:
            return None
        try:
            return self.client.xcom(self.dag_id, self.run_id, APPROVAL_TASK)
        except AirflowAPIError as error:
            if error.status == 404:
                return None
            raise


def main(release_id: str) -> None:
    password = log_in_as_approver(Path(os.environ["AIRFLOW_HOME"]))
    sys.path.insert(0, os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    import cx_release_promotion
    from airflow.models.dagrun import DagRun
    from airflow.sdk import timezone
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    dag = cx_release_promotion.export_dev.dag  # the file builds its DAG in a bare ``with`` block
    retries = sorted({task.retries for task in dag.tasks})
    # The run id dag.test() will give the run, so the approver knows where to look.
    moment = timezone.utcnow()
    run_id = DagRun.generate_run_id(run_type=DagRunType.MANUAL, logical_date=moment, run_after=moment)
    api = LocalAPIServer()
    api.start()
    approver = Approver(api, password, dag.dag_id, run_id)
    approver.thread.start()
    try:
        run = dag.test(run_conf={"release_id": release_id}, logical_date=moment, run_after=moment)
    finally:
        approver.stopped.set()
        approver.thread.join(timeout=30)
    try:
        approval = {"answer": approver.answer, "error": approver.error, "task_result": approver.approval_result()}
    finally:
        api.stop()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    print(
        "CHAOS-RESULT "
        + json.dumps(
            {
                "run_id": run.run_id,
                "state": str(run.state),
                "succeeded": run.state == DagRunState.SUCCESS,
                "task_states": states,
                "task_retries": retries,
                "approval": approval,
            },
            default=str,
        ),
        flush=True,
    )


if __name__ == "__main__":
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    main(sys.argv[1])
