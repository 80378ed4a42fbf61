"""The CX emulator as a separate process (``cx-emulator --data-dir ...``), for the demo and the e2e tests.

Airflow's task processes reach it over TCP exactly as they would reach Dialogflow CX, and it outlives
no one: leaving the ``with`` block stops it (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import IO

from airflow_provider_cx.demo.processes import shut_down

LISTENING = re.compile(r"cx-emulator listening on (\S+:\d+)")
#: Seconds to wait for "listening on": a second or two idle, longer on a loaded CI machine. An emulator
#: that exits ends the wait at once.
STARTUP_TIMEOUT = 120.0


class EmulatorStartError(RuntimeError):
    """The emulator process exited or did not report its address in time."""


def emulator_command() -> list[str]:
    """``cx-emulator`` from the running interpreter's environment, else ``python -m`` the same module."""
    script = Path(sys.executable).with_name("cx-emulator")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("cx-emulator")
    return [found] if found else [sys.executable, "-m", "airflow_provider_cx.emulator"]


class EmulatorProcess:
    """``with EmulatorProcess(data_dir) as emulator: emulator.address`` (``host:port``).

    :param data_dir: the emulator's ``--data-dir`` (state survives a restart of the process).
    :param operation_delay: seconds before a long-running operation finishes.
    :param log_path: where its stdout/stderr go (default ``<data_dir>/../emulator.log``).
    :param startup_timeout: seconds to wait for "listening on".
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        operation_delay: float = 1.0,
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.operation_delay = operation_delay
        self.log_path = Path(log_path) if log_path else self.data_dir.parent / "emulator.log"
        self.startup_timeout = startup_timeout
        self.address: str | None = None
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise EmulatorStartError("the emulator is not running")
        return self._process.pid

    def start(self) -> EmulatorProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            *emulator_command(),
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
            "--operation-delay",
            str(self.operation_delay),
        ]
        self._process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
        )
        self.address = self._read_address()
        return self

    def stop(self) -> None:
        if self._process is not None:
            shut_down([self._process], grace=5.0)  # type: ignore[list-item]
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def check_alive(self) -> None:
        if self._process is None or self._process.poll() is not None:
            raise EmulatorStartError(f"the emulator exited; see {self.log_path}")

    def _read_address(self) -> str:
        """Wait for the "listening on" line, then copy the rest of its output to the log file."""
        assert self._process is not None
        assert self._process.stdout is not None
        found: list[str] = []
        seen: list[str] = []
        ready = threading.Event()
        self._log = self.log_path.open("a", encoding="utf-8")

        def pump(stream: IO[str], log: IO[str]) -> None:
            for line in stream:
                log.write(line)
                log.flush()
                if not found:
                    seen.append(line)
                    match = LISTENING.search(line)
                    if match:
                        found.append(match.group(1))
                        ready.set()
            ready.set()  # the process ended

        threading.Thread(target=pump, args=(self._process.stdout, self._log), daemon=True).start()
        if not ready.wait(self.startup_timeout) or not found:
            self.stop()
            raise EmulatorStartError(
                f"cx-emulator did not report its address within {self.startup_timeout:.0f} s; "
                f"output: {''.join(seen)[-2000:] or 'none'}"
            )
        return found[0]

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorProcess(address={self.address!r}, data_dir={str(self.data_dir)!r})"
