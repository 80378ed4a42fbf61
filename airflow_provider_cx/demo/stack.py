"""A real local Airflow (SQLite, LocalExecutor) as four separate processes, for the demo and the e2e tests.

``AirflowStack`` runs ``airflow db migrate``, then starts the scheduler, dag-processor, triggerer and API
server, each in its own process group with its output in ``<home>/stack-logs/<component>.log``, and waits
until ``/api/v2/monitor/health`` reports every one of them healthy and the Execution API has answered
once (which builds it). Leaving the ``with`` block (normally, on an exception, on KeyboardInterrupt, or
on SIGTERM while in the main thread) stops them all, and then every other process the stack started that
still runs, task processes included (see ``processes``).

Environment given to every component. The parent's ``AIRFLOW_*`` variables are dropped first, so a test
runner's settings (``AIRFLOW_HOME``, ``AIRFLOW__CORE__UNIT_TEST_MODE``...) never leak in; ``env`` and
``connections`` are applied last and win over everything below.

- ``AIRFLOW_HOME``: the given home; ``airflow db migrate`` writes ``airflow.cfg`` there with random
  ``fernet_key``, ``secret_key`` and ``jwt_secret``, which all four components then share.
- ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``: ``sqlite:///<home>/airflow.db``, so nothing outside the
  home is touched.
- ``AIRFLOW__CORE__EXECUTOR=LocalExecutor``: tasks run in processes forked from the supervisor, as in
  production, unlike ``airflow dags test``.
- ``AIRFLOW__CORE__DAGS_FOLDER``: the given DAGs folder.
- ``AIRFLOW__CORE__LOAD_EXAMPLES=False``: example DAGs cost parse time and clutter the UI.
- ``AIRFLOW__CORE__UNIT_TEST_MODE=False``: pytest's conftest sets it for in-process tests; a real stack
  must not run in that mode.
- ``AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False``: a triggered run starts without an unpause call.
- ``AIRFLOW__CORE__AUTH_MANAGER`` (simple auth manager) and
  ``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True``: every request is an admin; ``GET /auth/token``
  hands out a token without credentials (the client uses it; the API would also accept none).
- ``AIRFLOW__API__HOST``, ``AIRFLOW__API__PORT``: the API server listens on a free port of
  127.0.0.1 chosen at start (8080 may be taken, and 8793 is the scheduler's log server).
- ``AIRFLOW__API__BASE_URL``: that address, so links and HITL "required actions" URLs point at it.
- ``AIRFLOW__CORE__EXECUTION_API_SERVER_URL``: ``<base url>/execution/``; task supervisors talk to the
  Execution API there, and the default assumes port 8080.
- ``AIRFLOW__API__WORKERS=1``: one uvicorn worker is plenty locally and spares the 2 CPUs.
- ``AIRFLOW__CORE__PARALLELISM=8``: LocalExecutor forks this many workers at once on the first task
  (32 by default); 8 parallel tasks are more than 2 CPUs can use.
- ``AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT``, ``AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT``: free
  ports instead of 8793/8794, so two stacks (demo and tests) can run side by side.
- ``AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=False``: its server would bind the fixed port 8974.
- ``AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=3``: new DAG files are found within seconds, not 5 min.
- ``AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=10``: edited DAG files are re-parsed soon, without
  re-parsing everything every second on 2 CPUs.
- ``AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME=0.5``: queued work is picked up sooner.
- ``AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC=2``, ``AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC=2``: the
  health endpoint reports the components healthy sooner after start.
- ``AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL=1``: a task supervisor notices its task process has exited
  within a second instead of up to 5 s, so each task's slot frees sooner and the next task of the
  (strictly sequential) release starts sooner. It is kept for that speed only: the Airflow 3.3 race in
  which a task resumed quickly after deferring is failed by the stale "success" of the process that
  deferred (apache/airflow#71580) is closed by CXOperationTrigger's minimum deferral, not by this.
- ``AIRFLOW__LOGGING__COLORED_CONSOLE_LOG=False``: no ANSI escapes in the log files.
- ``PYTHONUNBUFFERED=1``: log files are current when a component dies, so its last lines explain why.
- ``CX_AIRFLOW_STACK_ID``: a random marker of this stack's processes; at stop those still alive are killed.

With ``celery=CeleryWorkers(broker_url)`` (and a ``database_url`` many processes can share, e.g.
PostgreSQL) the stack runs CeleryExecutor instead: ``AIRFLOW__CORE__EXECUTOR=CeleryExecutor``,
``AIRFLOW__CELERY__BROKER_URL``, ``AIRFLOW__CELERY__RESULT_BACKEND`` (``db+`` the database),
``AIRFLOW__CELERY__WORKER_CONCURRENCY``, and ``count`` more components, ``celery-worker-<n>``, each
``airflow celery worker --celery-hostname worker-<n>@%h --skip-serve-logs`` (two log servers on one host
would need two ports; the task logs are files under the home) in a working directory of its own,
``<home>/workers/worker-<n>``, so nothing but the configured storage is shared between them.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from airflow_provider_cx.demo.processes import ProcessTracker, shut_down, terminate

if TYPE_CHECKING:
    from airflow_provider_cx.demo.api import AirflowAPIClient

COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")
HEALTH_KEYS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
STACK_MARKER_ENV = "CX_AIRFLOW_STACK_ID"
LOG_TAIL_LINES = 30
#: Seconds the four components get to report healthy. About 30 s on an idle machine, well over 60 s on a
#: loaded 2-core CI machine; the wait ends as soon as all are healthy, or at once if one dies.
STARTUP_TIMEOUT = 300.0


@dataclass(frozen=True)
class CeleryWorkers:
    """Run the stack with CeleryExecutor and ``count`` workers on ``broker_url`` (e.g. ``redis://...``)."""

    broker_url: str
    count: int = 2
    concurrency: int = 2

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"celery-worker-{index}" for index in range(1, self.count + 1))


class StackError(Exception):
    """Base class for failures of the local Airflow stack."""


class StackConfigError(StackError, ValueError):
    """The stack was given input it cannot run with (e.g. a DAGs folder that does not exist)."""


class StackStartError(StackError):
    """The stack did not come up: migration failed or the components never reported healthy."""


class ComponentDiedError(StackError):
    """An Airflow component exited while the stack was supposed to be running."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file (empty if it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class StackPorts:
    """The ports one stack listens on, all chosen free at start."""

    api: int
    worker_log_server: int
    trigger_log_server: int

    @classmethod
    def pick(cls, host: str = "127.0.0.1") -> StackPorts:
        ports: set[int] = set()
        while len(ports) < 3:
            ports.add(free_port(host))
        api, worker_log, trigger_log = sorted(ports)
        return cls(api=api, worker_log_server=worker_log, trigger_log_server=trigger_log)


@dataclass
class _Component:
    name: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = field(default=None, repr=False)

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()


class AirflowStack:
    """A real local Airflow: ``with AirflowStack(dags, home) as stack: stack.client().trigger(...)``.

    :param dags_folder: folder with the DAG files to serve.
    :param home: AIRFLOW_HOME (created if missing; holds airflow.cfg, airflow.db, logs, stack-logs/).
    :param env: extra environment for every component, e.g. ``{"DIALOGFLOW_CX_EMULATOR_HOST": ...}``.
    :param connections: Airflow connections by id, as URI strings or dicts; exported as
        ``AIRFLOW_CONN_<ID>`` (dicts as JSON).
    :param startup_timeout: seconds to wait for all components to report healthy.
    :param python: interpreter that has Airflow installed (default: the current one).
    :param host: interface the API server binds to.
    :param ports: fixed ports (e.g. the API on 8080 for a stable UI address); default: free ones at start.
    :param database_url: SQLAlchemy URL of the metadata database (default: SQLite in the home).
    :param celery: run CeleryExecutor with these workers instead of LocalExecutor.
    """

    def __init__(
        self,
        dags_folder: str | os.PathLike[str],
        home: str | os.PathLike[str],
        *,
        env: Mapping[str, str] | None = None,
        connections: Mapping[str, str | Mapping[str, Any]] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        python: str | os.PathLike[str] = sys.executable,
        host: str = "127.0.0.1",
        ports: StackPorts | None = None,
        database_url: str | None = None,
        celery: CeleryWorkers | None = None,
    ) -> None:
        self.dags_folder = Path(dags_folder).resolve()
        self.home = Path(home).resolve()
        self.extra_env = dict(env or {})
        self.connections = dict(connections or {})
        self.startup_timeout = startup_timeout
        self.python = str(python)
        self.host = host
        self.stack_id = secrets.token_hex(8)
        self.ports = ports
        self.database_url = database_url
        self.celery = celery
        self.component_names: tuple[str, ...] = COMPONENTS + (celery.names if celery else ())
        self._fixed_ports = ports is not None
        self._components: dict[str, _Component] = {}
        self._previous_sigterm: Any = None
        self._processes = ProcessTracker(STACK_MARKER_ENV, self.stack_id, self.workdir)
        self._validate()

    # -- public API ---------------------------------------------------------------------------------

    @property
    def logs_dir(self) -> Path:
        """Where each component's stdout/stderr goes (``<name>.log``), and ``db-migrate.log``."""
        return self.home / "stack-logs"

    @property
    def workdir(self) -> Path:
        """The components' working directory; a process started after the stack with this cwd is the stack's."""
        return self.home / ".stack-cwd"

    @property
    def api_url(self) -> str:
        """Base URL of the API server and UI, e.g. ``http://127.0.0.1:38123``."""
        if self.ports is None:
            raise StackError("the stack has not been started; its API port is chosen at start()")
        return f"http://{self.host}:{self.ports.api}"

    def log_path(self, component: str) -> Path:
        """The log file of one component (one of ``component_names``)."""
        if component not in self.component_names:
            raise StackConfigError(f"unknown Airflow component {component!r}; expected one of {self.component_names}")
        return self.logs_dir / f"{component}.log"

    def pid(self, component: str) -> int:
        """Process id of a running component (the process started by the stack)."""
        started = self._components.get(component)
        if started is None or started.process is None:
            raise StackError(f"Airflow {component} is not running in this stack")
        return started.process.pid

    def environment(self) -> dict[str, str]:
        """The full environment the components run with (also right for one-off ``airflow`` CLI calls)."""
        if self.ports is None:
            raise StackError("the stack has not been started; its environment depends on ports chosen at start()")
        return self._environment(self.ports)

    def run_cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` against this stack's home and database; output is captured."""
        return subprocess.run(
            [self.python, "-m", "airflow", *args],
            env=self.environment(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def client(self, **kwargs: Any) -> AirflowAPIClient:
        """A REST client for this stack whose waits fail fast when a component dies."""
        from airflow_provider_cx.demo.api import AirflowAPIClient

        kwargs.setdefault("liveness_check", self.check_alive)
        return AirflowAPIClient(self.api_url, **kwargs)

    def start(self) -> None:
        """Migrate the database, start the four components and wait until all report healthy."""
        if self._components:
            raise StackError("the stack is already started")
        if self._fixed_ports:
            self._check_ports_free()
        else:
            self.ports = StackPorts.pick(self.host)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._processes.begin()
        self._install_sigterm_handler()
        try:
            self._migrate()
            for name in self.component_names:
                self._spawn(name)
            self._wait_healthy()
            self._wait_workers_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self, grace: float = 5.0) -> None:
        """Stop every component, then kill whatever this stack started that still runs. Idempotent.

        Running task processes go first (SIGTERM so ``on_kill`` runs, SIGKILL after ``grace`` seconds),
        the API server last: task supervisors report final states through it and would otherwise retry
        for minutes. Components get SIGTERM, after ``grace`` seconds a second SIGTERM (Airflow's scheduler
        and triggerer read it as "stop waiting for tasks/triggers"), then SIGKILL.
        """
        try:
            self._remember_descendants()
            started = {name: c.process for name, c in self._components.items() if c.process is not None}
            groups = [process.pid for process in started.values()]
            # Running tasks sit in process groups of their own, and the task runner's SIGTERM handler only
            # calls on_kill(): they need a SIGKILL, else the scheduler waits for them.
            terminate(self._processes.alive(outside_groups=groups), grace)
            shut_down([process for name, process in started.items() if name != "api-server"], grace)
            terminate(self._processes.alive(outside_groups=groups), grace)
            shut_down([process for name, process in started.items() if name == "api-server"], grace)
            terminate(self._processes.alive(), grace)
        finally:
            for component in self._components.values():
                if component.log_file is not None:
                    component.log_file.close()
            self._components = {}
            self._restore_sigterm_handler()

    def check_alive(self) -> None:
        """Raise ``ComponentDiedError`` (with the component's last log lines) if any component exited."""
        self._remember_descendants()
        for component in self._components.values():
            code = component.exit_code()
            if code is not None:
                raise ComponentDiedError(_died_message(component, code))

    def wait_while_alive(self, poll_interval: float = 1.0) -> None:
        """Block while all components run (e.g. to keep the UI up); raises ``ComponentDiedError`` if one exits."""
        while True:
            self.check_alive()
            time.sleep(poll_interval)

    def stack_processes(self) -> list[int]:
        """Pids of live processes this stack started: components and all they spawned that it has seen."""
        self._remember_descendants()
        return sorted(proc.pid for proc in self._processes.alive())

    def __enter__(self) -> AirflowStack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------------------

    def _validate(self) -> None:
        if not self.dags_folder.is_dir():
            raise StackConfigError(f"DAGs folder {self.dags_folder} does not exist or is not a directory")
        if self.home.exists() and not self.home.is_dir():
            raise StackConfigError(f"AIRFLOW_HOME {self.home} exists and is not a directory")
        for conn_id in self.connections:
            if not conn_id or not conn_id.replace("_", "").replace("-", "").isalnum():
                raise StackConfigError(f"connection id {conn_id!r} cannot be exported as AIRFLOW_CONN_<ID>")

    def _check_ports_free(self) -> None:
        assert self.ports is not None
        for port in (self.ports.api, self.ports.worker_log_server, self.ports.trigger_log_server):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # only a listener counts as "in use"
                try:
                    sock.bind((self.host, port))
                except OSError as exc:
                    raise StackStartError(f"port {port} on {self.host} is in use ({exc}); choose other ports") from None

    def _environment(self, ports: StackPorts) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        base_url = f"http://{self.host}:{ports.api}"
        database_url = self.database_url or f"sqlite:///{self.home / 'airflow.db'}"
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor" if self.celery else "LocalExecutor",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API__HOST": self.host,
                "AIRFLOW__API__PORT": str(ports.api),
                "AIRFLOW__API__BASE_URL": base_url,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports.worker_log_server),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports.trigger_log_server),
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "3",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
                "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
                "PYTHONUNBUFFERED": "1",
                STACK_MARKER_ENV: self.stack_id,
            }
        )
        if self.celery:
            env.update(
                {
                    "AIRFLOW__CELERY__BROKER_URL": self.celery.broker_url,
                    "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + database_url,
                    "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.celery.concurrency),
                }
            )
        env.update(self.extra_env)
        for conn_id, value in self.connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = value if isinstance(value, str) else json.dumps(value)
        return env

    def _migrate(self) -> None:
        log_path = self.logs_dir / "db-migrate.log"
        with log_path.open("wb") as log_file:
            try:
                result = subprocess.run(
                    [self.python, "-m", "airflow", "db", "migrate"],
                    env=self.environment(),
                    cwd=self.workdir,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    timeout=300,
                    check=False,
                    start_new_session=True,
                )
            except subprocess.TimeoutExpired as exc:
                raise StackStartError(f"`airflow db migrate` took over 300 s; see {log_path}") from exc
        if result.returncode != 0:
            raise StackStartError(
                f"`airflow db migrate` failed with exit code {result.returncode} (log: {log_path}); "
                f"last lines:\n{log_tail(log_path)}"
            )

    def _spawn(self, name: str) -> None:
        assert self.ports is not None
        argv = [self.python, "-m", "airflow", name]
        cwd = self.workdir
        if name == "api-server":
            argv += ["--host", self.host, "--port", str(self.ports.api)]
        if name.startswith("celery-worker-"):
            worker = name.removeprefix("celery-")
            argv = [self.python, "-m", "airflow", "celery", "worker", "--skip-serve-logs"]
            argv += ["--celery-hostname", f"{worker}@%h"]
            cwd = self.home / "workers" / worker
            cwd.mkdir(parents=True, exist_ok=True)
        component = _Component(name=name, log_path=self.log_path(name))
        component.log_file = component.log_path.open("ab")
        self._components[name] = component
        # A session of its own: Ctrl-C in a terminal reaches only us, and we stop the stack in order.
        component.process = subprocess.Popen(
            argv,
            env=self.environment(),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=component.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _wait_healthy(self) -> None:
        last_answer: list[dict[str, Any] | str] = ["no answer yet"]
        warm_up: list[Future[None]] = []
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warm-execution-api")

        def all_healthy() -> bool:
            self.check_alive()
            health = last_answer[0] = self._read_health()
            if isinstance(health, dict) and not warm_up:  # the API server is up: warm up while others start
                warm_up.append(pool.submit(self._warm_execution_api))
            return isinstance(health, dict) and all(
                (health.get(key) or {}).get("status") == "healthy" for key in HEALTH_KEYS
            )

        def give_up(_: Any) -> None:
            tails = "\n".join(
                f"--- {component.name} ({component.log_path}):\n{log_tail(component.log_path, 10)}"
                for component in self._components.values()
            )
            raise StackStartError(
                f"Airflow did not report healthy within {self.startup_timeout:.0f} s; "
                f"last health answer: {last_answer[0]}\n{tails}"
            )

        try:
            Retrying(
                retry=retry_if_result(lambda healthy: not healthy),
                stop=stop_after_delay(self.startup_timeout),
                wait=wait_fixed(0.5),
                retry_error_callback=give_up,
            )(all_healthy)
            warm_up[0].result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _wait_workers_ready(self) -> None:
        """Wait until every Celery worker logs ``ready``: only then does it take tasks off the broker."""
        workers = self.celery.names if self.celery else ()

        def all_ready() -> bool:
            self.check_alive()
            return all(" ready." in log_tail(self.log_path(name), 200) for name in workers)

        def give_up(_: Any) -> None:
            tails = "\n".join(f"--- {name}:\n{log_tail(self.log_path(name), 10)}" for name in workers)
            raise StackStartError(
                f"the Celery workers did not report ready within {self.startup_timeout:.0f} s\n{tails}"
            )

        Retrying(
            retry=retry_if_result(lambda ready: not ready),
            stop=stop_after_delay(self.startup_timeout),
            wait=wait_fixed(0.5),
            retry_error_callback=give_up,
        )(all_ready)

    def _warm_execution_api(self) -> None:
        # The Execution API app is built on its first request, which takes ~7 s on 2 CPUs: longer than the
        # task client's 5 s timeout, so the first task of a fresh stack would time out, retry and get a 409/400.
        try:
            with urllib.request.urlopen(f"{self.api_url}/execution/health", timeout=self.startup_timeout):
                pass
        except (urllib.error.URLError, OSError) as exc:
            raise StackStartError(
                f"the Execution API at {self.api_url}/execution/ does not answer ({exc}); "
                f"see {self.log_path('api-server')}:\n{log_tail(self.log_path('api-server'))}"
            ) from exc

    def _read_health(self) -> dict[str, Any] | str:
        try:
            with urllib.request.urlopen(f"{self.api_url}/api/v2/monitor/health", timeout=5) as response:
                health: dict[str, Any] = json.load(response)
                return health
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"

    def _remember_descendants(self) -> None:
        self._processes.remember_descendants(
            component.process.pid
            for component in self._components.values()
            if component.process is not None and component.exit_code() is None
        )

    def _install_sigterm_handler(self) -> None:
        # Without this, SIGTERM would end us without running __exit__ and leave the components running.
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_system_exit)

    def _restore_sigterm_handler(self) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None


def _raise_system_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _died_message(component: _Component, code: int) -> str:
    return (
        f"Airflow {component.name} exited with code {code} (log: {component.log_path}); last lines:\n"
        f"{log_tail(component.log_path)}"
    )
