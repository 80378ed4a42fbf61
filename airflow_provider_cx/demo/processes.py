"""Process bookkeeping for the local stack: find every process it started and end them, orphans included.

A process group kill is not enough: Airflow's task supervisor moves each task into a process group of its
own, and some components rewrite their environment and command line (setproctitle). So a process belongs
to the stack if it was ever seen as a descendant of a component, or carries the stack's marker variable
in its environment, or was started after the stack with the stack's private working directory as cwd.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import psutil


class ProcessTracker:
    """Remembers the processes of one stack so that none outlives it.

    :param marker_env: name of the environment variable that marks the stack's processes.
    :param marker_value: its value for this stack.
    :param workdir: the components' working directory (used by nothing else).
    """

    def __init__(self, marker_env: str, marker_value: str, workdir: Path) -> None:
        self.marker_env = marker_env
        self.marker_value = marker_value
        self.workdir = str(workdir)
        self._seen: dict[int, psutil.Process] = {}
        self._started_at = float("inf")

    def begin(self) -> None:
        """Mark the stack's start: only processes created after it can be claimed by their cwd."""
        self._started_at = time.time() - 1.0  # create_time has clock-tick resolution

    def remember_descendants(self, root_pids: Iterable[int]) -> None:
        """Record the given processes and all their descendants alive right now."""
        self._seen = {pid: proc for pid, proc in self._seen.items() if proc.is_running()}
        for pid in root_pids:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                for proc in [root, *root.children(recursive=True)]:
                    self._seen.setdefault(proc.pid, proc)

    def alive(self, *, outside_groups: Collection[int] | None = None) -> list[psutil.Process]:
        """Live processes of the stack (never this process or its ancestors).

        :param outside_groups: if given, only processes whose process group is none of these.
        """
        found = {pid: proc for pid, proc in self._seen.items() if proc.is_running()}
        for proc in psutil.process_iter(["environ", "cwd", "create_time"], ad_value=None):
            if self._is_marked(proc.info) or self._started_here(proc.info):
                found.setdefault(proc.pid, proc)
        for ancestor in [psutil.Process(), *psutil.Process().parents()]:
            found.pop(ancestor.pid, None)
        if outside_groups is None:
            return list(found.values())
        return [proc for proc in found.values() if _process_group(proc.pid) not in {*outside_groups, None}]

    def _is_marked(self, info: dict[str, Any]) -> bool:
        return (info.get("environ") or {}).get(self.marker_env) == self.marker_value

    def _started_here(self, info: dict[str, Any]) -> bool:
        return info.get("cwd") == self.workdir and (info.get("create_time") or 0) >= self._started_at


def _process_group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Signal the process group led by ``process`` (it outlives its leader while members remain)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def shut_down(processes: list[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM each group, a second SIGTERM after ``grace`` s (Airflow: "stop waiting"), then SIGKILL."""
    for _attempt in range(2):
        running = [process for process in processes if process.poll() is None]
        for process in running:
            signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            _wait(process, deadline)
    for process in processes:
        signal_group(process, signal.SIGKILL)  # whatever is left in the group, leader gone or not
        _wait(process, time.monotonic() + grace)


def terminate(processes: list[psutil.Process], grace: float) -> None:
    """SIGTERM the processes, SIGKILL those still alive after ``grace`` seconds."""
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(processes, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace)


def _wait(process: subprocess.Popen[bytes], deadline: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
