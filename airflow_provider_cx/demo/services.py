"""Backing services on loopback ports, for tests and a local distributed stack: Cloud Storage, Redis, PostgreSQL.

Each is a process of its own (its own session, so it is stopped by process id and group, never by
name), listening on a free port of 127.0.0.1, with its data in a folder the caller owns:

- :class:`StorageEmulator`: ``gcp-storage-emulator`` (PyPI, the ``test`` extra), a Cloud Storage JSON
  API endpoint. Clients reach it through ``STORAGE_EMULATOR_HOST`` (:attr:`StorageEmulator.env`).
- :class:`RedisServer`: ``redis-server`` from the OS packages, no persistence: the Celery broker.
- :class:`PostgresServer`: ``initdb`` + ``postgres`` from the OS packages, trust authentication on
  loopback only: Airflow's metadata database (CeleryExecutor needs one that many processes can share).
  PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` user the package creates.

``scripts/services.sh`` installs Redis and PostgreSQL when they are missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from airflow_provider_cx.demo.processes import shut_down
from airflow_provider_cx.demo.stack import free_port, log_tail

POSTGRES_BIN_DIRS = tuple(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))


class ServiceError(RuntimeError):
    """A backing service is missing or did not come up."""


class _ServiceProcess:
    """One service process: started in a session of its own, ready when ``_ready()`` says so, stopped by pid."""

    name = "service"

    def __init__(self, data_dir: str | os.PathLike[str], startup_timeout: float = 30.0) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.startup_timeout = startup_timeout
        self.port = 0
        self.log_path = self.data_dir.parent / f"{self.name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ServiceError(f"{self.name} is not running")
        return self._process.pid

    def start(self) -> Any:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        try:
            self._prepare()
            self._log = self.log_path.open("ab")
            self._process = subprocess.Popen(
                self._argv(),
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                **self._popen_options(),
            )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._process is not None:
            shut_down([self._process], grace=5.0)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # -- for subclasses -------------------------------------------------------------------------------
    def _prepare(self) -> None:
        """Work before the process starts (e.g. initdb)."""

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _popen_options(self) -> dict[str, Any]:
        return {}

    def _ready(self) -> bool:
        return _accepts_connections(self.port)

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with code {self._process.returncode}; last lines of {self.log_path}:\n"
                    f"{log_tail(self.log_path)}"
                )
            if self._ready():
                return
            time.sleep(0.2)
        raise ServiceError(
            f"{self.name} did not answer on 127.0.0.1:{self.port} within {self.startup_timeout:.0f} s; "
            f"last lines of {self.log_path}:\n{log_tail(self.log_path)}"
        )


class StorageEmulator(_ServiceProcess):
    """``with StorageEmulator(folder, buckets=["b"]) as gcs: gcs.env`` -> ``{"STORAGE_EMULATOR_HOST": ...}``."""

    name = "storage-emulator"

    def __init__(
        self, data_dir: str | os.PathLike[str], buckets: Sequence[str] = (), startup_timeout: float = 30.0
    ) -> None:
        super().__init__(data_dir, startup_timeout)
        self.buckets = tuple(buckets)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What a client process needs to use this emulator (google-cloud-storage, gcsfs, the CX emulator)."""
        return {"STORAGE_EMULATOR_HOST": self.endpoint}

    def start(self) -> StorageEmulator:
        super().start()
        for bucket in self.buckets:
            self.create_bucket(bucket)
        return self

    def create_bucket(self, name: str) -> None:
        request = urllib.request.Request(
            f"{self.endpoint}/storage/v1/b?project=cx-local",
            data=f'{{"name": "{name}"}}'.encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def _argv(self) -> list[str]:
        executable = shutil.which("gcp-storage-emulator", path=str(Path(sys.executable).parent)) or shutil.which(
            "gcp-storage-emulator"
        )
        if executable is None:
            raise ServiceError("gcp-storage-emulator is not installed: pip install 'airflow-provider-cx[test]'")
        return [executable, "--data-dir", str(self.data_dir), "start", "--host", "127.0.0.1", "--port", str(self.port)]

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/storage/v1/b?project=cx-local", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            return False


class RedisServer(_ServiceProcess):
    """``with RedisServer(folder) as redis: redis.url`` (``redis://127.0.0.1:<port>/0``), no persistence."""

    name = "redis"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _argv(self) -> list[str]:
        executable = _require("redis-server", "redis-server")
        return [
            executable,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip

    def _ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class PostgresServer(_ServiceProcess):
    """``with PostgresServer(folder) as pg: pg.sqlalchemy_url``: a fresh cluster, user ``airflow``, loopback trust.

    As root the cluster lives in a folder of its own in the system temp dir, owned by ``postgres``
    (which cannot enter the caller's private temp folders), and is removed at stop.
    """

    name = "postgres"
    user = "airflow"
    _own_dir = False

    def stop(self) -> None:
        super().stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self._own_dir = False

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/postgres"

    def _prepare(self) -> None:
        initdb = _postgres_binary("initdb")
        if os.geteuid() == 0:
            self.data_dir = Path(tempfile.mkdtemp(prefix="cx-postgres-"))
            self._own_dir = True
            shutil.chown(self.data_dir, "postgres", "postgres")
        self.data_dir.chmod(0o700)
        result = subprocess.run(
            [initdb, "-D", str(self.data_dir), "-U", self.user, "--auth=trust", "--no-sync", "-E", "UTF8"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **self._popen_options(),
        )
        if result.returncode != 0:
            raise ServiceError(f"initdb failed ({result.returncode}): {result.stderr[-2000:]}")

    def _argv(self) -> list[str]:
        return [
            _postgres_binary("postgres"),
            "-D", str(self.data_dir),
            "-h", "127.0.0.1",
            "-p", str(self.port),
            "-k", str(self.data_dir),  # the Unix socket stays in our folder, not /var/run/postgresql
            "-c", "fsync=off",  # a throwaway test database: durability is not worth the time
            "-c", "max_connections=200",  # every Airflow component and task process holds connections
        ]  # fmt: skip

    def _popen_options(self) -> dict[str, Any]:
        # PostgreSQL refuses to run as root; the OS package creates the postgres user for it.
        return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}

    def _ready(self) -> bool:
        try:
            import psycopg2
        except ImportError as error:
            raise ServiceError("psycopg2 is missing: pip install 'airflow-provider-cx[celery]'") from error
        try:
            psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres").close()
            return True
        except psycopg2.OperationalError:
            return False


def _require(program: str, package: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise ServiceError(f"{program} is not installed; run `source scripts/services.sh` (apt-get install {package})")
    return found


def _postgres_binary(program: str) -> str:
    for folder in POSTGRES_BIN_DIRS:
        if (folder / program).is_file():
            return str(folder / program)
    return _require(program, "postgresql")


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False
